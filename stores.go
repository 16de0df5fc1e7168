package provost

import (
	"context"
	"time"

	"github.com/provost-dev/provost/origin"
	"github.com/provost-dev/provost/revocation"
	"github.com/provost-dev/provost/verdict"
)

// Stores are where an Engine keeps what outlives one request. Each is a
// small interface with a conformance suite that every backend passes; the
// embedded default (SQLite files in a data directory and an in-memory replay
// cache) is opened by `provost serve` and its siblings. The Engine does not
// close them: whoever opened them does.
type Stores struct {
	// Revocations are enforced on every request and written when a
	// decision revokes.
	Revocations revocation.Store
	// Origins is each credential's origin history, for the detectors.
	Origins origin.Store
	// Replay remembers DPoP proofs (and anything else used once).
	Replay ReplayCache
	// Evidence is where every decision's record is written before the
	// decision is answered.
	Evidence EvidenceLog
}

// ReplayCache is an atomic check-and-set over keys that expire.
type ReplayCache interface {
	// Seen records key until `until` and reports whether key was already
	// recorded and unexpired. An error means the answer is unknown: the
	// engine fails closed.
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// EvidenceLog is an append-only log of evidence records.
type EvidenceLog interface {
	// Append adds one record and returns where it is. An error means the
	// record was not written: the decision is not answered (fail closed).
	Append(ctx context.Context, record []byte) (verdict.EvidenceRef, error)
}
