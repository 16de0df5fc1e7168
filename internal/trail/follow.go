package trail

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
)

// ErrPosition is returned by Follow when the saved position does not
// belong to the log: another log's, past the log's end, or the record
// before it is not the one delivered.
var ErrPosition = errors.New("trail: the saved position does not match the evidence log")

// FollowSource is a log Follow reads, opened afresh each round so that it
// sees what a writer appended since: an *evidencelog.Log opened read-only.
type FollowSource interface {
	Source
	VerifierKey() string
	Close() error
}

// Batch is what one step of Follow delivers.
type Batch struct {
	// Entries are the records the matcher selects, in log order.
	Entries []Entry
	// Raw holds each entry's bytes as the log holds them.
	Raw [][]byte
	// Skipped are the indexes of log entries that are not evidence
	// records this Provost reads; they are not delivered.
	Skipped []int64
	// Position is where the follower stands once the batch is delivered.
	Position Position
}

// Follow streams a log's records as they are appended.
type Follow struct {
	// Open opens the log read-only.
	Open func(ctx context.Context) (FollowSource, error)
	// Match selects the records to deliver; nil delivers all.
	Match *Matcher
	// Poll is how long Follow waits, once it has caught up, before it
	// looks for new records.
	Poll time.Duration
	// Emit delivers a batch (writes and flushes it). It may be called with
	// no entries when none of a batch's records matched.
	Emit func(Batch) error
	// Save, when not nil, keeps the position after each emitted batch,
	// so a follower started again from it neither repeats nor misses a
	// record.
	Save func(Position) error
	// CaughtUp, when not nil, is called each time Follow has delivered
	// every record the log held and is about to wait.
	CaughtUp func(Position)
	// Progress, when not nil, is called after each batch with the records
	// read and the log's size at that round.
	Progress func(done, total int64)
}

// Run delivers the log's records from pos on, batch by batch (at most
// BatchSize records each), first Emit then Save, until ctx is done; then
// it returns nil. A batch being emitted when ctx ends is emitted and
// saved first. It returns an error wrapping ErrPosition when pos is not a
// position in this log, and the first error of Open, the log, Emit or
// Save.
func (f *Follow) Run(ctx context.Context, pos Position) error {
	for {
		if err := f.round(ctx, &pos); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if f.CaughtUp != nil {
			f.CaughtUp(pos)
		}
		t := time.NewTimer(f.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// round opens the log and delivers what it holds past pos.
func (f *Follow) round(ctx context.Context, pos *Position) error {
	l, err := f.Open(ctx)
	if err != nil {
		return err
	}
	defer l.Close()
	size := l.Size()
	if err := pos.check(ctx, l, size); err != nil {
		return err
	}
	for pos.Next < size {
		if ctx.Err() != nil {
			return nil
		}
		raw, err := l.Entries(ctx, pos.Next, min(pos.Next+BatchSize, size))
		if err != nil {
			return fmt.Errorf("trail: read the log at %d: %w", pos.Next, err)
		}
		if len(raw) == 0 {
			return fmt.Errorf("trail: the log returned no records at %d of %d", pos.Next, size)
		}
		b := f.batch(pos.Next, raw)
		last := leaf(raw[len(raw)-1])
		b.Position = Position{Log: l.VerifierKey(), Next: pos.Next + int64(len(raw)), LastLeaf: base64.StdEncoding.EncodeToString(last[:])}
		if err := f.Emit(b); err != nil {
			return err
		}
		if f.Save != nil {
			if err := f.Save(b.Position); err != nil {
				return err
			}
		}
		*pos = b.Position
		if f.Progress != nil {
			f.Progress(pos.Next, size)
		}
	}
	return nil
}

// batch decodes raw, the log's records from start, and keeps those Match
// selects.
func (f *Follow) batch(start int64, raw [][]byte) Batch {
	var b Batch
	for i, data := range raw {
		r, err := evidence.Unmarshal(data)
		if err != nil {
			b.Skipped = append(b.Skipped, start+int64(i))
			continue
		}
		if f.Match != nil && !f.Match.Match(&r) {
			continue
		}
		b.Entries = append(b.Entries, Entry{Index: start + int64(i), Record: r})
		b.Raw = append(b.Raw, data)
	}
	return b
}
