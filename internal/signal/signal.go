// Package signal holds the observed facts about one request's origin.
//
// A transport fills a Request; the engine turns it into Signals by verifying
// what was presented (workload identity, proxy chain, posture) and resolving
// what was observed (network path, time). Bindings compare Signals against
// the approved context; detectors compare them against origin history.
//
// Each signal is either absent (nothing was presented), present and verified,
// or present and invalid (Error says why). An invalid signal is never
// treated as absent: a forged hop header fails, it does not vanish.
package signal

import (
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// The signal types are defined in the public package verdict, so that
// embedders can name what a Decision carries.
type (
	Name           = verdict.SignalName
	Signals        = verdict.Signals
	Problem        = verdict.Problem
	WorkloadSignal = verdict.WorkloadSignal
	NetworkSignal  = verdict.NetworkSignal
	ProxySignal    = verdict.ProxySignal
	PostureSignal  = verdict.PostureSignal
	CISignal       = verdict.CISignal
	TimeSignal     = verdict.TimeSignal
)

// The signals.
const (
	Workload   = verdict.SignalWorkload
	Network    = verdict.SignalNetwork
	ProxyChain = verdict.SignalProxyChain
	Posture    = verdict.SignalPosture
	Issuer     = verdict.SignalIssuer
	CI         = verdict.SignalCI
	Time       = verdict.SignalTime
	Possession = verdict.SignalPossession
	Rule       = verdict.SignalRule
)

// Names lists every signal name, for config validation.
var Names = verdict.SignalNames

// ProblemOf turns a verification error into a Problem.
func ProblemOf(err error) Problem {
	if err == nil {
		return Problem{}
	}
	return Problem{Code: reason.Of(err), Message: reason.MessageOf(err)}
}
