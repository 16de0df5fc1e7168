package verdict

import "github.com/provost-dev/provost/reason"

// Mode says what a binding's decisions do.
type Mode string

// The modes.
const (
	ModeEnforce Mode = "enforce" // decisions are applied
	ModeMonitor Mode = "monitor" // decisions are recorded; requests are allowed
	ModeLearn   Mode = "learn"   // like monitor, and origins are kept to propose a binding
)

// CheckStatus is the outcome of one check.
type CheckStatus string

// The check outcomes.
const (
	StatusPass   CheckStatus = "pass"
	StatusFail   CheckStatus = "fail"
	StatusAbsent CheckStatus = "absent" // the signal was not presented
)

// Check is one signal compared against a binding: pass, fail or absent.
type Check struct {
	Signal   SignalName  `json:"signal"`
	Status   CheckStatus `json:"status"`
	Observed string      `json:"observed,omitempty"` // never a secret
	Expected string      `json:"expected,omitempty"`
	Reason   reason.Code `json:"reason,omitempty"`  // set for fail and absent
	Message  string      `json:"message,omitempty"` // plain words
	Evidence bool        `json:"evidence,omitempty"`
}
