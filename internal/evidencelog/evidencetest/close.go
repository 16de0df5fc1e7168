package evidencetest

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
)

func testReopenPersists(t *testing.T, open func(*testing.T, string) Log) {
	dir := t.TempDir()
	l := open(t, dir)
	key := l.VerifierKey()
	var want [][]byte
	for i := range 10 {
		want = append(want, record("reopen", i))
		mustAppend(t, l, want[i])
	}
	before := checkpoint(t, l)
	// Appended and not flushed: Close must commit them.
	for i := 10; i < 15; i++ {
		want = append(want, record("reopen", i))
		mustAppend(t, l, want[i])
	}
	closeLog(t, l)

	l = open(t, dir)
	if l.VerifierKey() != key {
		t.Fatalf("verifier key changed on reopen: %s, was %s", l.VerifierKey(), key)
	}
	wantRecords(t, l, want)
	after := checkpoint(t, l)
	leaves := make([]tlog.Hash, len(want))
	for i := range want {
		leaves[i] = leafHash(want[i])
	}
	if after.Size != int64(len(want)) || after.Root != refRoot(t, leaves) {
		t.Fatalf("checkpoint after reopen: size %d root %s, want %d and %s", after.Size, after.Root, len(want), refRoot(t, leaves))
	}
	wantConsistency(t, l, before.Size, after.Size, before.Root, after.Root)
	for i := range want {
		wantInclusion(t, l, int64(i), after.Size, leaves[i], after.Root)
	}
	// Appending goes on where the log left off.
	rec := record("reopen", len(want))
	if e := mustAppend(t, l, rec); e.Index != int64(len(want)) {
		t.Fatalf("first record after reopen got index %d, want %d", e.Index, len(want))
	}
	want = append(want, rec)
	closeLog(t, l)

	l = open(t, dir)
	wantRecords(t, l, want)
}

// appendAfterClose calls Append on a closed log, turning a panic into a failure.
func appendAfterClose(t *testing.T, l Log, rec []byte) (e evidencelog.Entry, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Append after Close panicked: %v", p)
		}
	}()
	return l.Append(ctx, rec)
}

func testAppendAfterClose(t *testing.T, open func(*testing.T, string) Log) {
	dir := t.TempDir()
	l := open(t, dir)
	mustAppend(t, l, []byte("before"))
	closeLog(t, l)
	for i := range 3 {
		e, err := appendAfterClose(t, l, []byte("after close"))
		if !errors.Is(err, evidencelog.ErrClosed) {
			t.Fatalf("Append %d after Close = %+v, %v; want ErrClosed", i, e, err)
		}
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("second Close panicked: %v", p)
			}
		}()
		l.Close()
	}()
	l = open(t, dir)
	wantRecords(t, l, [][]byte{[]byte("before")})
}

// testCloseWhileAppending closes the log under writers that append until
// they are refused: every Append that returned an Entry is in the reopened
// log at its index, every refusal is ErrClosed, and the log holds nothing
// that was not appended.
func testCloseWhileAppending(t *testing.T, open func(*testing.T, string) Log) {
	dir := t.TempDir()
	l := open(t, dir)
	const writers = 8
	type result struct {
		e   evidencelog.Entry
		rec []byte
	}
	results := make([][]result, writers)
	attempted := make([][][]byte, writers)
	var total atomic.Int64
	var closed atomic.Bool // set once Close has returned
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				rec := record("cw"+strconv.Itoa(w), i)
				attempted[w] = append(attempted[w], rec)
				after := closed.Load()
				e, err := func() (e evidencelog.Entry, err error) {
					defer func() {
						if p := recover(); p != nil {
							err = fmt.Errorf("append panicked: %v", p)
						}
					}()
					return l.Append(ctx, rec)
				}()
				if err != nil {
					if !errors.Is(err, evidencelog.ErrClosed) {
						t.Errorf("writer %d: Append while closing: %v, want ErrClosed", w, err)
					}
					return
				}
				if after {
					t.Errorf("writer %d: Append called after Close returned = %+v, nil; want ErrClosed", w, e)
					return
				}
				results[w] = append(results[w], result{e, rec})
				total.Add(1)
			}
		})
	}
	for total.Load() < 100 {
		// Let the writers get going before Close.
		if t.Failed() {
			break
		}
		runtime.Gosched()
	}
	closeLog(t, l)
	closed.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	l = open(t, dir)
	size := l.Size()
	all := readAll(t, l, 0, size)
	var succeeded int64
	for w := range writers {
		for _, r := range results[w] {
			succeeded++
			if r.e.Index >= size {
				t.Fatalf("writer %d: accepted record %d missing after Close and reopen (size %d)", w, r.e.Index, size)
			}
			if !bytes.Equal(all[r.e.Index], r.rec) {
				t.Fatalf("record %d after reopen is %q, Append had it as %q", r.e.Index, all[r.e.Index], r.rec)
			}
		}
	}
	tried := map[string]bool{} // every record is distinct
	for w := range writers {
		for _, rec := range attempted[w] {
			tried[string(rec)] = true
		}
	}
	for i, rec := range all {
		if !tried[string(rec)] {
			t.Fatalf("record %d after reopen, %q, was never appended, or is there twice", i, rec)
		}
		delete(tried, string(rec))
	}
	t.Logf("%d appends accepted before Close, log size %d after reopen", succeeded, size)
	if succeeded < 100 {
		t.Fatalf("only %d appends accepted before Close", succeeded)
	}
}
