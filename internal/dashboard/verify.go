package dashboard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// verifier is an evidence log that can check itself against its
// checkpoints (*evidencelog.Log, *evidencelog.Postgres).
type verifier interface {
	Verify(ctx context.Context, progress func(done, total int64)) error
}

// Verification states.
const (
	verifyIdle     = "idle"
	verifyRunning  = "running"
	verifyVerified = "verified"
	verifyFailed   = "failed"
)

// verifyJob is the one verification of the log the dashboard runs at a
// time (Verify now).
type verifyJob struct {
	mu  sync.Mutex
	st  verifyState
	run sync.WaitGroup
}

// verifyState is a verification's progress and result, as GET
// /ui/api/verify answers it.
type verifyState struct {
	State    string    `json:"state"` // idle, running, verified, failed
	Done     int64     `json:"done"`
	Total    int64     `json:"total"`
	Result   string    `json:"result,omitempty"`
	By       string    `json:"by,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

// Percent is how far it got, 0 to 100.
func (s verifyState) Percent() int64 {
	if s.Total <= 0 {
		if s.State == verifyVerified {
			return 100
		}
		return 0
	}
	return min(100, s.Done*100/s.Total)
}

func (v *verifyJob) state() verifyState {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.st
	if s.State == "" {
		s.State = verifyIdle
	}
	return s
}

// start begins verifying l unless a verification is running; it reports
// whether it began one. The verification stops when ctx ends.
func (v *verifyJob) start(ctx context.Context, l evidencelog.Reader, by string, now func() time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.st.State == verifyRunning {
		return false
	}
	v.st = verifyState{State: verifyRunning, By: by, Started: now().UTC()}
	vl, ok := l.(verifier)
	if !ok {
		v.st.State, v.st.Result, v.st.Finished = verifyFailed, fmt.Sprintf("this evidence log (%T) cannot be verified here; use provost trail verify", l), now().UTC()
		return true
	}
	v.run.Add(1)
	go func() {
		defer v.run.Done()
		err := vl.Verify(ctx, func(done, total int64) {
			v.mu.Lock()
			v.st.Done, v.st.Total = done, total
			v.mu.Unlock()
		})
		v.mu.Lock()
		defer v.mu.Unlock()
		v.st.Finished = now().UTC()
		if err != nil {
			v.st.State, v.st.Result = verifyFailed, "NOT VERIFIED: "+err.Error()
			return
		}
		v.st.State, v.st.Done = verifyVerified, max(v.st.Done, v.st.Total)
		v.st.Result = checkpointLine(ctx, l)
	}()
	return true
}

// checkpointLine says what the verified log's latest checkpoint is.
func checkpointLine(ctx context.Context, l evidencelog.Reader) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		return "verified; no checkpoint signed yet"
	}
	c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return "verified; the latest checkpoint does not open: " + err.Error()
	}
	return fmt.Sprintf("verified against every checkpoint; the latest covers %d records (root %s)", c.Size, c.Root)
}

// wait waits for a verification in progress to end.
func (v *verifyJob) wait() { v.run.Wait() }
