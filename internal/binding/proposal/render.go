package proposal

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/origin"
)

// Binding returns the binding named name in set, the one a proposal
// replaces (its match is copied into the proposal).
func Binding(set *binding.Set, name string) (*binding.Binding, error) {
	i := slices.IndexFunc(set.Bindings, func(b *binding.Binding) bool { return b.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("binding %s is not in %s: the proposal copies its match from there", name, set.File)
	}
	return set.Bindings[i], nil
}

// Render writes the proposal for cur from the origins seen under it (as
// origin.Store.Learned returns them, last seen since from) as one item of
// a bindings list, indented to sit under `bindings:`, with a comment
// saying what it was learned from. Learned workloads, networks and proxy
// chain replace cur's; its other requirements, match, require_evidence and
// on_violation are kept. The error means the proposal is not a valid
// binding.
func Render(cur *binding.Binding, seen []origin.Seen, from time.Time) (string, error) {
	out, err := render(cur, seen, from)
	if err != nil {
		return "", err
	}
	if _, err := binding.Parse("(proposal)", []byte("version: 1\nbindings:\n"+out)); err != nil {
		return "", err
	}
	return out, nil
}

func render(cur *binding.Binding, seen []origin.Seen, from time.Time) (string, error) {
	p := origin.Propose(seen)
	var b strings.Builder
	fmt.Fprintf(&b, "  # Proposed by provost bindings propose from learn mode: %s from %s,\n",
		plural(int(p.Uses), "use"), plural(len(seen), "origin"))
	fmt.Fprintf(&b, "  # first seen %s, last seen %s (origins last seen since %s).\n",
		p.First.UTC().Format(time.RFC3339), p.Last.UTC().Format(time.RFC3339), from.Format(time.RFC3339))
	fmt.Fprintf(&b, "  - name: %s\n", cur.Name)
	b.WriteString("    mode: monitor # watch the decisions it would make, then set enforce\n")
	match, err := yamlBlock(cur.Match, "      ")
	if err != nil {
		return "", err
	}
	b.WriteString("    match:\n" + match)
	req, err := require(cur, seen, p)
	if err != nil {
		return "", err
	}
	b.WriteString(req)
	if len(cur.RequireEvidence) > 0 {
		ev := make([]string, len(cur.RequireEvidence))
		for i, n := range cur.RequireEvidence {
			ev[i] = string(n)
		}
		fmt.Fprintf(&b, "    require_evidence: %s\n", flowList(ev))
	}
	fmt.Fprintf(&b, "    on_violation: %s\n", cur.OnViolation)
	return b.String(), nil
}

// require writes the require section: a learned signal is required only
// when every origin presented it, so the proposal covers them all.
func require(cur *binding.Binding, seen []origin.Seen, p origin.Proposal) (string, error) {
	var lines []string
	missing := func(f func(origin.Origin) string) int {
		n := 0
		for _, s := range seen {
			if f(s.Origin) == "" {
				n++
			}
		}
		return n
	}
	r := cur.Require
	for _, l := range []struct {
		key         string
		values, was []string
		field       func(origin.Origin) string
	}{
		{"workloads", p.Workloads, r.Workloads, func(o origin.Origin) string { return o.Workload }},
		{"networks", p.Networks, r.Networks, func(o origin.Origin) string { return o.Network }},
	} {
		switch m := missing(l.field); {
		case len(l.values) == 0 && len(l.was) > 0:
			lines = append(lines, fmt.Sprintf("# %s: %s # dropped: no origin presented one", l.key, flowList(l.was)))
		case len(l.values) == 0:
		case m > 0:
			lines = append(lines, fmt.Sprintf("# %s: %s # not required: %d of %d origins presented none", l.key, flowList(l.values), m, len(seen)))
		default:
			lines = append(lines, fmt.Sprintf("%s: %s", l.key, flowList(l.values)))
		}
	}
	lines = append(lines, chain(seen, p)...)
	if len(p.ProxyChains) == 0 && len(r.ProxyChain) > 0 {
		lines = append(lines, fmt.Sprintf("# proxy_chain: %s # dropped: no use came through a proxy chain", flowList(r.ProxyChain)))
	}
	if len(p.PostureClasses) > 0 {
		lines = append(lines, fmt.Sprintf("# posture classes seen: %s (posture requirements are claims: write require.posture with the claims these classes stand for)",
			strings.Join(p.PostureClasses, ", ")))
	}
	kept, err := yamlBlock(binding.RequireSpec{Posture: r.Posture, CI: r.CI, Time: r.Time, Possession: r.Possession, Rule: r.Rule}, "      ")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if kept == "" && !slices.ContainsFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "#") }) {
		b.WriteString("    require: {}\n")
	} else {
		b.WriteString("    require:\n")
	}
	for _, l := range lines {
		b.WriteString("      " + l + "\n")
	}
	b.WriteString(kept)
	return b.String(), nil
}

// chain requires the proxy chain only when every use came through the same
// one; otherwise it lists the chains seen.
func chain(seen []origin.Seen, p origin.Proposal) []string {
	chains := map[string]bool{}
	for _, s := range seen {
		chains[s.Origin.ProxyChain] = true
	}
	switch {
	case len(p.ProxyChains) == 0:
		return nil
	case len(chains) == 1:
		return []string{"proxy_chain: " + flowList(strings.Split(p.ProxyChains[0], ">"))}
	}
	list := make([]string, 0, len(chains))
	for c := range chains {
		if c == "" {
			c = "(none)"
		}
		list = append(list, c)
	}
	slices.Sort(list)
	return []string{"# proxy chains seen (not required: not every use came through the same one): " + strings.Join(list, ", ")}
}

// flowList writes a YAML flow sequence of double-quoted strings.
func flowList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// yamlBlock marshals v as block YAML with every line indented; "" for an
// empty mapping.
func yamlBlock(v any, indent string) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if s == "{}" || s == "" {
		return "", nil
	}
	var b strings.Builder
	for l := range strings.SplitSeq(s, "\n") {
		b.WriteString(indent + l + "\n")
	}
	return b.String(), nil
}

// plural writes "1 use", "2 uses".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
