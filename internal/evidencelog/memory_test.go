package evidencelog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/evidencelog/evidencetest"
)

var _ evidencetest.Log = (*evidencelog.Memory)(nil)

// TestMemoryConformance runs the conformance suite against Memory. The
// suite's directory names the log: opening the same directory again
// reopens the log kept for it.
func TestMemoryConformance(t *testing.T) {
	var mu sync.Mutex
	logs := map[string]*evidencelog.Memory{}
	evidencetest.Run(t, func(t *testing.T, dir string) evidencetest.Log {
		mu.Lock()
		defer mu.Unlock()
		l, ok := logs[dir]
		if ok {
			l = l.Reopen()
		} else {
			l = evidencelog.NewMemory()
		}
		logs[dir] = l
		t.Cleanup(func() { l.Close() })
		return l
	})
}

func TestMemoryAppend(t *testing.T) {
	ctx := context.Background()
	exact := bytes.Repeat([]byte{'x'}, evidencelog.DefaultMaxRecordSize)
	tests := []struct {
		name   string
		record []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"zero byte", []byte{0}},
		{"json", []byte(`{"decision":"deny"}`)},
		{"not UTF-8", []byte("\xff\xfe\x00")},
		{"largest allowed", exact},
	}
	l := evidencelog.NewMemory()
	for i, tt := range tests {
		e, err := l.Append(ctx, tt.record)
		if err != nil {
			t.Fatalf("%s: Append: %v", tt.name, err)
		}
		if e.Index != int64(i) {
			t.Errorf("%s: Index = %d, want %d", tt.name, e.Index, i)
		}
		if want := tlog.Hash(sha256.Sum256(append([]byte{0}, tt.record...))); e.LeafHash != want {
			t.Errorf("%s: LeafHash = %s, want SHA-256(0x00 || record) %s", tt.name, e.LeafHash, want)
		}
	}
	_, err := l.Append(ctx, append(exact, 'y'))
	var perr *evidencelog.Error
	if !errors.Is(err, evidencelog.ErrRecordTooLarge) || !errors.As(err, &perr) {
		t.Fatalf("Append of DefaultMaxRecordSize+1 bytes: %v, want an *Error wrapping ErrRecordTooLarge", err)
	}
	if n := l.Size(); n != int64(len(tests)) {
		t.Fatalf("Size after a refused record = %d, want %d", n, len(tests))
	}
	if e, err := l.Append(ctx, []byte("after")); err != nil || e.Index != int64(len(tests)) {
		t.Fatalf("Append after a refused record = %+v, %v; want index %d", e, err, len(tests))
	}
}

func TestMemoryConcurrentAppendsDistinct(t *testing.T) {
	ctx := context.Background()
	l := evidencelog.NewMemory()
	const writers, each = 16, 50
	got := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e, err := l.Append(ctx, fmt.Appendf(nil, "w%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], e.Index)
			}
		})
	}
	wg.Wait()
	var all []int64
	for w := range writers {
		if !slices.IsSorted(got[w]) {
			t.Fatalf("writer %d got indexes out of its append order: %v", w, got[w])
		}
		all = append(all, got[w]...)
	}
	slices.Sort(all)
	for i, x := range all {
		if x != int64(i) {
			t.Fatalf("indexes are not dense and distinct: sorted[%d] = %d", i, x)
		}
	}
}

func TestMemoryReadsAreCopies(t *testing.T) {
	ctx := context.Background()
	l := evidencelog.NewMemory()
	if _, err := l.Append(ctx, []byte("record")); err != nil {
		t.Fatal(err)
	}
	recs, _ := l.Entries(ctx, 0, 1)
	recs[0][0] = 'X'
	ck, _ := l.Checkpoint(ctx)
	ck[0] = 'X'
	if again, _ := l.Entries(ctx, 0, 1); string(again[0]) != "record" {
		t.Fatalf("the log changed through Entries' result: %q", again[0])
	}
	ck, _ = l.Checkpoint(ctx)
	if _, err := evidencelog.OpenCheckpoint(ck, l.VerifierKey()); err != nil {
		t.Fatalf("the checkpoint changed through Checkpoint's result: %v", err)
	}
}

func TestMemoryReopen(t *testing.T) {
	ctx := context.Background()
	a := evidencelog.NewMemory()
	if _, err := a.Append(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	b := a.Reopen()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, []byte("refused")); !errors.Is(err, evidencelog.ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if e, err := b.Append(ctx, []byte("two")); err != nil || e.Index != 1 {
		t.Fatalf("Append on the other handle = %+v, %v; want index 1", e, err)
	}
	if a.Size() != 2 || a.VerifierKey() != b.VerifierKey() || a.Name() != evidencelog.MemoryName {
		t.Fatalf("handles disagree: sizes %d %d, keys %s %s, name %s", a.Size(), b.Size(), a.VerifierKey(), b.VerifierKey(), a.Name())
	}
	if evidencelog.NewMemory().VerifierKey() == a.VerifierKey() {
		t.Fatal("two Memory logs share a key")
	}
}

// TestMemoryMatchesLog appends the same records to a Memory and to an
// SQLite Log and checks that they agree on every root and proof, and that
// a receipt made from Memory's answers verifies with VerifyReceipt.
func TestMemoryMatchesLog(t *testing.T) {
	ctx := context.Background()
	sq, err := evidencelog.Open(ctx, t.TempDir(), evidencelog.Options{Name: "provost.evidence/diff", CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	mem := evidencelog.NewMemory()
	root := func(l interface {
		Checkpoint(context.Context) ([]byte, error)
		VerifierKey() string
	}) evidencelog.Checkpoint {
		t.Helper()
		signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const n = 21
	for i := range n {
		rec := fmt.Appendf(nil, "record %d", i)
		es, err := sq.Append(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		em, err := mem.Append(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if es != em {
			t.Fatalf("record %d: SQLite entry %+v, Memory entry %+v", i, es, em)
		}
		if cs, cm := root(sq), root(mem); cs.Size != cm.Size || cs.Root != cm.Root {
			t.Fatalf("after %d records: SQLite checkpoint %d %s, Memory %d %s", i+1, cs.Size, cs.Root, cm.Size, cm.Root)
		}
	}
	for size := int64(1); size <= n; size++ {
		for i := range size {
			ps, err := sq.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			pm, err := mem.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ps, pm) {
				t.Fatalf("InclusionProof(%d, %d) differs", i, size)
			}
			cs, err := sq.ConsistencyProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			cm, err := mem.ConsistencyProof(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cs, cm) {
				t.Fatalf("ConsistencyProof(%d, %d) differs", i, size)
			}
		}
	}
	const index = 7
	signed, err := mem.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mem.InclusionProof(ctx, index, n)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := mem.Entries(ctx, index, index+1)
	if err != nil {
		t.Fatal(err)
	}
	r := evidencelog.Receipt{Record: recs[0], Index: index, Checkpoint: signed, Proof: p}
	if err := evidencelog.VerifyReceipt(r, mem.VerifierKey()); err != nil {
		t.Fatalf("receipt from Memory: %v", err)
	}
	r.Record = []byte("record 8")
	if err := evidencelog.VerifyReceipt(r, mem.VerifierKey()); err == nil {
		t.Fatal("receipt with another record verified")
	}
}
