// Package evidencetest is the conformance suite every evidence log backend
// must pass: the SQLite log of package evidencelog today, a PostgreSQL log
// later. A backend's test calls Run with a function that opens a log:
//
//	func TestConformance(t *testing.T) {
//		evidencetest.Run(t, func(t *testing.T, dir string) evidencetest.Log {
//			l, err := evidencelog.Open(ctx, dir, evidencelog.Options{})
//			...
//		})
//	}
//
// The open function's contract:
//   - dir is a directory the backend may keep its files in (its signing key,
//     its database). Called with a dir it has not seen, open returns an empty
//     log. A backend that keeps its records on a server keys them by dir.
//   - Called again with the same dir, open returns the same log, with every
//     record appended before (the reopen tests). Before that second call the
//     suite closes the first log.
//   - The open function registers its own cleanup with t.Cleanup; Close may
//     then be called twice.
//
// The contract checked is what the engine and the log's readers rely on:
// Append returns the record's index and its RFC 6962 leaf hash,
// SHA-256(0x00 || record); indexes are dense from 0, in append order for
// one writer and distinct across concurrent writers; every record reads
// back byte for byte at its index; the signed checkpoint after N records
// (a C2SP tlog-checkpoint, verified with the log's verifier key) has the
// RFC 6962 root of those N records, proves each of them included and every
// earlier tree consistent; a durable log makes a record readable before
// Append returns, an asynchronous one once Flush returns; Close commits
// what was accepted, and reopening finds it all; Append after Close fails
// with evidencelog.ErrClosed; indexes and sizes outside the log fail with
// evidencelog.ErrOutOfRange.
//
// Roots are computed independently, with transparency-dev/merkle, and
// checked against the RFC 6962 test vectors (the leaves and roots of the
// reference trees in transparency-dev/merkle's testonly package).
package evidencetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// Log is what the suite needs of an evidence log backend. *evidencelog.Log
// implements it.
type Log interface {
	// Append adds record and returns its index and leaf hash.
	Append(ctx context.Context, record []byte) (evidencelog.Entry, error)
	// Flush waits until every record appended before it is committed.
	Flush(ctx context.Context) error
	// Durable reports whether Append returns only once its record is committed.
	Durable() bool
	// Size is the number of committed records.
	Size() int64
	// Entries returns the committed records with indexes in [start, end),
	// possibly fewer than asked, none past Size.
	Entries(ctx context.Context, start, end int64) ([][]byte, error)
	// Checkpoint returns a signed checkpoint of the committed records.
	Checkpoint(ctx context.Context) ([]byte, error)
	// VerifierKey is the note verifier key that checks the checkpoints.
	VerifierKey() string
	// InclusionProof proves record index is in the tree of the given size.
	InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error)
	// ConsistencyProof proves the tree of size old is a prefix of the tree of size new.
	ConsistencyProof(ctx context.Context, old, new int64) ([]tlog.Hash, error)
	// Close commits what was accepted and releases the log.
	Close() error
}

var _ Log = (*evidencelog.Log)(nil)

// Run runs the conformance suite against the logs open returns.
func Run(t *testing.T, open func(t *testing.T, dir string) Log) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T, string) Log)
	}{
		{"EmptyLog", testEmptyLog},
		{"SequentialIndexes", testSequentialIndexes},
		{"RecordsExact", testRecordsExact},
		{"AppendCopiesRecord", testAppendCopiesRecord},
		{"RFC6962Vectors", testRFC6962Vectors},
		{"InclusionProofs", testInclusionProofs},
		{"ConsistencyProofs", testConsistencyProofs},
		{"OutOfRange", testOutOfRange},
		{"ReadYourWrites", testReadYourWrites},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ReopenPersists", testReopenPersists},
		{"AppendAfterClose", testAppendAfterClose},
		{"CloseWhileAppending", testCloseWhileAppending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ctx = context.Background()

// leafHash is the RFC 6962 leaf hash, computed here, not by the backend.
func leafHash(record []byte) tlog.Hash {
	return sha256.Sum256(append([]byte{0}, record...))
}

// refRoot is the RFC 6962 root of leaves, from transparency-dev/merkle.
func refRoot(t *testing.T, leaves []tlog.Hash) tlog.Hash {
	t.Helper()
	if len(leaves) == 0 {
		return tlog.Hash(rfc6962.DefaultHasher.EmptyRoot())
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, h := range leaves {
		if err := r.Append(h[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Hash(root)
}

func hashes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// record is the i'th test record of a test: text, then up to 6 bytes that
// are not UTF-8 and not printable, so no backend can get away with text.
func record(tag string, i int) []byte {
	b := fmt.Appendf(nil, `{"test":%q,"n":%d}`, tag, i)
	return append(b, []byte{0x00, 0xff, '\n', 0x80, '\'', 0xc3}[:i%7]...)
}

func mustAppend(t *testing.T, l Log, rec []byte) evidencelog.Entry {
	t.Helper()
	e, err := l.Append(ctx, rec)
	if err != nil {
		t.Fatalf("Append(%q): %v", clip(rec), err)
	}
	if want := leafHash(rec); e.LeafHash != want {
		t.Fatalf("Append(%q): leaf hash %s, want SHA-256(0x00 || record) = %s", clip(rec), e.LeafHash, want)
	}
	return e
}

func mustFlush(t *testing.T, l Log) {
	t.Helper()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func clip(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

// readAll reads records [start, end), however many calls that takes.
func readAll(t *testing.T, l Log, start, end int64) [][]byte {
	t.Helper()
	var out [][]byte
	for i := start; i < end; {
		recs, err := l.Entries(ctx, i, end)
		if err != nil {
			t.Fatalf("Entries(%d, %d): %v", i, end, err)
		}
		if len(recs) == 0 || int64(len(recs)) > end-i {
			t.Fatalf("Entries(%d, %d) returned %d records (log size %d)", i, end, len(recs), l.Size())
		}
		out = append(out, recs...)
		i += int64(len(recs))
	}
	return out
}

// wantRecords checks that the log holds exactly want, in order.
func wantRecords(t *testing.T, l Log, want [][]byte) {
	t.Helper()
	if n := l.Size(); n != int64(len(want)) {
		t.Fatalf("Size = %d, want %d", n, len(want))
	}
	got := readAll(t, l, 0, int64(len(want)))
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d reads back as %q, want %q", i, clip(got[i]), clip(want[i]))
		}
	}
	if extra, err := l.Entries(ctx, int64(len(want)), int64(len(want))+10); err != nil || len(extra) != 0 {
		t.Fatalf("Entries past the end = %d records, %v; want none", len(extra), err)
	}
}

// checkpoint flushes the log and returns its verified checkpoint.
func checkpoint(t *testing.T, l Log) evidencelog.Checkpoint {
	t.Helper()
	mustFlush(t, l)
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		t.Fatalf("checkpoint does not verify with the log's verifier key: %v\n%s", err, signed)
	}
	return c
}

// wantInclusion checks that record index, with leaf hash leaf, is in the
// tree of size with root.
func wantInclusion(t *testing.T, l Log, index, size int64, leaf, root tlog.Hash) {
	t.Helper()
	p, err := l.InclusionProof(ctx, index, size)
	if err != nil {
		t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), leaf[:], hashes(p), root[:]); err != nil {
		t.Fatalf("inclusion proof of record %d in tree of size %d: %v", index, size, err)
	}
}

func wantConsistency(t *testing.T, l Log, old, new int64, oldRoot, newRoot tlog.Hash) {
	t.Helper()
	p, err := l.ConsistencyProof(ctx, old, new)
	if err != nil {
		t.Fatalf("ConsistencyProof(%d, %d): %v", old, new, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(new), hashes(p), oldRoot[:], newRoot[:]); err != nil {
		t.Fatalf("consistency proof of size %d with size %d: %v", old, new, err)
	}
}

func closeLog(t *testing.T, l Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
