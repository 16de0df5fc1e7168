package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// feedBatch is how many records the feed reads at once (the log's bound
// on one read).
const feedBatch = evidencelog.MaxEntries

// subscriberBuffer bounds the decisions queued for one live stream; a
// stream that falls further behind is ended (the browser reconnects and
// replays from its last event).
const subscriberBuffer = 256

// feed tails the evidence log: it reads every record once, from the first,
// into the overview's aggregate, and sends the records appended after it
// started to the live streams.
type feed struct {
	log    evidencelog.Reader
	poll   time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	started bool
	live    int64 // records from this index on are sent to streams
	next    int64 // records read
	size    int64 // the log's size when last looked at
	skipped int64 // entries that are not evidence records
	err     error // the last read's error, nil once a read succeeds
	agg     *aggregate
	subs    map[*subscriber]struct{}
}

// subscriber is one live stream's queue.
type subscriber struct {
	ch     chan row
	filter filter
	// over is closed when the stream fell behind (or the feed stopped).
	over   chan struct{}
	closed bool
}

func newFeed(log evidencelog.Reader, poll time.Duration, logger *slog.Logger) *feed {
	return &feed{log: log, poll: poll, logger: logger, agg: newAggregate(), subs: map[*subscriber]struct{}{}}
}

// run reads the log until ctx is done, then ends every stream.
func (f *feed) run(ctx context.Context) {
	f.mu.Lock()
	f.live, f.started = f.log.Size(), true
	f.mu.Unlock()
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		f.step(ctx)
		select {
		case <-ctx.Done():
			f.stop()
			return
		case <-t.C:
		}
	}
}

// step reads what the log holds past next.
func (f *feed) step(ctx context.Context) {
	for ctx.Err() == nil {
		size := f.log.Size()
		f.mu.Lock()
		next := f.next
		f.size = size
		f.mu.Unlock()
		if next >= size {
			return
		}
		raw, err := f.log.Entries(ctx, next, min(next+feedBatch, size))
		if err == nil && len(raw) == 0 {
			err = errNoEntries
		}
		if err != nil {
			if ctx.Err() == nil {
				f.logger.LogAttrs(ctx, slog.LevelWarn, "dashboard: reading the evidence log", slog.Int64("at", next), slog.Any("error", err))
			}
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
			return
		}
		f.add(next, raw)
	}
}

type feedError string

func (e feedError) Error() string { return string(e) }

const errNoEntries = feedError("the evidence log returned no records")

// add takes records start, start+1, ... into the aggregate and sends the
// live ones to the streams.
func (f *feed) add(start int64, raw [][]byte) {
	recs := make([]*evidence.Record, len(raw))
	for i, b := range raw {
		if r, err := evidence.Unmarshal(b); err == nil {
			recs[i] = &r
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range recs {
		idx := start + int64(i)
		if r == nil {
			f.skipped++
			continue
		}
		f.agg.add(idx, r)
		if idx >= f.live && r.IsDecision() {
			f.publish(rowOf(idx, r))
		}
	}
	f.next, f.err = start+int64(len(raw)), nil
}

// publish queues a decision for every stream it passes the filter of;
// a stream whose queue is full is ended. f.mu is held.
func (f *feed) publish(r row) {
	for s := range f.subs {
		if !s.filter.match(&r) {
			continue
		}
		select {
		case s.ch <- r:
		default:
			f.drop(s)
		}
	}
}

// drop ends a stream's subscription. f.mu is held.
func (f *feed) drop(s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.over)
	}
	delete(f.subs, s)
}

// subscribe opens a queue of the live decisions fl selects; from is the
// index of the first record the queue can carry (earlier ones are read
// from the log).
func (f *feed) subscribe(fl filter) (s *subscriber, from int64) {
	s = &subscriber{ch: make(chan row, subscriberBuffer), filter: fl, over: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s] = struct{}{}
	return s, max(f.next, f.live)
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	f.drop(s)
	f.mu.Unlock()
}

// stop ends every stream.
func (f *feed) stop() {
	f.mu.Lock()
	for s := range f.subs {
		f.drop(s)
	}
	f.mu.Unlock()
}

// feedStatus is how far the feed has read.
type feedStatus struct {
	Read, Size, Skipped int64
	Err                 string
}

// CaughtUp reports whether every record of the log was read.
func (s feedStatus) CaughtUp() bool { return s.Read >= s.Size && s.Err == "" }

func (f *feed) status() feedStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := feedStatus{Read: f.next, Size: max(f.size, f.next), Skipped: f.skipped}
	if f.err != nil {
		st.Err = f.err.Error()
	}
	return st
}
