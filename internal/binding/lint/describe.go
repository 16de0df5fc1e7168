package lint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/provost-dev/provost/internal/binding"
)

// Describe summarises b in one line: name, mode, match, require,
// on_violation, and whether it is a honeytoken. Values holding spaces or
// quotes are quoted.
func Describe(b *binding.Binding) string {
	line := fmt.Sprintf("%s (%s): match %s; require %s; on_violation %s",
		b.Name, b.Mode, matchText(&b.Match), requireText(b), b.OnViolation)
	if b.Honeytoken {
		line += "; honeytoken"
	}
	return line
}

func matchText(m *binding.MatchSpec) string {
	var parts []string
	if len(m.Fingerprints) > 0 {
		parts = append(parts, fmt.Sprintf("fingerprints(%d)", len(m.Fingerprints)))
	}
	parts = appendKV(parts, "issuer", m.Issuer)
	parts = appendKV(parts, "subject", m.Subject)
	parts = appendMap(parts, "claims.", m.Claims)
	parts = appendKV(parts, "api_key", m.APIKey)
	return strings.Join(parts, " ")
}

func requireText(b *binding.Binding) string {
	r := &b.Require
	var parts []string
	parts = appendKV(parts, "workloads", strings.Join(r.Workloads, ","))
	parts = appendKV(parts, "networks", strings.Join(r.Networks, ","))
	parts = appendKV(parts, "proxy_chain", strings.Join(r.ProxyChain, ">"))
	parts = appendMap(parts, "posture.", r.Posture)
	if r.CI != nil {
		c := r.CI
		parts = appendMap(parts, "ci.", map[string]string{"repository": c.Repository, "repository_id": c.RepositoryID,
			"workflow_ref": c.WorkflowRef, "runner_environment": c.RunnerEnvironment, "environment": c.Environment, "event": c.Event})
	}
	if t := r.Time; t != nil {
		for _, w := range t.Windows {
			parts = append(parts, "time.window="+windowText(w))
		}
		parts = appendKV(parts, "time.max_token_age", t.MaxTokenAge)
		parts = appendKV(parts, "time.max_idle", t.MaxIdle)
	}
	parts = appendKV(parts, "possession", r.Possession)
	if r.Rule != "" {
		parts = append(parts, "rule="+strconv.Quote(r.Rule))
	}
	ev := make([]string, len(b.RequireEvidence))
	for i, n := range b.RequireEvidence {
		ev[i] = string(n)
	}
	parts = appendKV(parts, "evidence", strings.Join(ev, ","))
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

func windowText(w binding.WindowSpec) string {
	days, hours, tz := strings.Join(w.Days, ","), w.Hours, w.TZ
	if days == "" {
		days = "every-day"
	}
	if hours == "" {
		hours = "all-day"
	}
	if tz == "" {
		tz = "UTC"
	}
	return days + " " + hours + " " + tz
}

func appendKV(parts []string, k, v string) []string {
	if v == "" {
		return parts
	}
	if strings.ContainsAny(v, " \t\"") {
		v = strconv.Quote(v)
	}
	return append(parts, k+"="+v)
}

func appendMap(parts []string, prefix string, m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = appendKV(parts, prefix+k, m[k])
	}
	return parts
}
