package origin

import (
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/origin"
)

// The contract of origin history is defined in the public package origin,
// so that embedders can plug their own store; this package holds the
// detectors, the SQLite store and its cache.
type (
	Origin  = origin.Origin
	Seen    = origin.Seen
	History = origin.History
	Use     = origin.Use
	Store   = origin.Store
	Finding = origin.Finding
)

// Size limits checked by Use.Validate.
const (
	MaxOrigins      = origin.MaxOrigins
	MaxLearned      = origin.MaxLearned
	MaxFieldBytes   = origin.MaxFieldBytes
	MaxBindingBytes = origin.MaxBindingBytes
)

// ErrInvalid is wrapped by every error Use.Validate returns.
var ErrInvalid = origin.ErrInvalid

// CompareSeen orders Seen as History.Origins are ordered.
func CompareSeen(a, b Seen) int { return origin.CompareSeen(a, b) }

// FromSignals returns the origin of a request: the workload ID, proxy chain
// and posture class only when the signal was presented and verified (an
// invalid signal gives ""), and the network origin as resolved.
func FromSignals(s *signal.Signals) Origin {
	var o Origin
	if s == nil {
		return o
	}
	if s.Workload.Present && !s.Workload.Problem.Invalid() {
		o.Workload = s.Workload.ID
	}
	o.Network = s.Network.Origin
	if s.Proxy.Present && !s.Proxy.Problem.Invalid() {
		o.ProxyChain = s.Proxy.Chain()
	}
	if s.Posture.Present && !s.Posture.Problem.Invalid() {
		o.Posture = s.Posture.Class
	}
	return o
}
