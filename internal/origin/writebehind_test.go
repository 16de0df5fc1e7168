package origin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/origin/origintest"
	"github.com/provost-dev/provost/reason"
)

// writeBehindSQLite is a WriteBehind over the SQLite store it owns: Close
// flushes the one, then closes the other.
type writeBehindSQLite struct {
	*origin.WriteBehind
	sq *origin.SQLite
}

func (s writeBehindSQLite) Close() error {
	return errors.Join(s.WriteBehind.Close(), s.sq.Close())
}

// openWriteBehind returns an opener for the conformance suite: a
// WriteBehind over an SQLite file per test, reopened for the same test.
func openWriteBehind(cfg origin.WriteBehindConfig) func(t *testing.T) origin.Store {
	open := openSQLite()
	return func(t *testing.T) origin.Store {
		sq := open(t).(*origin.SQLite)
		s := writeBehindSQLite{origin.NewWriteBehind(sq, cfg), sq}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestWriteBehindConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  origin.WriteBehindConfig
	}{
		{"defaults", origin.WriteBehindConfig{}},
		// One credential per shard, one use per queue and per batch:
		// every Record waits for the writer, histories are read back.
		{"smallest", origin.WriteBehindConfig{MaxCredentials: 1, QueueSize: 1, MaxBatch: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { origintest.Run(t, openWriteBehind(tt.cfg)) })
	}
}

// A backing store without RecordBatch is written one Record at a time.
func TestWriteBehindConformanceWithoutBatches(t *testing.T) {
	var mu sync.Mutex
	backing := map[*testing.T]*origin.Memory{}
	origintest.Run(t, func(t *testing.T) origin.Store {
		mu.Lock()
		m, ok := backing[t]
		if !ok {
			m = origin.NewMemory()
			backing[t] = m
		}
		mu.Unlock()
		s := origin.NewWriteBehind(m, origin.WriteBehindConfig{QueueSize: 3})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// hookStore is a backing store in memory whose reads and writes can be
// held up or refused. It has RecordBatch: a refused batch records nothing.
type hookStore struct {
	*origin.Memory
	lookup  func(fp string)          // before each Lookup, if set
	write   func([]origin.Use) error // before each batch, if set
	batches atomic.Int64
}

func newHookStore() *hookStore { return &hookStore{Memory: origin.NewMemory()} }

func (h *hookStore) Lookup(ctx context.Context, fp string) (origin.History, error) {
	if err := ctx.Err(); err != nil {
		return origin.History{}, err
	}
	if h.lookup != nil {
		h.lookup(fp)
	}
	return h.Memory.Lookup(ctx, fp)
}

func (h *hookStore) RecordBatch(ctx context.Context, uses []origin.Use) error {
	if h.write != nil {
		if err := h.write(uses); err != nil {
			return err
		}
	}
	h.batches.Add(1)
	for _, u := range uses {
		if err := h.Memory.Record(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func closeStore(t *testing.T, s *origin.WriteBehind) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustRecord(t *testing.T, s origin.Store, u origin.Use) {
	t.Helper()
	if err := s.Record(ctx, u); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

func mustLookup(t *testing.T, s origin.Store, fp string) origin.History {
	t.Helper()
	h, err := s.Lookup(ctx, fp)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	return h
}

// TestWriteBehindCopiedCredential is the detector the write-behind must
// not blind: a credential used from its usual origin and, at the same
// time, from another goroutine at a second origin. Once the first Record
// has returned, the second request's Lookup must see it and Detect must
// report copied_credential, though nothing has reached the backing store
// (its writes are held until the end). Run with -race.
func TestWriteBehindCopiedCredential(t *testing.T) {
	const credentials = 32
	backing := newHookStore()
	release := make(chan struct{})
	backing.write = func([]origin.Use) error { <-release; return nil }
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{QueueSize: 2 * credentials})
	defer closeStore(t, s)
	defer close(release)

	home := origin.Origin{Workload: "spiffe://example.org/agent", Network: "10.1.0.0/24"}
	thief := origin.Origin{Network: "198.51.100.0/24"}
	var wg sync.WaitGroup
	for i := range credentials {
		fp := origintest.NewFingerprint(t)
		at := t0.Add(time.Duration(i) * time.Second)
		recorded := make(chan struct{})
		wg.Add(2)
		go func() { // the owner, at its usual origin
			defer wg.Done()
			defer close(recorded)
			if err := s.Record(ctx, origin.Use{Fingerprint: fp, Binding: "agents", Origin: home, At: at, Allowed: true}); err != nil {
				t.Error(err)
			}
		}()
		go func() { // the copy, elsewhere, a moment later
			defer wg.Done()
			<-recorded
			now := at.Add(time.Second)
			h, err := s.Lookup(ctx, fp)
			if err != nil {
				t.Error(err)
				return
			}
			findings := origin.Detect(origin.Config{}, h, thief, now)
			if len(findings) == 0 || findings[0].Code != reason.CopiedCredential {
				t.Errorf("credential %d: findings %v from history %s, want copied_credential", i, findings, describe(h.LastSeen, h.Uses, h.Origins))
			}
			if err := s.Record(ctx, origin.Use{Fingerprint: fp, Binding: "agents", Origin: thief, At: now}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := backing.batches.Load(); n != 0 {
		t.Fatalf("%d batches reached the backing store while its writes were held", n)
	}
	if st := s.Stats(); st.Queued != 2*credentials {
		t.Fatalf("Queued = %d, want %d", st.Queued, 2*credentials)
	}
}

// A Lookup that misses reads the backing store; a Record of the same
// credential meanwhile waits for that read and is applied to its result,
// once, not overwritten by it.
func TestWriteBehindReadBackRace(t *testing.T) {
	backing := newHookStore()
	fp := origintest.NewFingerprint(t)
	mustRecord(t, backing, origin.Use{Fingerprint: fp, Origin: netN(1), At: t0, Allowed: true})
	reading, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	backing.lookup = func(string) {
		once.Do(func() { close(reading); <-resume })
	}
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{})
	defer closeStore(t, s)

	looked := make(chan origin.History, 1)
	go func() {
		h, err := s.Lookup(ctx, fp)
		if err != nil {
			t.Error(err)
		}
		looked <- h
	}()
	<-reading // the Lookup is reading the backing store
	recorded := make(chan error, 1)
	go func() {
		recorded <- s.Record(ctx, origin.Use{Fingerprint: fp, Origin: netN(2), At: t0.Add(time.Minute), Allowed: true})
	}()
	select {
	case err := <-recorded:
		t.Fatalf("Record returned (%v) while the history was being read", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(resume)
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	if h := <-looked; h.Uses != 1 {
		t.Fatalf("the Lookup saw %d uses, want the 1 before the Record", h.Uses)
	}
	if h := mustLookup(t, s, fp); h.Uses != 2 || len(h.Origins) != 2 {
		t.Fatalf("after the Record: %s", describe(h.LastSeen, h.Uses, h.Origins))
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := mustLookup(t, backing, fp); h.Uses != 2 || len(h.Origins) != 2 {
		t.Fatalf("backing store: %s", describe(h.LastSeen, h.Uses, h.Origins))
	}
	if st := s.Stats(); st.Misses != 1 || st.Hits != 1 {
		t.Fatalf("hits %d, misses %d; want 1 and 1 (the Record waited for the read)", st.Hits, st.Misses)
	}
}

// A read that fails leaves nothing in memory: the next caller reads again.
func TestWriteBehindReadBackFails(t *testing.T) {
	backing := newHookStore()
	fp := origintest.NewFingerprint(t)
	mustRecord(t, backing, origin.Use{Fingerprint: fp, Origin: netN(1), At: t0, Allowed: true})
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{})
	defer closeStore(t, s)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Lookup(canceled, fp); err == nil {
		t.Fatal("Lookup with a canceled context: no error")
	}
	if err := s.Record(canceled, origin.Use{Fingerprint: fp, Origin: netN(1), At: t0, Allowed: true}); err == nil {
		t.Fatal("Record with a canceled context: no error")
	}
	if h := mustLookup(t, s, fp); h.Uses != 1 {
		t.Fatalf("after failed reads: %s", describe(h.LastSeen, h.Uses, h.Origins))
	}
}

// When the queue is full, Record waits for room until its context ends,
// then fails; once the writer catches up it succeeds again.
func TestWriteBehindQueueFull(t *testing.T) {
	backing := newHookStore()
	release := make(chan struct{})
	backing.write = func([]origin.Use) error { <-release; return nil }
	const queue = 3
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{QueueSize: queue})
	defer closeStore(t, s)
	fp := origintest.NewFingerprint(t)
	use := func(i int) origin.Use {
		return origin.Use{Fingerprint: fp, Origin: netN(i), At: t0.Add(time.Duration(i) * time.Second), Allowed: true}
	}
	for i := range queue {
		mustRecord(t, s, use(i))
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	err := s.Record(short, use(queue))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not written in time") {
		t.Fatalf("Record with the queue full: %v, want a deadline error naming the queue", err)
	}
	if h := mustLookup(t, s, fp); h.Uses != queue {
		t.Fatalf("the refused use is in memory: %s", describe(h.LastSeen, h.Uses, h.Origins))
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Record(ctx, use(queue)) }()
	select {
	case err := <-waited:
		t.Fatalf("Record returned (%v) with the queue full", err)
	case <-time.After(30 * time.Millisecond):
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := mustLookup(t, backing, fp); h.Uses != queue+1 {
		t.Fatalf("backing store: %s", describe(h.LastSeen, h.Uses, h.Origins))
	}
}

// A batch the backing store refuses is logged and counted, makes every
// Record fail (fail closed) while it lasts, and is written again until the
// backing store takes it: then recording resumes, and no use is lost or
// written twice.
func TestWriteBehindWriteFailure(t *testing.T) {
	backing := newHookStore()
	var broken atomic.Bool
	broken.Store(true)
	backing.write = func([]origin.Use) error {
		if broken.Load() {
			return errors.New("disk I/O error")
		}
		return nil
	}
	var logs syncBuffer
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{RetryMax: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer closeStore(t, s)
	fp := origintest.NewFingerprint(t)
	use := func(i int) origin.Use {
		return origin.Use{Fingerprint: fp, Origin: netN(i % 2), At: t0.Add(time.Duration(i) * time.Second), Allowed: true}
	}
	mustRecord(t, s, use(0)) // queued: the failure is not known yet
	waitFor(t, "the write error", func() bool { return s.Err() != nil })
	if err := s.Record(ctx, use(1)); !errors.Is(err, origin.ErrWriteFailed) || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("Record while the backing store fails: %v, want ErrWriteFailed with its cause", err)
	}
	if h := mustLookup(t, s, fp); h.Uses != 1 {
		t.Fatalf("Lookup while failing: %s, want the queued use", describe(h.LastSeen, h.Uses, h.Origins))
	}
	waitFor(t, "a retry", func() bool { return s.Stats().WriteErrors >= 2 })
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "disk I/O error") {
		t.Fatalf("the failure was not logged as an error:\n%s", logs.String())
	}

	broken.Store(false)
	waitFor(t, "recovery", func() bool { return s.Err() == nil })
	mustRecord(t, s, use(2))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h := mustLookup(t, backing, fp); h.Uses != 2 || len(h.Origins) != 1 || h.Origins[0].Uses != 2 {
		t.Fatalf("backing store after recovery: %s, want uses 0 and 2, each once", describe(h.LastSeen, h.Uses, h.Origins))
	}
	if st := s.Stats(); st.Written != 2 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "takes writes again") {
		t.Fatalf("the recovery was not logged:\n%s", logs.String())
	}
}

// Close writes every queued use; with the backing store still refusing,
// it gives up after one last attempt and says how many were lost. Every
// call fails after it.
func TestWriteBehindClose(t *testing.T) {
	tests := []struct {
		name    string
		broken  bool
		wantErr string
	}{
		{"writes the queue", false, ""},
		{"backing store refuses", true, "5 uses were not written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backing := newHookStore()
			recorded := make(chan struct{})
			backing.write = func([]origin.Use) error {
				<-recorded // nothing is written before Close
				if tt.broken {
					return errors.New("read-only file system")
				}
				return nil
			}
			s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{MaxBatch: 2, RetryMax: time.Hour})
			fp := origintest.NewFingerprint(t)
			const n = 5
			for i := range n {
				mustRecord(t, s, origin.Use{Fingerprint: fp, Origin: netN(i), At: t0.Add(time.Duration(i) * time.Second), Allowed: true})
			}
			if st := s.Stats(); st.Written != 0 || st.Queued != n {
				t.Fatalf("before Close: %+v", st)
			}
			close(recorded)
			err := s.Close()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Close: %v, want %q", err, tt.wantErr)
			}
			want := int64(n)
			if tt.broken {
				want = 0
			}
			if h := mustLookup(t, backing, fp); h.Uses != want {
				t.Fatalf("backing store after Close: %d uses, want %d", h.Uses, want)
			}
			if err := s.Record(ctx, origin.Use{Fingerprint: fp, At: t0}); !errors.Is(err, origin.ErrClosed) {
				t.Fatalf("Record after Close: %v", err)
			}
			if _, err := s.Lookup(ctx, fp); !errors.Is(err, origin.ErrClosed) {
				t.Fatalf("Lookup after Close: %v", err)
			}
			if _, err := s.Learned(ctx, "b", time.Time{}); !errors.Is(err, origin.ErrClosed) {
				t.Fatalf("Learned after Close: %v", err)
			}
			if err2 := s.Close(); (err2 == nil) != (err == nil) {
				t.Fatalf("second Close: %v, first %v", err2, err)
			}
		})
	}
}

// Learned sees uses recorded just before it, though writes are slow.
func TestWriteBehindLearnedSeesQueued(t *testing.T) {
	backing := newHookStore()
	backing.write = func([]origin.Use) error { time.Sleep(30 * time.Millisecond); return nil }
	s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{})
	defer closeStore(t, s)
	for i := range 3 {
		mustRecord(t, s, origin.Use{Fingerprint: origintest.NewFingerprint(t), Binding: "ci", Origin: netN(i),
			At: t0, Allowed: true, Learn: true})
	}
	l, err := s.Learned(ctx, "ci", time.Time{})
	if err != nil || len(l) != 3 {
		t.Fatalf("Learned = %d origins, %v; want the 3 just recorded", len(l), err)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	mustRecord(t, s, origin.Use{Fingerprint: origintest.NewFingerprint(t), Binding: "ci", Origin: netN(9), At: t0, Learn: true})
	if _, err := s.Learned(short, "ci", time.Time{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Learned that cannot wait for the writer: %v, want its deadline", err)
	}
}

// Memory holds at most MaxCredentials credentials (rounded up to a
// multiple of 64); the others are read back from the backing store, with
// every use.
func TestWriteBehindMemoryBound(t *testing.T) {
	tests := []struct {
		max, want int
	}{
		{64, 64},
		{100, 128},
		{1, 64},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.max), func(t *testing.T) {
			backing := newHookStore()
			s := origin.NewWriteBehind(backing, origin.WriteBehindConfig{MaxCredentials: tt.max, QueueSize: 16})
			defer closeStore(t, s)
			fps := make([]string, 2000)
			for i := range fps {
				fps[i] = origintest.NewFingerprint(t)
				mustRecord(t, s, origin.Use{Fingerprint: fps[i], Origin: netN(1), At: t0, Allowed: true})
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := s.Stats().Credentials; n > tt.want || n < tt.want/2 {
				t.Fatalf("%d credentials in memory, want at most %d (and the shards about full)", n, tt.want)
			}
			for i, fp := range fps {
				mustRecord(t, s, origin.Use{Fingerprint: fp, Origin: netN(2), At: t0.Add(time.Second), Allowed: true})
				if h := mustLookup(t, s, fp); h.Uses != 2 || len(h.Origins) != 2 {
					t.Fatalf("credential %d read back: %s", i, describe(h.LastSeen, h.Uses, h.Origins))
				}
			}
			if st := s.Stats(); st.Credentials > tt.want+16 || st.Misses != 0 {
				// Record read the evicted histories back; the Lookups after
				// them hit.
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestWriteBehindMatchesMemory records the same random uses, from several
// goroutines each with its own credentials, in a Memory store and in a
// WriteBehind over SQLite that keeps 64 credentials in memory for 300 (so
// most Records read a history back, and most Lookups of the reference
// check one), and checks every answer; then that the SQLite file holds
// the same histories after Close.
func TestWriteBehindMatchesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("records thousands of uses in SQLite")
	}
	path := filepath.Join(t.TempDir(), "origin.db")
	sq, err := origin.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	s := origin.NewWriteBehind(sq, origin.WriteBehindConfig{MaxCredentials: 64, QueueSize: 32, MaxBatch: 8})
	ref := origin.NewMemory()
	const workers, perWorker = 4, 75
	fps := make([][]string, workers)
	for w := range fps {
		for range perWorker {
			fps[w] = append(fps[w], origintest.NewFingerprint(t))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range diffUses {
				fp := fps[w][rng.IntN(perWorker)]
				u := origin.Use{
					Fingerprint: fp, Binding: "b" + strconv.Itoa(w),
					Origin:  origin.Origin{Workload: "w" + strconv.Itoa(rng.IntN(3)), Network: "n" + strconv.Itoa(rng.IntN(80))},
					At:      t0.Add(time.Duration(rng.IntN(600)) * time.Second),
					Allowed: rng.IntN(3) > 0, Learn: rng.IntN(4) == 0,
				}
				if err := s.Record(ctx, u); err != nil {
					t.Error(err)
					return
				}
				if err := ref.Record(ctx, u); err != nil {
					t.Error(err)
					return
				}
				check := fps[w][rng.IntN(perWorker)]
				got, err := s.Lookup(ctx, check)
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := ref.Lookup(ctx, check)
				if !sameSeen(got.Origins, want.Origins) || !got.LastSeen.Equal(want.LastSeen) || got.Uses != want.Uses {
					t.Errorf("worker %d, use %d: Lookup differs:\nwrite-behind %s\nmemory %s", w, i,
						describe(got.LastSeen, got.Uses, got.Origins), describe(want.LastSeen, want.Uses, want.Origins))
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Misses == 0 || st.Batches == 0 || st.Written != workers*diffUses {
		t.Fatalf("stats %+v: the test did not read back or write in batches", st)
	}
	sq.Close()
	sq, err = origin.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	for w := range workers {
		for _, fp := range fps[w] {
			got, err := sq.Lookup(ctx, fp)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ref.Lookup(ctx, fp)
			if !sameSeen(got.Origins, want.Origins) || !got.LastSeen.Equal(want.LastSeen) || got.Uses != want.Uses {
				t.Fatalf("SQLite after Close differs:\nsqlite %s\nmemory %s", describe(got.LastSeen, got.Uses, got.Origins), describe(want.LastSeen, want.Uses, want.Origins))
			}
		}
		got, err := sq.Learned(ctx, "b"+strconv.Itoa(w), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := ref.Learned(ctx, "b"+strconv.Itoa(w), time.Time{}); len(want) == 0 || !sameSeen(got, want) {
			t.Fatalf("Learned after Close differs:\nsqlite %s\nmemory %s", describe(time.Time{}, 0, got), describe(time.Time{}, 0, want))
		}
	}
}

// RecordBatch writes what the same Records would, in one transaction: an
// invalid use in a batch records nothing.
func TestSQLiteRecordBatch(t *testing.T) {
	dir := t.TempDir()
	one, err := origin.OpenSQLite(ctx, filepath.Join(dir, "one.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	batch, err := origin.OpenSQLite(ctx, filepath.Join(dir, "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	fp := origintest.NewFingerprint(t)
	var uses []origin.Use
	for i := range origin.MaxOrigins + 10 {
		uses = append(uses, origin.Use{Fingerprint: fp, Binding: "b", Origin: netN(i % (origin.MaxOrigins + 5)),
			At: t0.Add(time.Duration(i) * time.Second), Allowed: i%3 > 0, Learn: i%2 == 0})
	}
	for _, u := range uses {
		mustRecord(t, one, u)
	}
	mustLookup(t, batch, fp) // cached as never used: RecordBatch must forget it
	if err := batch.RecordBatch(ctx, uses); err != nil {
		t.Fatal(err)
	}
	want, got := mustLookup(t, one, fp), mustLookup(t, batch, fp)
	if !sameSeen(got.Origins, want.Origins) || got.Uses != want.Uses || !got.LastSeen.Equal(want.LastSeen) {
		t.Fatalf("batch %s\nrecords %s", describe(got.LastSeen, got.Uses, got.Origins), describe(want.LastSeen, want.Uses, want.Origins))
	}
	wl, _ := one.Learned(ctx, "b", time.Time{})
	gl, _ := batch.Learned(ctx, "b", time.Time{})
	if len(wl) == 0 || !sameSeen(gl, wl) {
		t.Fatalf("Learned: batch %d origins, records %d", len(gl), len(wl))
	}

	other := origintest.NewFingerprint(t)
	bad := []origin.Use{{Fingerprint: other, Origin: netN(1), At: t0}, {Fingerprint: other, At: time.Time{}}}
	if err := batch.RecordBatch(ctx, bad); !errors.Is(err, origin.ErrInvalid) {
		t.Fatalf("batch with an invalid use: %v", err)
	}
	if h := mustLookup(t, batch, other); h.Uses != 0 {
		t.Fatalf("a batch with an invalid use recorded %d uses", h.Uses)
	}
	if err := batch.RecordBatch(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// nopStore is a backing store that holds nothing and takes every write.
type nopStore struct{}

func (nopStore) Lookup(context.Context, string) (origin.History, error)            { return origin.History{}, nil }
func (nopStore) Record(context.Context, origin.Use) error                          { return nil }
func (nopStore) Learned(context.Context, string, time.Time) ([]origin.Seen, error) { return nil, nil }
func (nopStore) RecordBatch(context.Context, []origin.Use) error                   { return nil }

// A decision's Lookup and Record of a credential in memory allocate only
// the copy of the history Lookup returns (the writer allocates nothing
// over nopStore).
func TestWriteBehindPairAllocs(t *testing.T) {
	s := origin.NewWriteBehind(nopStore{}, origin.WriteBehindConfig{})
	defer closeStore(t, s)
	u := origin.Use{Fingerprint: origintest.NewFingerprint(t), Origin: netN(1), At: t0, Allowed: true}
	mustRecord(t, s, u)
	allocs := testing.AllocsPerRun(200, func() {
		if h, err := s.Lookup(ctx, u.Fingerprint); err != nil || len(h.Origins) != 1 {
			t.Fatal(h, err)
		}
		if err := s.Record(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Lookup+Record allocate %v times, want at most 1 (Lookup's copy)", allocs)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer's logs and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func netN(i int) origin.Origin {
	return origin.Origin{Workload: "spiffe://example.org/agent", Network: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}
}
