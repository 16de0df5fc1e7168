package app

import (
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// appendObserver hands each evidence append's duration and error to the
// function ObserveEvidenceAppends set, if any: the engine takes its
// stores before the metrics exist.
type appendObserver struct {
	f atomic.Pointer[func(time.Duration, error)]
}

func (o *appendObserver) observe(took time.Duration, err error) {
	if f := o.f.Load(); f != nil {
		(*f)(took, err)
	}
}

// ObserveEvidenceAppends makes f see every append to the evidence log:
// how long it took (in the default durable mode, until the record was on
// disk; in async mode, until it was queued) and its error. It replaces
// the f given before; nil stops.
func (d *Data) ObserveEvidenceAppends(f func(took time.Duration, err error)) {
	if f == nil {
		d.appends.f.Store(nil)
		return
	}
	d.appends.f.Store(&f)
}

// EvidenceQueueDepth is the number of records appended to the evidence log
// and not yet committed (SQLite: written and fsynced; PostgreSQL: queued in
// this replica), or -1 when the log cannot tell.
func (d *Data) EvidenceQueueDepth() int64 {
	switch l := d.Evidence.(type) {
	case *evidencelog.Log:
		return l.Stats().Pending
	case *evidencelog.Postgres:
		return l.Stats().Pending
	}
	return -1
}
