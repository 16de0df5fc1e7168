package evidencelog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var ctx = context.Background()

const testName = "provost.evidence/test"

// openLog opens a log in a new directory, closed when the test ends.
func openLog(t testing.TB, opts Options) (*Log, string) {
	t.Helper()
	dir := t.TempDir()
	if opts.Name == "" {
		opts.Name = testName
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = -1 // sign on demand, unless the test sets an interval
	}
	l, err := Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// record is the i'th test record.
func record(i int64) []byte {
	return append(strconv.AppendInt([]byte(`{"test":`), i, 10), '}')
}

// appendN appends records from..to-1 in async mode batches and flushes.
func appendN(t testing.TB, l *Log, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := l.Append(ctx, record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// writeKey puts a private key derived from seed in dir, so the log's
// checkpoints are reproducible; it returns the verifier key.
func writeKey(t testing.TB, dir, name, seed string) string {
	t.Helper()
	s := sha256.Sum256([]byte(seed))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(s[:]), name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, keyFile), []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return vkey
}

// refRoot is the RFC 6962 Merkle tree hash of leaves, straight from the
// RFC's recursive definition (section 2.1), for small trees.
func refRoot(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func toBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// checkInclusion checks an inclusion proof with both transparency-dev/merkle
// (an independent implementation) and tlog.
func checkInclusion(t testing.TB, p []tlog.Hash, index, size int64, leaf, root tlog.Hash) {
	t.Helper()
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), leaf[:], toBytes(p), root[:]); err != nil {
		t.Fatalf("merkle: inclusion of %d in %d: %v", index, size, err)
	}
	if err := tlog.CheckRecord(p, size, root, index, leaf); err != nil {
		t.Fatalf("tlog: inclusion of %d in %d: %v", index, size, err)
	}
}

// checkConsistencyProof checks a consistency proof with both libraries.
func checkConsistencyProof(t testing.TB, p []tlog.Hash, old, new int64, oldRoot, newRoot tlog.Hash) {
	t.Helper()
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(new), toBytes(p), oldRoot[:], newRoot[:]); err != nil {
		t.Fatalf("merkle: consistency %d -> %d: %v", old, new, err)
	}
	if old == 0 {
		return // tlog has no proofs from the empty tree
	}
	if err := tlog.CheckTree(p, new, newRoot, old, oldRoot); err != nil {
		t.Fatalf("tlog: consistency %d -> %d: %v", old, new, err)
	}
}

// wantProblem fails unless err is an *Error wrapping want at index.
func wantProblem(t testing.TB, err, want error, index int64) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v is not an *Error", err)
	}
	if e.Index != index {
		t.Fatalf("err %v names index %d, want %d", err, e.Index, index)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// alterSignature changes a base64 character in the middle of a signed
// note's last signature (not one that only holds padding bits).
func alterSignature(signed []byte) {
	i := len(signed) - 10
	if signed[i] == 'A' {
		signed[i] = 'B'
	} else {
		signed[i] = 'A'
	}
}
