package server

import (
	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/verdict"
)

// checkAnswer is the body of a check API answer: its own type, so that the
// wire format (docs/openapi.yaml, CheckAnswer) changes only here and on
// purpose. TestCheckAnswerGolden ties the two together.
type checkAnswer struct {
	Decision     string            `json:"decision"`
	Credential   answerCredential  `json:"credential"`
	Provenance   string            `json:"provenance"`
	Binding      string            `json:"binding,omitempty"`
	Mode         string            `json:"mode"`
	Checks       []answerCheck     `json:"checks"`
	Findings     []answerReason    `json:"findings"`
	Reasons      []answerReason    `json:"reasons"`
	Actions      []string          `json:"actions"`
	Tags         []answerTag       `json:"tags"`
	Signals      verdict.Signals   `json:"signals"`
	Origin       answerOrigin      `json:"origin"`
	RevocationID string            `json:"revocation_id,omitempty"`
	RequestID    string            `json:"request_id"`
	Evidence     *answerEvidenceID `json:"evidence,omitempty"`
}

type answerCredential struct {
	Verdict      string             `json:"verdict"`
	Reason       string             `json:"reason"`
	Message      string             `json:"message"`
	Kind         string             `json:"kind,omitempty"`
	Fingerprint  string             `json:"fingerprint,omitempty"`
	Metadata     verdict.Metadata   `json:"metadata"`
	Possession   verdict.Possession `json:"possession"`
	RevocationID string             `json:"revocation_id,omitempty"`
	DPoPNonce    string             `json:"dpop_nonce,omitempty"`
}

type answerCheck struct {
	Signal   string `json:"signal"`
	Status   string `json:"status"`
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Evidence bool   `json:"evidence,omitempty"`
}

type answerReason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type answerTag struct {
	Framework string `json:"framework"`
	ID        string `json:"id"`
	Name      string `json:"name"`
}

type answerOrigin struct {
	Workload   string `json:"workload,omitempty"`
	Network    string `json:"network,omitempty"`
	ProxyChain string `json:"proxy_chain,omitempty"`
	Posture    string `json:"posture,omitempty"`
}

type answerEvidenceID struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

// answerOf renders d; requestID is the id the logs name the request by.
func answerOf(d *provost.Decision, requestID string) checkAnswer {
	c := &d.Credential
	a := checkAnswer{
		Decision: string(d.Outcome),
		Credential: answerCredential{Verdict: string(c.Verdict), Reason: string(c.Reason), Message: c.Message, Kind: string(c.Kind),
			Fingerprint: c.Fingerprint, Metadata: c.Metadata, Possession: c.Possession, RevocationID: c.RevocationID, DPoPNonce: c.DPoPNonce},
		Provenance: string(d.Provenance), Binding: d.Binding, Mode: string(d.Mode),
		Checks: make([]answerCheck, len(d.Checks)), Findings: make([]answerReason, len(d.Findings)),
		Reasons: make([]answerReason, len(d.Reasons)), Actions: make([]string, len(d.Actions)), Tags: make([]answerTag, len(d.Tags)),
		Signals:      d.Signals,
		Origin:       answerOrigin{Workload: d.Origin.Workload, Network: d.Origin.Network, ProxyChain: d.Origin.ProxyChain, Posture: d.Origin.Posture},
		RevocationID: d.RevocationID, RequestID: requestID,
	}
	for i, x := range d.Checks {
		a.Checks[i] = answerCheck{Signal: string(x.Signal), Status: string(x.Status), Observed: x.Observed, Expected: x.Expected,
			Reason: string(x.Reason), Message: x.Message, Evidence: x.Evidence}
	}
	for i, f := range d.Findings {
		a.Findings[i] = answerReason{Code: string(f.Code), Message: f.Message}
	}
	for i, r := range d.Reasons {
		a.Reasons[i] = answerReason{Code: string(r.Code), Message: r.Message}
	}
	for i, x := range d.Actions {
		a.Actions[i] = string(x)
	}
	for i, t := range d.Tags {
		a.Tags[i] = answerTag{Framework: t.Framework, ID: t.ID, Name: t.Name}
	}
	if d.Evidence != nil {
		a.Evidence = &answerEvidenceID{Index: d.Evidence.Index, LeafHash: d.Evidence.LeafHash}
	}
	return a
}
