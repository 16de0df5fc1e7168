package evidencetest

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
)

func testEmptyLog(t *testing.T, open func(*testing.T, string) Log) {
	dir := t.TempDir()
	l := open(t, dir)
	if n := l.Size(); n != 0 {
		t.Fatalf("new log: Size = %d", n)
	}
	if recs, err := l.Entries(ctx, 0, 10); err != nil || len(recs) != 0 {
		t.Fatalf("new log: Entries(0, 10) = %d records, %v", len(recs), err)
	}
	c := checkpoint(t, l)
	if c.Size != 0 || c.Root != refRoot(t, nil) {
		t.Fatalf("new log: checkpoint size %d root %s, want 0 and SHA-256(\"\") %s", c.Size, c.Root, refRoot(t, nil))
	}
	if _, err := l.InclusionProof(ctx, 0, 0); !errors.Is(err, evidencelog.ErrOutOfRange) {
		t.Fatalf("InclusionProof(0, 0) in an empty log: %v, want ErrOutOfRange", err)
	}
	key := l.VerifierKey()
	closeLog(t, l)

	l = open(t, dir)
	if l.VerifierKey() != key {
		t.Fatalf("verifier key changed on reopen: %s, was %s", l.VerifierKey(), key)
	}
	if n := l.Size(); n != 0 {
		t.Fatalf("reopened empty log: Size = %d", n)
	}
	if e := mustAppend(t, l, []byte("first")); e.Index != 0 {
		t.Fatalf("first record in a reopened empty log got index %d", e.Index)
	}
	mustFlush(t, l)
	wantRecords(t, l, [][]byte{[]byte("first")})
}

func testSequentialIndexes(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	const n = 40
	var want [][]byte
	for i := range n {
		rec := record("seq", i)
		if e := mustAppend(t, l, rec); e.Index != int64(i) {
			t.Fatalf("record %d got index %d", i, e.Index)
		}
		want = append(want, rec)
	}
	mustFlush(t, l)
	wantRecords(t, l, want)
	// Entries reads any range, not only from 0.
	for _, r := range [][2]int64{{0, 1}, {7, 8}, {13, 29}, {39, 40}, {20, 20}} {
		got := readAll(t, l, r[0], r[1])
		if len(got) != int(r[1]-r[0]) {
			t.Fatalf("Entries(%d, %d) = %d records", r[0], r[1], len(got))
		}
		for i, rec := range got {
			if !bytes.Equal(rec, want[r[0]+int64(i)]) {
				t.Fatalf("Entries(%d, %d)[%d] = %q, want %q", r[0], r[1], i, rec, want[r[0]+int64(i)])
			}
		}
	}
}

func testRecordsExact(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	records := [][]byte{
		nil,
		{},
		{0},
		{0, 0, 0},
		{0xff},
		all,
		[]byte("\xc3\x28 not UTF-8 \xa0\xa1"),
		[]byte("line\r\nline\n\x00tail"),
		[]byte(`{"decision":"deny","reasons":["origin_unapproved"]}`),
		[]byte("'; DROP TABLE evidence_leaf; --"),
		[]byte("\\x00 \\ % _ ?"),
		big,
		{0},
	}
	for i, rec := range records {
		if e := mustAppend(t, l, rec); e.Index != int64(i) {
			t.Fatalf("record %d got index %d", i, e.Index)
		}
	}
	mustFlush(t, l)
	wantRecords(t, l, records)
	// One at a time as well as in one range.
	for i, rec := range records {
		got, err := l.Entries(ctx, int64(i), int64(i)+1)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], rec) {
			t.Fatalf("Entries(%d, %d) = %q, %v; want %q", i, i+1, got, err, clip(rec))
		}
	}
	c := checkpoint(t, l)
	for i, rec := range records {
		wantInclusion(t, l, int64(i), c.Size, leafHash(rec), c.Root)
	}
}

func testAppendCopiesRecord(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	buf := make([]byte, 64)
	var want [][]byte
	for i := range 20 {
		rec := buf[:copy(buf, record("copy", i))]
		want = append(want, bytes.Clone(rec))
		mustAppend(t, l, rec)
		// The caller reuses its buffer as soon as Append returns.
		for j := range buf {
			buf[j] = 'X'
		}
	}
	mustFlush(t, l)
	wantRecords(t, l, want)
}

func testOutOfRange(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	const n = 5
	for i := range n {
		mustAppend(t, l, record("range", i))
	}
	mustFlush(t, l)
	for _, q := range [][2]int64{{n, n}, {-1, n}, {0, n + 1}, {3, 2}, {0, 0}, {n + 10, n + 11}} {
		if _, err := l.InclusionProof(ctx, q[0], q[1]); !errors.Is(err, evidencelog.ErrOutOfRange) {
			t.Errorf("InclusionProof(%d, %d): %v, want ErrOutOfRange", q[0], q[1], err)
		}
	}
	for _, q := range [][2]int64{{3, 2}, {-1, n}, {0, n + 1}, {n, n + 1}} {
		if _, err := l.ConsistencyProof(ctx, q[0], q[1]); !errors.Is(err, evidencelog.ErrOutOfRange) {
			t.Errorf("ConsistencyProof(%d, %d): %v, want ErrOutOfRange", q[0], q[1], err)
		}
	}
	for _, q := range [][2]int64{{-1, 2}, {3, 2}} {
		if _, err := l.Entries(ctx, q[0], q[1]); !errors.Is(err, evidencelog.ErrOutOfRange) {
			t.Errorf("Entries(%d, %d): %v, want ErrOutOfRange", q[0], q[1], err)
		}
	}
	// Ranges running past the end are cut at the end.
	if recs, err := l.Entries(ctx, 3, 100); err != nil || len(recs) != 2 || !bytes.Equal(recs[1], record("range", 4)) {
		t.Errorf("Entries(3, 100) = %q, %v; want records 3 and 4", recs, err)
	}
	if recs, err := l.Entries(ctx, n, n+5); err != nil || len(recs) != 0 {
		t.Errorf("Entries(%d, %d) = %d records, %v; want none", n, n+5, len(recs), err)
	}
	if recs, err := l.Entries(ctx, 2, 2); err != nil || len(recs) != 0 {
		t.Errorf("Entries(2, 2) = %d records, %v; want none", len(recs), err)
	}
}

// testReadYourWrites checks that a durable log has the record committed,
// readable and provable when Append returns, and that any log has it so
// once Flush returns.
func testReadYourWrites(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	for i := range 10 {
		rec := record("ryw", i)
		e := mustAppend(t, l, rec)
		if !l.Durable() {
			mustFlush(t, l)
		}
		if n := l.Size(); n != e.Index+1 {
			t.Fatalf("Size = %d once record %d is committed, want %d (durable %v)", n, e.Index, e.Index+1, l.Durable())
		}
		got, err := l.Entries(ctx, e.Index, e.Index+1)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], rec) {
			t.Fatalf("Entries(%d) once committed = %q, %v; want %q (durable %v)", e.Index, got, err, rec, l.Durable())
		}
		signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if c.Size != e.Index+1 {
			t.Fatalf("checkpoint size %d once record %d is committed", c.Size, e.Index)
		}
		wantInclusion(t, l, e.Index, c.Size, leafHash(rec), c.Root)
	}
}

func testConcurrentAppends(t *testing.T, open func(*testing.T, string) Log) {
	l := open(t, t.TempDir())
	const writers, each = 32, 12
	entries := make([][]evidencelog.Entry, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range each {
				rec := record("w"+strconv.Itoa(w), i)
				e, err := l.Append(ctx, rec)
				if err != nil {
					t.Errorf("writer %d: Append: %v", w, err)
					return
				}
				if e.LeafHash != leafHash(rec) {
					t.Errorf("writer %d record %d: leaf hash %s, want %s", w, i, e.LeafHash, leafHash(rec))
					return
				}
				if l.Durable() {
					got, err := l.Entries(ctx, e.Index, e.Index+1)
					if err != nil || len(got) != 1 || !bytes.Equal(got[0], rec) {
						t.Errorf("writer %d: durable record %d read right after Append: %q, %v", w, e.Index, got, err)
						return
					}
				}
				entries[w] = append(entries[w], e)
			}
		})
	}
	// A reader takes checkpoints while the writers append: each verifies,
	// none is smaller than the one before, and each is consistent with it.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var checkpoints atomic.Int64
	readers.Go(func() {
		var prev evidencelog.Checkpoint
		for {
			select {
			case <-stop:
				return
			default:
			}
			signed, err := l.Checkpoint(ctx)
			if err != nil {
				t.Errorf("Checkpoint during appends: %v", err)
				return
			}
			c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
			if err != nil {
				t.Errorf("checkpoint during appends does not verify: %v", err)
				return
			}
			if c.Size < prev.Size {
				t.Errorf("checkpoint size went back from %d to %d", prev.Size, c.Size)
				return
			}
			p, err := l.ConsistencyProof(ctx, prev.Size, c.Size)
			if err != nil {
				t.Errorf("ConsistencyProof(%d, %d) during appends: %v", prev.Size, c.Size, err)
				return
			}
			if prev.Size > 0 {
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(prev.Size), uint64(c.Size), hashes(p), prev.Root[:], c.Root[:]); err != nil {
					t.Errorf("checkpoints of size %d and %d are not consistent: %v", prev.Size, c.Size, err)
					return
				}
			}
			prev = c
			checkpoints.Add(1)
		}
	})
	close(start)
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d checkpoints taken during %d appends", checkpoints.Load(), writers*each)

	byIndex := map[int64][]byte{}
	for w := range writers {
		if len(entries[w]) != each {
			t.Fatalf("writer %d: %d entries, want %d", w, len(entries[w]), each)
		}
		for i, e := range entries[w] {
			if i > 0 && e.Index <= entries[w][i-1].Index {
				t.Fatalf("writer %d: record %d got index %d after index %d: not in append order", w, i, e.Index, entries[w][i-1].Index)
			}
			if _, dup := byIndex[e.Index]; dup {
				t.Fatalf("index %d given twice", e.Index)
			}
			byIndex[e.Index] = record("w"+strconv.Itoa(w), i)
		}
	}
	const n = writers * each
	want := make([][]byte, n)
	for i := range int64(n) {
		rec, ok := byIndex[i]
		if !ok {
			t.Fatalf("no Append got index %d: indexes are not dense", i)
		}
		want[i] = rec
	}
	mustFlush(t, l)
	wantRecords(t, l, want)
	c := checkpoint(t, l)
	leaves := make([]tlog.Hash, n)
	for i := range want {
		leaves[i] = leafHash(want[i])
	}
	if c.Size != n || c.Root != refRoot(t, leaves) {
		t.Fatalf("checkpoint size %d root %s, want %d and %s", c.Size, c.Root, n, refRoot(t, leaves))
	}
	for i := range int64(n) {
		wantInclusion(t, l, i, n, leaves[i], c.Root)
	}
}
