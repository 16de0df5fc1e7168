package origin

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
)

// Defaults of WriteBehindConfig.
const (
	// DefaultQueueSize bounds the uses recorded in memory and not yet
	// written to the backing store.
	DefaultQueueSize = 4096
	// DefaultMaxBatch bounds the uses written in one transaction.
	DefaultMaxBatch = 256
	// DefaultRetryMax is the longest wait between two attempts to write a
	// batch the backing store refused.
	DefaultRetryMax = 2 * time.Second
)

// writeBehindShards is the number of independently locked parts of a
// WriteBehind's memory, chosen by a hash of the fingerprint.
const writeBehindShards = 64

// retryMin is the first wait before writing a refused batch again; it
// doubles up to WriteBehindConfig.RetryMax.
const retryMin = 10 * time.Millisecond

var (
	// ErrClosed is returned by a WriteBehind's methods after Close.
	ErrClosed = errors.New("origin history is closed")
	// ErrWriteFailed is wrapped by the errors Record returns while the
	// backing store refuses the queued uses (see WriteBehind).
	ErrWriteFailed = errors.New("origin history is not being written: the backing store refused the last batch")
)

// BatchRecorder is a Store that records many uses in one transaction. A
// WriteBehind writes through it when its backing store has it, and through
// Record, one use at a time, when not.
type BatchRecorder interface {
	// RecordBatch records uses in order, as that many calls to Record
	// would: all of them or, on an error, none.
	RecordBatch(ctx context.Context, uses []Use) error
}

// WriteBehindConfig bounds a WriteBehind. A zero field takes its default.
type WriteBehindConfig struct {
	// MaxCredentials is how many credentials' histories are held in memory
	// (default DefaultMaxCredentials), rounded up to a multiple of 64.
	// Beyond it the least recently used (looked up or recorded) is
	// dropped from memory only: its history is in the backing store, and
	// is read back on its next use. A credential with uses still queued
	// is never dropped, so memory may hold up to QueueSize credentials
	// more.
	MaxCredentials int
	// QueueSize bounds the uses recorded in memory and not yet written
	// (default DefaultQueueSize): what a crash can lose. When it is full,
	// Record waits for room until its context ends, then fails.
	QueueSize int
	// MaxBatch bounds the uses written in one transaction (default
	// DefaultMaxBatch).
	MaxBatch int
	// RetryMax is the longest wait between attempts to write a batch the
	// backing store refused (default DefaultRetryMax); the first wait is
	// 10ms, doubling.
	RetryMax time.Duration
	// Logger receives write failures and recoveries; nil discards them.
	Logger *slog.Logger
}

// WriteBehind is a Store that answers from memory and writes to a backing
// store in the background, so that a decision neither waits for a
// transaction nor queues behind other decisions' transactions.
//
// Lookup and Record work on the current history of each credential in
// memory, in 64 shards locked separately (by a hash of the fingerprint). A
// credential not in memory is read from the backing store on its first
// Lookup or Record; callers that ask for it meanwhile wait for that read
// rather than read it again, so no Record is applied to a history that is
// then overwritten. Record updates the history in memory before it
// returns, so a Lookup from any goroutine sees the use at once (a
// credential copied and used from two origins at the same time is caught),
// and queues the use. One background goroutine writes the queued uses in
// order, in batches of at most MaxBatch, one transaction each
// (BatchRecorder). The answers are those of the backing store: the history
// in memory is the backing store's plus the same uses applied in the same
// order with the same rules (MaxOrigins eviction included), and Learned
// first waits until every use queued before it is written, then asks the
// backing store. That holds only while this WriteBehind is the backing
// store's one writer: uses recorded there by anything else are not seen for
// the credentials held in memory (so it is not for a store shared by
// replicas, such as Redis).
//
// The queue is bounded (QueueSize): a Record that finds it full waits for
// room until its context ends, then returns an error, and the decision
// that made it is denied (fail closed). When the backing store refuses a
// batch, the error is logged and counted (Stats.WriteErrors), the batch is
// written again after a wait (10ms doubling to RetryMax), and meanwhile
// every Record fails with an error wrapping ErrWriteFailed (Err says why),
// so decisions are denied rather than made on history that is not kept.
// The first batch written makes Record succeed again. Lookups still answer
// from memory meanwhile.
//
// Close writes every queued use before it returns. A crash (kill -9, power
// loss) loses the uses still queued, at most QueueSize: origin history is
// detection state, not evidence.
type WriteBehind struct {
	backing  Store
	batch    BatchRecorder // backing's, nil when it has none
	log      *slog.Logger
	seed     maphash.Seed
	maxBatch int
	retryMax time.Duration
	shards   [writeBehindShards]wbShard

	// room holds one token per use (or flush) queued and not yet written:
	// Record takes one before it touches memory, the writer gives it back
	// after the write, so a send on queue never blocks.
	room    chan struct{}
	queue   chan wbItem
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when the writer has returned
	closed  atomic.Bool

	failure atomic.Pointer[error] // the last write error, nil once a batch is written

	hits, misses, batches, written, writeErrors, dropped atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*WriteBehind)(nil)

// wbShard is one part of a WriteBehind's memory.
type wbShard struct {
	mu      sync.Mutex
	entries map[string]*wbEntry
	lru     wbEntry // sentinel of a ring: lru.next is the most recently used
	n       int     // entries on the ring: those read
	max     int
}

// wbEntry is one credential's current history.
type wbEntry struct {
	fp string
	h  History // Origins in CompareSeen order
	// loading is not nil while the history is being read from the
	// backing store (the entry is then not on the ring); it is closed
	// when the read ends, after the entry was filled or removed.
	loading chan struct{}
	// pending counts the uses applied here and not yet written: the entry
	// stays in memory until they are.
	pending    int
	prev, next *wbEntry
}

// wbItem is one queued use, or a flush (done not nil).
type wbItem struct {
	use  Use
	e    *wbEntry
	sh   *wbShard
	done chan error
}

// NewWriteBehind returns a WriteBehind over backing and starts its writer.
// Close stops it; it does not close backing, which must stay open until
// Close has returned.
func NewWriteBehind(backing Store, cfg WriteBehindConfig) *WriteBehind {
	if cfg.MaxCredentials <= 0 {
		cfg.MaxCredentials = DefaultMaxCredentials
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &WriteBehind{
		backing:  backing,
		log:      cfg.Logger,
		seed:     maphash.MakeSeed(),
		maxBatch: cfg.MaxBatch,
		retryMax: cfg.RetryMax,
		room:     make(chan struct{}, cfg.QueueSize),
		queue:    make(chan wbItem, cfg.QueueSize),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.batch, _ = backing.(BatchRecorder)
	perShard := (cfg.MaxCredentials + writeBehindShards - 1) / writeBehindShards
	for i := range w.shards {
		sh := &w.shards[i]
		sh.entries = make(map[string]*wbEntry)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
		sh.max = perShard
	}
	go w.run()
	return w
}

func (w *WriteBehind) shard(fp string) *wbShard {
	return &w.shards[maphash.String(w.seed, fp)%writeBehindShards]
}

// Lookup implements Store: from memory, or from the backing store for a
// credential not in memory.
func (w *WriteBehind) Lookup(ctx context.Context, fp string) (History, error) {
	if !fingerprint.Valid(fp) {
		return History{}, fmt.Errorf("%w: lookup: not a fingerprint", ErrInvalid)
	}
	if w.closed.Load() {
		return History{}, fmt.Errorf("origin: lookup: %w", ErrClosed)
	}
	sh := w.shard(fp)
	e, err := w.load(ctx, sh, fp, true)
	if err != nil {
		return History{}, fmt.Errorf("origin: lookup: %w", err)
	}
	h := e.h
	h.Origins = slices.Clone(h.Origins)
	sh.mu.Unlock()
	return h, nil
}

// Record implements Store: the use is in memory when Record returns, and
// queued for the backing store.
func (w *WriteBehind) Record(ctx context.Context, u Use) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	if w.closed.Load() {
		return fmt.Errorf("origin: record: %w", ErrClosed)
	}
	if err := w.Err(); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	if err := w.reserve(ctx); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	sh := w.shard(u.Fingerprint)
	e, err := w.load(ctx, sh, u.Fingerprint, false)
	if err != nil {
		<-w.room
		return fmt.Errorf("origin: record: %w", err)
	}
	var allowed int64
	if u.Allowed {
		allowed = 1
	}
	recordHistory(&e.h, u.Origin, micro(u.At), allowed)
	e.pending++
	// Queued under the shard's lock: uses of one credential reach the
	// backing store in the order they were applied here.
	w.queue <- wbItem{use: u, e: e, sh: sh}
	sh.mu.Unlock()
	return nil
}

// Learned implements Store: it waits until the uses queued before it are
// written, then asks the backing store.
func (w *WriteBehind) Learned(ctx context.Context, binding string, since time.Time) ([]Seen, error) {
	if err := w.Flush(ctx); err != nil {
		return nil, fmt.Errorf("origin: learned: %w", err)
	}
	return w.backing.Learned(ctx, binding, since)
}

// Flush waits until every use recorded before it is written to the backing
// store, or ctx ends.
func (w *WriteBehind) Flush(ctx context.Context) error {
	if err := w.reserve(ctx); err != nil {
		return fmt.Errorf("origin: flush: %w", err)
	}
	done := make(chan error, 1)
	w.queue <- wbItem{done: done}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("origin: flush: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("origin: flush: %w", context.Cause(ctx))
	}
}

// reserve takes room for one queued item: at once, or when the writer has
// made some, until ctx ends.
func (w *WriteBehind) reserve(ctx context.Context) error {
	select {
	case w.room <- struct{}{}:
	default:
		select {
		case w.room <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("the %d uses queued for the backing store were not written in time: %w", cap(w.room), context.Cause(ctx))
		case <-w.closing:
			return ErrClosed
		}
	}
	if w.closed.Load() {
		<-w.room
		return ErrClosed
	}
	return nil
}

// load returns the entry of fp with sh locked, reading the history from
// the backing store when it is not in memory; on an error sh is unlocked.
// count says whether to count the answer in Stats' Hits and Misses.
func (w *WriteBehind) load(ctx context.Context, sh *wbShard, fp string, count bool) (*wbEntry, error) {
	sh.mu.Lock()
	for {
		e, ok := sh.entries[fp]
		if !ok {
			break
		}
		if e.loading == nil {
			sh.unlink(e)
			sh.pushFront(e)
			if count {
				w.hits.Add(1)
			}
			return e, nil
		}
		// Another caller is reading it: wait, then look again (its read
		// may have failed, leaving the read to this caller).
		wait := e.loading
		sh.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the history to be read: %w", context.Cause(ctx))
		}
		sh.mu.Lock()
	}
	if count {
		w.misses.Add(1)
	}
	e := &wbEntry{fp: fp, loading: make(chan struct{})}
	sh.entries[fp] = e
	sh.mu.Unlock()
	// No use of fp is queued (a credential with queued uses stays in
	// memory), so the backing store's history is the whole history, and
	// no Record can change it until loading is closed.
	h, err := w.backing.Lookup(ctx, fp)
	sh.mu.Lock()
	loading := e.loading
	e.loading = nil
	close(loading)
	if err != nil {
		delete(sh.entries, fp)
		sh.mu.Unlock()
		return nil, err
	}
	e.h = h
	sh.pushFront(e)
	sh.n++
	sh.evict(e)
	return e, nil
}

// run is the writer: it takes the queued items in order and writes the
// uses in batches until Close closes the queue.
func (w *WriteBehind) run() {
	defer close(w.done)
	items := make([]wbItem, 0, w.maxBatch)
	uses := make([]Use, 0, w.maxBatch)
	for it := range w.queue {
		items = append(items[:0], it)
	collect:
		for len(items) < w.maxBatch && it.done == nil { // a flush ends the batch
			select {
			case next, ok := <-w.queue:
				if !ok {
					break collect
				}
				it = next
				items = append(items, it)
			default:
				break collect
			}
		}
		uses = uses[:0]
		for _, it := range items {
			if it.done == nil {
				uses = append(uses, it.use)
			}
		}
		err := w.write(uses)
		for i := range items {
			it := &items[i]
			if it.done != nil {
				it.done <- err
			} else {
				it.sh.mu.Lock()
				it.e.pending--
				if it.e.pending == 0 {
					it.sh.evict(nil) // it may have been kept past the limit
				}
				it.sh.mu.Unlock()
			}
			*it = wbItem{}
			<-w.room
		}
		clear(uses)
	}
}

// write writes uses to the backing store, again and again while it refuses
// them, until it takes them or Close was called; then the uses not written
// are dropped, and the error returned.
func (w *WriteBehind) write(uses []Use) error {
	wait := retryMin
	for attempt := 1; len(uses) > 0; attempt++ {
		n, err := w.apply(uses)
		w.written.Add(uint64(n))
		uses = uses[n:]
		if err == nil {
			w.batches.Add(1)
			if w.failure.Swap(nil) != nil {
				w.log.LogAttrs(context.Background(), slog.LevelWarn, "origin history: the backing store takes writes again; recording resumes",
					slog.Int("attempts", attempt))
			}
			return nil
		}
		w.writeErrors.Add(1)
		w.failure.Store(&err)
		if w.closed.Load() {
			w.dropped.Add(uint64(len(uses)))
			w.log.LogAttrs(context.Background(), slog.LevelError, "origin history: closing with uses the backing store refused; they are lost",
				slog.Int("uses", len(uses)), slog.Int("attempts", attempt), slog.String("error", err.Error()))
			return fmt.Errorf("%d uses not written: %w", len(uses), err)
		}
		w.log.LogAttrs(context.Background(), slog.LevelError, "origin history: the backing store refused a batch of uses; recording is refused (decisions fail closed) until it takes them",
			slog.Int("uses", len(uses)), slog.Int("attempt", attempt), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-w.closing: // one last attempt
		}
		t.Stop()
		wait = min(2*wait, w.retryMax)
	}
	return nil
}

// apply writes uses in order, in one batch when the backing store can, and
// returns how many it wrote.
func (w *WriteBehind) apply(uses []Use) (int, error) {
	ctx := context.Background()
	if w.batch != nil {
		if err := w.batch.RecordBatch(ctx, uses); err != nil {
			return 0, err
		}
		return len(uses), nil
	}
	for i, u := range uses {
		if err := w.backing.Record(ctx, u); err != nil {
			return i, err
		}
	}
	return len(uses), nil
}

// Err returns an error wrapping ErrWriteFailed and the backing store's
// last error while the backing store refuses writes (Record fails
// meanwhile), and nil when the last batch was written.
func (w *WriteBehind) Err() error {
	if err := w.failure.Load(); err != nil {
		return fmt.Errorf("%w: %w", ErrWriteFailed, *err)
	}
	return nil
}

// Close writes every queued use to the backing store, stops the writer and
// returns an error if some uses could not be written. Lookup, Record and
// Learned fail with ErrClosed after it. It does not close the backing
// store. It is safe to call more than once.
func (w *WriteBehind) Close() error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		close(w.closing)
		// Taking all the room waits until every queued use is written
		// and no Record is between its reservation and its send.
		for range cap(w.room) {
			w.room <- struct{}{}
		}
		close(w.queue)
		<-w.done
		if n := w.dropped.Load(); n > 0 {
			w.closeErr = fmt.Errorf("origin: close: %d uses were not written to the backing store: %w", n, w.Err())
		}
	})
	return w.closeErr
}

// WriteBehindStats are a WriteBehind's counters.
type WriteBehindStats struct {
	Credentials  int    // credentials whose history is in memory
	Queued       int    // uses (and flushes) queued and not yet written
	Hits, Misses uint64 // Lookups answered from memory, and from the backing store
	Batches      uint64 // batches written
	Written      uint64 // uses written
	WriteErrors  uint64 // attempts to write a batch that the backing store refused
	Dropped      uint64 // uses never written: still refused at Close
}

// Stats returns the counters since NewWriteBehind.
func (w *WriteBehind) Stats() WriteBehindStats {
	st := WriteBehindStats{
		Queued: len(w.room), Hits: w.hits.Load(), Misses: w.misses.Load(), Batches: w.batches.Load(),
		Written: w.written.Load(), WriteErrors: w.writeErrors.Load(), Dropped: w.dropped.Load(),
	}
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		st.Credentials += sh.n
		sh.mu.Unlock()
	}
	return st
}

// CacheStats counts the Lookups answered from memory (hits) and from the
// backing store (misses), as provost_cache_lookups_total reports them.
func (w *WriteBehind) CacheStats() (hits, misses uint64) {
	return w.hits.Load(), w.misses.Load()
}

func (sh *wbShard) unlink(e *wbEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (sh *wbShard) pushFront(e *wbEntry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// evict drops the least recently used entries from memory while there are
// more than max, skipping keep (which its caller is about to use) and those
// with uses not yet written.
func (sh *wbShard) evict(keep *wbEntry) {
	for scanned := 0; sh.n > sh.max && scanned < sh.n; scanned++ {
		e := sh.lru.prev
		sh.unlink(e)
		if e == keep || e.pending > 0 {
			sh.pushFront(e) // its uses are not in the backing store yet
			continue
		}
		sh.n--
		delete(sh.entries, e.fp)
		e.h = History{}
	}
}
