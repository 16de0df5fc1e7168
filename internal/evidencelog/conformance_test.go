package evidencelog_test

import (
	"context"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/evidencelog/evidencetest"
)

// TestSQLiteConformance runs the conformance suite against the SQLite log in
// durable mode, in async mode, and in async mode with a commit delay, which
// keeps records queued (accepted, not yet committed) long enough for Flush,
// Close and the caller's buffer reuse to matter.
func TestSQLiteConformance(t *testing.T) {
	modes := []struct {
		name string
		opts evidencelog.Options
	}{
		{"durable", evidencelog.Options{}},
		{"async", evidencelog.Options{Async: true}},
		{"async batched", evidencelog.Options{Async: true, MaxDelay: 10 * time.Millisecond}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			evidencetest.Run(t, func(t *testing.T, dir string) evidencetest.Log {
				opts := m.opts
				opts.Name = "provost.evidence/conformance"
				opts.CheckpointInterval = -1 // sign on demand: the suite checks every checkpoint covers the log
				l, err := evidencelog.Open(context.Background(), dir, opts)
				if err != nil {
					t.Fatal(err)
				}
				if l.Durable() == opts.Async {
					t.Fatalf("Durable() = %v with Async %v", l.Durable(), opts.Async)
				}
				t.Cleanup(func() { l.Close() })
				return l
			})
		})
	}
}
