package evidencelog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// appendConcurrently appends n records from n goroutines and returns the entries by record.
func appendConcurrently(t *testing.T, l *Log, n int) []Entry {
	t.Helper()
	entries := make([]Entry, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			entries[i], errs[i] = l.Append(ctx, record(int64(1000+i)))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return entries
}

// checkEntries checks every entry is readable, is the right record and is proven in a checkpoint.
func checkEntries(t *testing.T, l *Log, entries []Entry) {
	t.Helper()
	seen := map[int64]bool{}
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if seen[e.Index] {
			t.Fatalf("index %d given twice", e.Index)
		}
		seen[e.Index] = true
		recs, err := l.Entries(ctx, e.Index, e.Index+1)
		if err != nil || len(recs) != 1 || !bytes.Equal(recs[0], record(int64(1000+i))) {
			t.Fatalf("entry %d: %q, %v", e.Index, recs, err)
		}
		p, err := l.InclusionProof(ctx, e.Index, c.Size)
		if err != nil {
			t.Fatal(err)
		}
		checkInclusion(t, p, e.Index, c.Size, e.LeafHash, c.Root)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommit(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		maxCommits  int64
		wantDurable bool
	}{
		{"durable", Options{}, 32, true},
		{"durable with delay", Options{MaxDelay: 50 * time.Millisecond}, 4, true},
		{"durable, batches of 8", Options{MaxBatch: 8, MaxDelay: 50 * time.Millisecond}, 16, true},
	}
	const n = 64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := openLog(t, tt.opts)
			if l.Durable() != tt.wantDurable {
				t.Fatalf("Durable() = %v", l.Durable())
			}
			entries := appendConcurrently(t, l, n)
			st := l.Stats()
			t.Logf("%d records in %d transactions", n, st.Commits)
			if st.Commits >= tt.maxCommits || st.Commits < 1 {
				t.Fatalf("%d transactions for %d concurrent appends, want fewer than %d", st.Commits, n, tt.maxCommits)
			}
			if tt.opts.MaxBatch > 0 && st.Commits < n/int64(tt.opts.MaxBatch) {
				t.Fatalf("%d transactions: batches larger than %d", st.Commits, tt.opts.MaxBatch)
			}
			if st.Size != n || st.Pending != 0 {
				t.Fatalf("stats %+v after durable appends", st)
			}
			checkEntries(t, l, entries)
		})
	}
}

func TestAsync(t *testing.T) {
	l, dir := openLog(t, Options{Async: true, MaxDelay: 300 * time.Millisecond})
	if l.Durable() {
		t.Fatal("Durable() in async mode")
	}
	entries := appendConcurrently(t, l, 64)
	if st := l.Stats(); st.Size != 0 || st.Pending != 64 {
		t.Fatalf("stats %+v right after async appends, want all pending", st)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Size != 64 || st.Pending != 0 || st.Commits != 1 {
		t.Fatalf("stats %+v after Flush, want 64 committed in 1 transaction", st)
	}
	checkEntries(t, l, entries)

	// Close commits what is queued.
	e, err := l.Append(ctx, []byte("last"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, []byte("after close")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	l, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Size(); got != e.Index+1 {
		t.Fatalf("size %d after reopen, want %d", got, e.Index+1)
	}
}

func TestAppendBounds(t *testing.T) {
	l, _ := openLog(t, Options{MaxRecordSize: 10})
	if _, err := l.Append(ctx, make([]byte, 11)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("11-byte record: %v", err)
	}
	e, err := l.Append(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.LeafHash != tlog.RecordHash(nil) {
		t.Fatal("empty record's leaf hash")
	}
	if recs, err := l.Entries(ctx, 0, 1); err != nil || len(recs) != 1 || len(recs[0]) != 0 {
		t.Fatalf("empty record read back as %q, %v", recs, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cancelled, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context: %v", err)
	}
}

func TestEntriesRange(t *testing.T) {
	l, _ := openLog(t, Options{Async: true, MaxBatch: 2000})
	appendN(t, l, 0, MaxEntries+5)
	tests := []struct {
		start, end int64
		want       int
		wantErr    bool
	}{
		{0, 3, 3, false},
		{2, 2, 0, false},
		{0, MaxEntries + 5, MaxEntries, false},   // bounded
		{MaxEntries, MaxEntries + 100, 5, false}, // clipped to the log
		{MaxEntries + 5, MaxEntries + 6, 0, false},
		{-1, 2, 0, true},
		{3, 2, 0, true},
	}
	for _, tt := range tests {
		recs, err := l.Entries(ctx, tt.start, tt.end)
		if tt.wantErr {
			wantProblem(t, err, ErrOutOfRange, tt.start)
			continue
		}
		if err != nil || len(recs) != tt.want {
			t.Fatalf("Entries(%d, %d) = %d records, %v; want %d", tt.start, tt.end, len(recs), err, tt.want)
		}
		for i, r := range recs {
			if !bytes.Equal(r, record(tt.start+int64(i))) {
				t.Fatalf("Entries(%d, %d)[%d] = %q", tt.start, tt.end, i, r)
			}
		}
	}
}

func TestKeyFile(t *testing.T) {
	l, dir := openLog(t, Options{})
	path := filepath.Join(dir, keyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("PRIVATE+KEY+"+testName+"+")) {
		t.Fatalf("key file does not hold a note private key for %s", testName)
	}
	if want := testName + "+"; len(l.VerifierKey()) < len(want) || l.VerifierKey()[:len(want)] != want {
		t.Fatalf("verifier key %q", l.VerifierKey())
	}
	l.Close()
	// Reopening without a name keeps the key's name.
	l2, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l2.VerifierKey() != l.VerifierKey() || l2.Name() != testName {
		t.Fatalf("reopened log has key %s", l2.VerifierKey())
	}
	l2.Close()
	if _, err := Open(ctx, dir, Options{Name: "provost.evidence/renamed"}); err == nil {
		t.Fatal("opened an existing log under another name")
	}
	for _, bad := range []string{"has space", "has+plus", "tab\there", strings.Repeat("x", 300)} {
		if l, err := Open(ctx, t.TempDir(), Options{Name: bad}); err == nil {
			l.Close()
			t.Errorf("opened a log named %q", bad)
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, Options{}); err == nil {
		t.Fatal("opened a log whose key file others can read")
	}
}

// A failed commit is remembered: Err reports it until the log is reopened.
func TestErrAfterWriteFault(t *testing.T) {
	l, dir := openLog(t, Options{})
	if _, err := l.Append(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err before the fault: %v", err)
	}
	withDB(t, dir, func(db *sql.DB) {
		sqlExec(t, db, `CREATE TRIGGER fault BEFORE INSERT ON evidence_leaf
			BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`)
	})
	if _, err := l.Append(ctx, []byte("refused")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Append under the fault: %v, want ErrWriteFailed", err)
	}
	if err := l.Err(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Err after the fault: %v, want ErrWriteFailed", err)
	}
}
