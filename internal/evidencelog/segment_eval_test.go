package evidencelog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// segmentStore is the prototype the choice of SQLite in docs/evidence.md
// ("Write path and its speed") was measured against, not a store Provost
// uses: an append-only segment file, the kind of storage tessera's POSIX
// driver uses (records and tree hashes in files written once, in order),
// reduced to what appending needs. Each batch is one frame appended with
// one write: the first index and the record count, each record with its
// length, then the tree hashes the batch adds; sync is one fsync of the
// file. An index of the frames' offsets would be rebuilt by scanning at
// open. It runs behind the same writer as the SQLite store (Append,
// group commit, the background syncer), so the two differ only in where
// a batch goes.
type segmentStore struct {
	f   *os.File
	buf []byte
	hs  []tlog.Hash
}

func (s *segmentStore) write(_ context.Context, f *frontier, batch []pending) (tlog.Hash, error) {
	next := *f
	hs, root, err := treeHashes(&next, batch, s.hs[:0])
	s.hs = hs
	if err != nil {
		return tlog.Hash{}, err
	}
	buf := binary.BigEndian.AppendUint64(s.buf[:0], uint64(batch[0].index))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(batch)))
	for _, p := range batch {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(p.record)))
		buf = append(buf, p.record...)
	}
	for _, h := range hs {
		buf = append(buf, h[:]...)
	}
	s.buf = buf
	if _, err := s.f.Write(buf); err != nil {
		return tlog.Hash{}, err
	}
	*f = next
	return root, nil
}

func (s *segmentStore) sync() error { return s.f.Sync() }
func (s *segmentStore) close()      { s.f.Close() }

// openSegmentLog starts a Log that writes into a segmentStore; it has no
// database, so only Append, Flush and Stats work.
func openSegmentLog(b *testing.B, async bool) *Log {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "segment"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	return startLog(b, Options{Async: async}, &segmentStore{f: f})
}

func BenchmarkSegmentAppendDurable(b *testing.B) { benchSegment(b, false) }
func BenchmarkSegmentAppendAsync(b *testing.B)   { benchSegment(b, true) }

// benchSegment is benchAppend on the segment prototype.
func benchSegment(b *testing.B, async bool) {
	rec := bytes.Repeat([]byte("e"), 1024)
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l := openSegmentLog(b, async)
			runAppends(b, l, writers, rec)
		})
	}
}
