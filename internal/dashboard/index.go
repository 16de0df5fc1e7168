package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/trail"
)

// Index catch-up: the background sync indexes at most indexChunk records
// per round (so a query waits for one round at most), and a query brings
// the index up to the log itself when it is at most onDemand records
// behind.
const (
	indexChunk = 20_000
	onDemand   = 2_000
)

// indexer keeps the investigation index in step with the evidence log.
type indexer struct {
	x      *trail.Index
	log    trail.Source
	period time.Duration
	logger *slog.Logger

	mu sync.Mutex // one Sync at a time

	smu  sync.Mutex
	next int64 // records the index covers
	err  error // the last Sync's error
}

// bounded is the log as a Sync should see it: no larger than limit.
type bounded struct {
	trail.Source
	limit int64
}

func (b bounded) Size() int64 { return min(b.Source.Size(), b.limit) }

// run syncs every period until ctx is done.
func (i *indexer) run(ctx context.Context) {
	t := time.NewTicker(i.period)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			more, err := i.sync(ctx, indexChunk)
			if err != nil || !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync indexes at most chunk more records; more says whether the log
// holds more still.
func (i *indexer) sync(ctx context.Context, chunk int64) (more bool, err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	next, err := i.x.Next(ctx)
	if err == nil {
		var res trail.SyncResult
		res, err = trail.Sync(ctx, bounded{i.log, next + chunk}, i.x)
		next = res.Size
	}
	i.smu.Lock()
	defer i.smu.Unlock()
	if err != nil && ctx.Err() == nil {
		if i.err == nil || i.err.Error() != err.Error() {
			level := slog.LevelWarn
			if errors.Is(err, trail.ErrStale) {
				level = slog.LevelError
			}
			i.logger.LogAttrs(ctx, level, "dashboard: the investigation index is not in step with the evidence log", slog.Any("error", err))
		}
		i.err = err
		return false, err
	}
	i.err, i.next = nil, max(next, i.next)
	return next < i.log.Size(), nil
}

// catchUp brings the index up to the log when it is at most onDemand
// records behind; further behind, the background sync gets there.
func (i *indexer) catchUp(ctx context.Context) {
	st := i.status()
	if st.Size-st.Next > 0 && st.Size-st.Next <= onDemand {
		i.sync(ctx, onDemand)
	}
}

// indexStatus is how far the index covers the log.
type indexStatus struct {
	Next, Size int64
	Err        string
}

// Behind reports whether the log holds records the index does not.
func (s indexStatus) Behind() bool { return s.Next < s.Size }

func (i *indexer) status() indexStatus {
	size := i.log.Size()
	i.smu.Lock()
	defer i.smu.Unlock()
	st := indexStatus{Next: i.next, Size: size}
	if i.err != nil {
		st.Err = i.err.Error()
	}
	return st
}
