package backtest

import (
	"context"
	"fmt"
	"iter"

	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/reason"
)

// Outcome is what one decision was, or would be.
type Outcome struct {
	Decision   decision.Outcome    `json:"decision"`
	Provenance decision.Provenance `json:"provenance"`
	Binding    string              `json:"binding,omitempty"`
	Reasons    []reason.Code       `json:"reasons"`
}

// differs reports whether the decision, the provenance verdict or the
// reason codes (in order) differ. A binding renamed alone is no change.
func (o Outcome) differs(p Outcome) bool {
	return o.Decision != p.Decision || o.Provenance != p.Provenance || !slices.Equal(o.Reasons, p.Reasons)
}

// Change is one past request the candidate would decide differently.
type Change struct {
	Index       int64     `json:"index"`
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Before      Outcome   `json:"before"`
	After       Outcome   `json:"after"`
}

// Skip is a candidate binding the replay cannot evaluate, reported once,
// with the number of requests left out because of it.
type Skip struct {
	Binding  string `json:"binding"`
	Why      string `json:"why"`
	Requests int    `json:"requests"`
}

// Result is the outcome of a backtest.
type Result struct {
	Total         int64    `json:"total"`    // records read
	Replayed      int64    `json:"replayed"` // records compared (rejected credentials included)
	Changed       int64    `json:"changed"`  // every change, also those past MaxChanges
	Changes       []Change `json:"changes"`
	NotReplayable []Skip   `json:"not_replayable,omitempty"`
}

// MaxChanges bounds the changes a Result lists; Result.Changed counts them all.
const MaxChanges = 100000

// Replayer replays records one by one against a candidate, so a caller can
// stream a large log through it. It is not safe for concurrent use.
type Replayer struct {
	set   *binding.Set
	nets  network.Sets
	res   Result
	skips map[string]int // binding name -> index in res.NotReplayable
}

// New returns a Replayer for the candidate bindings.
func New(candidate *binding.Set) *Replayer {
	return &Replayer{set: candidate, nets: candidate.Networks(), skips: map[string]int{}}
}

// Run replays every record of records (index, record) against candidate.
// It stops at the first error records yields, or when ctx is done.
func Run(ctx context.Context, records iter.Seq2[int64, evidence.Record], candidate *binding.Set) (Result, error) {
	r := New(candidate)
	n := 0
	for i, rec := range records {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return r.Result(), err
			}
		}
		r.Replay(i, &rec)
	}
	return r.Result(), ctx.Err()
}

// Slice adapts records to Run, indexing them from 0.
func Slice(records []evidence.Record) iter.Seq2[int64, evidence.Record] {
	return func(yield func(int64, evidence.Record) bool) {
		for i, r := range records {
			if !yield(int64(i), r) {
				return
			}
		}
	}
}

// Result returns what the replay found so far.
func (r *Replayer) Result() Result {
	out := r.res
	out.Changes = slices.Clone(out.Changes)
	out.NotReplayable = slices.Clone(out.NotReplayable)
	return out
}

// Replay decides the record at index again and returns the change, if the
// candidate's decision differs from the recorded one. An event record (an
// operator's revocation) is no past request: it is not counted.
func (r *Replayer) Replay(index int64, rec *evidence.Record) (Change, bool) {
	if !rec.IsDecision() {
		return Change{}, false
	}
	r.res.Total++
	before := Outcome{Decision: rec.Decision, Provenance: rec.Provenance, Binding: rec.Binding, Reasons: codes(rec.Reasons)}
	if rec.Credential.Verdict != credential.Accepted {
		r.res.Replayed++ // credential checks are not replayed: it stays rejected
		return Change{}, false
	}
	cred := credentialOf(rec)
	b := r.set.Match(&cred)
	if skip, why := r.unreplayable(b, &cred); skip != nil {
		r.skip(skip.Name, why)
		return Change{}, false
	}
	r.res.Replayed++
	sig := r.signalsOf(rec, cred)
	in := decision.Input{Credential: cred, Binding: b, Mode: r.set.Mode}
	if b != nil {
		in.Mode = b.Mode
		in.Checks = b.Evaluate(&sig)
	}
	if in.Mode != binding.ModeLearn {
		in.Findings = historyFindings(rec)
	}
	if id := sig.Workload.ID; id != "" && !r.set.NamesWorkload(id) {
		in.Findings = append(in.Findings, origin.Finding{Code: reason.ShadowAutomation,
			Message: fmt.Sprintf("the workload %s is named by no binding", id)})
	}
	d := decision.Decide(in)
	after := Outcome{Decision: d.Outcome, Provenance: d.Provenance, Binding: d.Binding, Reasons: d.Codes()}
	if !before.differs(after) {
		return Change{}, false
	}
	c := Change{Index: index, Time: rec.Time.Time, RequestID: rec.RequestID,
		Fingerprint: rec.Credential.Fingerprint, Subject: rec.Credential.Issuer.Subject, Before: before, After: after}
	r.res.Changed++
	if len(r.res.Changes) < MaxChanges {
		r.res.Changes = append(r.res.Changes, c)
	}
	return c, true
}

func (r *Replayer) skip(name, why string) {
	if i, ok := r.skips[name]; ok {
		r.res.NotReplayable[i].Requests++
		return
	}
	r.skips[name] = len(r.res.NotReplayable)
	r.res.NotReplayable = append(r.res.NotReplayable, Skip{Binding: name, Why: why, Requests: 1})
}

// unreplayable returns the binding that makes this request impossible to
// replay, and why: a claim-matching binding before the matched one (in file
// order) that the recorded fields do not rule out, or a matched binding
// whose requirements read claims.
func (r *Replayer) unreplayable(matched *binding.Binding, c *credential.Result) (*binding.Binding, string) {
	for _, b := range r.set.Bindings {
		if b == matched {
			break
		}
		if len(b.Match.Claims) > 0 && mayMatch(&b.Match, c) {
			return b, "it matches on claims, which evidence records do not keep"
		}
	}
	if matched == nil {
		return nil, ""
	}
	for k := range matched.Require.Posture {
		if !slices.Contains(postureFields, k) {
			return matched, "it requires the posture claim " + k + ", which evidence records do not keep"
		}
	}
	if strings.Contains(matched.Require.Rule, "claims") {
		return matched, "its rule reads claims, which evidence records do not keep"
	}
	return nil, ""
}

// postureFields are the posture fields a record keeps.
var postureFields = []string{"attestor", "host_id", "image_digest", "runner_type", "os", "class"}

// mayMatch reports whether the recorded, exact criteria of m leave it
// possible that m matched c. The subject glob is not checked: it only
// makes the answer more cautious.
func mayMatch(m *binding.MatchSpec, c *credential.Result) bool {
	md := &c.Metadata
	switch {
	case m.Issuer != "" && m.Issuer != md.Issuer,
		m.APIKey != "" && m.APIKey != md.APIKey,
		len(m.Fingerprints) > 0 && !slices.Contains(m.Fingerprints, c.Fingerprint):
		return false
	}
	return true
}

func codes(rs []evidence.Reason) []reason.Code {
	out := make([]reason.Code, len(rs))
	for i, x := range rs {
		out[i] = x.Code
	}
	return out
}

// historyCodes are the findings of the detectors over origin history.
var historyCodes = []reason.Code{reason.DormantRevival, reason.CopiedCredential, reason.SourceDrift, reason.ConcurrentOrigins}

// historyFindings are the recorded findings that depend on origin history.
func historyFindings(rec *evidence.Record) []origin.Finding {
	var out []origin.Finding
	for _, x := range rec.Reasons {
		if slices.Contains(historyCodes, x.Code) {
			out = append(out, origin.Finding{Code: x.Code, Message: x.Message})
		}
	}
	return out
}
