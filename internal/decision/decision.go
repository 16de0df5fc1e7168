package decision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// The decision's types are defined in the public package verdict, so that
// embedders can name what a Decision carries.
type (
	Outcome    = verdict.Outcome
	Provenance = verdict.Provenance
	Action     = verdict.Action
	Reason     = verdict.Reason
	Decision   = verdict.Decision
)

// Outcomes, verdicts and actions.
const (
	Allow        = verdict.Allow
	StepUp       = verdict.StepUp
	Deny         = verdict.Deny
	Verified     = verdict.Verified
	Violated     = verdict.Violated
	Insufficient = verdict.Insufficient
	Revoke       = verdict.Revoke
	Alert        = verdict.Alert
)

// rank orders outcomes, least strict first.
func rank(o Outcome) int {
	switch o {
	case Allow:
		return 0
	case StepUp:
		return 1
	}
	return 2
}

// Input is everything Decide needs.
type Input struct {
	Credential credential.Result
	// Binding is the matched binding, nil when none matched.
	Binding *binding.Binding
	// Mode is the binding's mode, or the global mode when none matched.
	Mode     binding.Mode
	Checks   []binding.Check
	Findings []origin.Finding
}

// draft is a Decision being built by Decide.
type draft struct{ *Decision }

// Decide applies the rules in the package documentation.
func Decide(in Input) Decision {
	d := draft{&Decision{
		Credential: in.Credential,
		Mode:       in.Mode,
		Checks:     nonNil(in.Checks),
		Findings:   nonNil(in.Findings),
		Reasons:    []Reason{},
		Actions:    []Action{},
	}}
	if in.Binding != nil {
		d.Binding = in.Binding.Name
	}
	out := Allow
	switch {
	case !in.Credential.Accepted():
		out = Deny
		d.Provenance = Insufficient
		if possessionFailure(in.Credential.Reason) {
			d.Provenance = Violated
		}
		d.add(in.Credential.Reason, in.Credential.Message)
	case in.Binding == nil:
		d.Provenance = Insufficient
		d.add(reason.ShadowAutomation, "no binding matches this accepted credential: it is automation nobody approved a context for")
		d.act(Alert)
		out = Deny
	default:
		out = d.judgeBinding(in)
	}
	for _, f := range in.Findings {
		out = stricter(out, d.finding(in, f))
	}
	// A honeytoken alerts on every use, even when its binding was revoked
	// (the credential is then rejected, but it was still presented).
	if in.Binding != nil && in.Binding.Honeytoken {
		d.add(reason.Honeytoken, "this credential is a honeytoken: no legitimate caller holds it")
		d.act(Alert)
		out = Deny
	}
	d.Outcome = d.applyMode(in, out)
	if len(d.Reasons) == 0 {
		d.add(reason.ProvenanceVerified, "the credential was accepted and the request came from its approved context")
	}
	d.Tags = tagsFor(d.Codes())
	return *d.Decision
}

// judgeBinding sets the provenance verdict from the checks and returns the
// outcome the binding asks for.
func (d draft) judgeBinding(in Input) Outcome {
	violated, insufficient := false, false
	for _, c := range in.Checks {
		evidence := c.Evidence || slices.Contains(in.Binding.RequireEvidence, c.Signal)
		switch {
		case c.Status == binding.StatusFail, c.Status == binding.StatusAbsent && !evidence:
			violated = true
			d.add(c.Reason, checkMessage(c))
		case c.Status == binding.StatusAbsent:
			insufficient = true
			d.add(c.Reason, checkMessage(c))
		}
	}
	switch {
	case violated:
		d.Provenance = Violated
		return d.onViolation(in.Binding.OnViolation)
	case insufficient:
		d.Provenance = Insufficient
		d.add(reason.EvidenceInsufficient, "the binding requires more evidence of where the request came from: re-authenticate from the approved context")
		return StepUp
	}
	d.Provenance = Verified
	return Allow
}

func (d draft) onViolation(a binding.Action) Outcome {
	switch a {
	case binding.ActionStepUp:
		return StepUp
	case binding.ActionRevoke:
		d.act(Revoke)
		d.act(Alert)
		return Deny
	case binding.ActionAlert:
		d.act(Alert)
		return Allow
	}
	d.act(Alert)
	return Deny
}

// finding records one detector finding and returns the outcome it asks for.
func (d draft) finding(in Input, f origin.Finding) Outcome {
	d.add(f.Code, f.Message)
	d.act(Alert)
	revoke := in.Binding != nil && in.Binding.OnViolation == binding.ActionRevoke
	switch f.Code {
	case reason.CopiedCredential:
		// A copy used elsewhere is a violation of where the credential
		// may be used, whatever the binding's checks found.
		d.Provenance = Violated
		if revoke {
			d.act(Revoke)
		}
		return Deny
	case reason.SourceDrift:
		if revoke {
			d.act(Revoke)
			return Deny
		}
		return StepUp
	case reason.DormantRevival:
		return StepUp
	case reason.ShadowAutomation:
		if in.Binding == nil && in.Credential.Accepted() {
			return Deny
		}
	}
	return Allow
}

// applyMode turns the outcome into the decision the mode allows.
func (d draft) applyMode(in Input, out Outcome) Outcome {
	if in.Mode == binding.ModeEnforce || in.Mode == "" || !in.Credential.Accepted() {
		return out
	}
	if in.Binding != nil && in.Binding.Honeytoken {
		return out // nobody legitimate holds a honeytoken: denied in every mode
	}
	if out != Allow {
		code := reason.MonitorWouldDeny
		if out == StepUp {
			code = reason.MonitorWouldStepUp
		}
		d.add(code, fmt.Sprintf("%s mode: the request is allowed, but enforce mode would answer %s", in.Mode, out))
		d.Actions = slices.DeleteFunc(d.Actions, func(a Action) bool { return a == Revoke })
		d.act(Alert)
	}
	return Allow
}

func (d draft) add(code reason.Code, msg string) {
	for _, r := range d.Reasons {
		if r.Code == code && r.Message == msg {
			return
		}
	}
	d.Reasons = append(d.Reasons, Reason{Code: code, Message: msg})
}

func (d draft) act(a Action) {
	if !slices.Contains(d.Actions, a) {
		d.Actions = append(d.Actions, a)
	}
}

func stricter(a, b Outcome) Outcome {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func checkMessage(c binding.Check) string {
	if c.Message != "" {
		return c.Message
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s check %s", c.Signal, c.Status)
	if c.Observed != "" {
		fmt.Fprintf(&b, ": observed %s", c.Observed)
	}
	if c.Expected != "" {
		fmt.Fprintf(&b, ", expected %s", c.Expected)
	}
	return b.String()
}

func possessionFailure(c reason.Code) bool {
	return strings.HasPrefix(string(c), "dpop_") || strings.HasPrefix(string(c), "mtls_")
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
