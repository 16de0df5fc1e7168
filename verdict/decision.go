package verdict

import (
	"github.com/provost-dev/provost/origin"
	"github.com/provost-dev/provost/reason"
)

// Outcome is the decision: allow, step_up (force re-authentication) or deny.
type Outcome string

// Outcomes, least strict first.
const (
	Allow  Outcome = "allow"
	StepUp Outcome = "step_up"
	Deny   Outcome = "deny"
)

// Provenance is the provenance verdict: did the request come from its
// approved context?
type Provenance string

// Provenance verdicts.
const (
	Verified     Provenance = "verified"
	Violated     Provenance = "violated"
	Insufficient Provenance = "insufficient"
)

// Action is something done because of the decision.
type Action string

// Actions.
const (
	Revoke Action = "revoke"
	Alert  Action = "alert"
)

// Reason is one stable code with its plain-word sentence.
type Reason struct {
	Code    reason.Code `json:"code"`
	Message string      `json:"message"`
}

// Tag is a reference to a framework control or risk that a finding concerns.
type Tag struct {
	Framework string `json:"framework"`
	ID        string `json:"id"`
	Name      string `json:"name"`
}

// EvidenceRef names a decision's record in the evidence log.
type EvidenceRef struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"` // base64, RFC 6962 leaf hash of the record
}

// Decision is Provost's answer for one request: both verdicts, the outcome
// with its actions and reasons, and everything observed on the way. It
// never holds a raw credential.
type Decision struct {
	// Outcome is allow, step_up or deny; act on it, and use the reason
	// codes for detail.
	Outcome    Outcome    `json:"decision"`
	Credential Credential `json:"credential"`
	Provenance Provenance `json:"provenance"`
	// Binding names the binding that matched, "" when none did.
	Binding  string           `json:"binding,omitempty"`
	Mode     Mode             `json:"mode"`
	Checks   []Check          `json:"checks"`
	Findings []origin.Finding `json:"findings"`
	Reasons  []Reason         `json:"reasons"`
	Actions  []Action         `json:"actions"`
	Tags     []Tag            `json:"tags"`
	// Signals is everything observed about the request.
	Signals Signals `json:"signals"`
	// Origin is where the request came from, as origin history keeps it.
	Origin origin.Origin `json:"origin"`
	// RevocationID names the revocation written because of this decision.
	RevocationID string `json:"revocation_id,omitempty"`
	// RequestID names the request; Evidence its record in the evidence log
	// (nil when none could be written).
	RequestID string       `json:"request_id"`
	Evidence  *EvidenceRef `json:"evidence,omitempty"`
}

// Codes returns the decision's reason codes, in order.
func (d *Decision) Codes() []reason.Code {
	out := make([]reason.Code, len(d.Reasons))
	for i, r := range d.Reasons {
		out[i] = r.Code
	}
	return out
}

// Has reports whether code is among the decision's reasons.
func (d *Decision) Has(code reason.Code) bool {
	for _, r := range d.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}
