package dashboard

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
)

// shortLen is how much of a fingerprint a table shows: "fp1:" and 12
// characters, as `provost trail` does.
const shortLen = 16

// row is one decision as the decisions table, its JSON API and the live
// stream show it: never a raw credential, the credential by fingerprint.
type row struct {
	Index       int64     `json:"index"`
	Time        time.Time `json:"time"`
	Outcome     string    `json:"outcome"`           // allow, step_up, deny
	Actions     []string  `json:"actions,omitempty"` // revoke, alert
	Fingerprint string    `json:"fingerprint,omitempty"`
	Short       string    `json:"short,omitempty"` // the fingerprint as a table shows it
	Binding     string    `json:"binding,omitempty"`
	Mode        string    `json:"mode,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Workload    string    `json:"workload,omitempty"`
	Source      string    `json:"source,omitempty"` // the client address, or the peer's
	Reasons     []string  `json:"reasons,omitempty"`
	Method      string    `json:"method,omitempty"`
	Path        string    `json:"path,omitempty"`
}

func rowOf(idx int64, r *evidence.Record) row {
	out := row{Index: idx, Time: r.Time.UTC(), Outcome: string(r.Decision), Fingerprint: r.Fingerprint(),
		Short: short(r.Fingerprint()), Binding: r.Binding, Mode: string(r.Mode), Subject: r.Credential.Issuer.Subject,
		Workload: r.Origin.Workload, Source: r.Signals.Network.Client, Method: r.Request.Method, Path: r.Request.Path}
	if out.Source == "" {
		out.Source = r.Signals.Network.Peer
	}
	if out.Workload == "" && r.Signals.Workload.Problem.Code == "" {
		out.Workload = r.Signals.Workload.ID
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, string(a))
	}
	for _, c := range r.Reasons {
		out.Reasons = append(out.Reasons, string(c.Code))
	}
	return out
}

// short is a fingerprint cut for a table (the whole one is in the link).
func short(fp string) string {
	if len(fp) <= shortLen {
		return fp
	}
	return fp[:shortLen]
}

// Revoked reports whether the decision revoked its credential.
func (r row) Revoked() bool { return slices.Contains(r.Actions, "revoke") }

// filter selects decisions: the zero filter selects every one.
type filter struct {
	Outcome, Binding, Reason string
}

// maxFilterBytes bounds a filter's value.
const maxFilterBytes = 256

var errFilter = errors.New("filter")

// parseFilter reads ?outcome=&binding=&reason=.
func parseFilter(get func(string) string) (filter, error) {
	f := filter{Outcome: get("outcome"), Binding: get("binding"), Reason: get("reason")}
	switch f.Outcome {
	case "", "allow", "step_up", "deny":
	default:
		return f, errors.Join(errFilter, errors.New("outcome must be allow, step_up or deny"))
	}
	if len(f.Binding) > maxFilterBytes || len(f.Reason) > maxFilterBytes {
		return f, errors.Join(errFilter, errors.New("a filter value is longer than 256 bytes"))
	}
	return f, nil
}

func (f filter) match(r *row) bool {
	return (f.Outcome == "" || r.Outcome == f.Outcome) && (f.Binding == "" || r.Binding == f.Binding) &&
		(f.Reason == "" || slices.Contains(r.Reasons, f.Reason))
}

// Any reports whether the filter selects anything less than every decision.
func (f filter) Any() bool { return f != filter{} }

// Query is the filter as a query string ("" when empty).
func (f filter) Query() string {
	var parts []string
	for _, kv := range [][2]string{{"outcome", f.Outcome}, {"binding", f.Binding}, {"reason", f.Reason}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+url.QueryEscape(kv[1]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}
