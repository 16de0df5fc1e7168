package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/origin"
)

// ---- propose ----

func cmdBindingsPropose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost bindings propose", "usage: provost bindings propose --binding NAME [--since 720h] [--config FILE] [--data-dir DIR]\n"+
		"Prints, as YAML to paste under bindings:, the tightest binding covering the origins the learn-mode binding NAME saw.", stderr)
	name := fs.String("binding", "", "the learn-mode binding's `name`")
	since := fs.Duration("since", 720*time.Hour, "consider origins last seen within this `duration`")
	cfgFile := fs.String("config", "provost.yaml", "configuration `file`")
	dataDir := fs.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *name == "" || *since <= 0 || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cur, dir, err := proposeInputs(*cfgFile, *dataDir, *name)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitUsage
	}
	from := time.Now().Add(-*since).UTC()
	seen, err := learned(ctx, filepath.Join(dir, "origins.db"), *name, from)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitFail
	}
	if len(seen) == 0 {
		fmt.Fprintf(stderr, "provost bindings propose: nothing was learned for binding %s since %s (origin history in %s): is it in learn mode, and has it seen requests?\n",
			*name, from.Format(time.RFC3339), dir)
		return exitFail
	}
	out, err := renderProposal(cur, seen, from)
	if err == nil {
		_, err = binding.Parse("(proposal)", []byte("version: 1\nbindings:\n"+out))
	}
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose: the proposal is not a valid binding:", err)
		return exitFail
	}
	fmt.Fprint(stdout, out)
	return exitOK
}

// proposeInputs loads the current binding named name (its match is copied
// into the proposal) and finds the data directory as the engine does.
func proposeInputs(cfgFile, dataDir, name string) (*binding.Binding, string, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return nil, "", err
	}
	if cfg.Bindings == "" {
		return nil, "", fmt.Errorf("%s names no bindings file, so binding %s has no match to copy", cfg.File, name)
	}
	set, err := binding.Load(cfg.Resolve(cfg.Bindings))
	if err != nil {
		return nil, "", err
	}
	i := slices.IndexFunc(set.Bindings, func(b *binding.Binding) bool { return b.Name == name })
	if i < 0 {
		return nil, "", fmt.Errorf("binding %s is not in %s: the proposal copies its match from there", name, set.File)
	}
	if dataDir == "" {
		dataDir = cfg.DataDirPath()
	}
	return set.Bindings[i], dataDir, nil
}

// learned reads the origins learned for name since from, without creating
// a history that does not exist.
func learned(ctx context.Context, db, name string, from time.Time) ([]origin.Seen, error) {
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	h, err := origin.OpenSQLite(ctx, db)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Learned(ctx, name, from)
}

// renderProposal writes the proposal as one item of a bindings list,
// indented to sit under `bindings:`. Learned workloads, networks and proxy
// chain replace the current binding's; its other requirements, match,
// require_evidence and on_violation are kept.
func renderProposal(cur *binding.Binding, seen []origin.Seen, from time.Time) (string, error) {
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
	req, err := proposedRequire(cur, seen, p)
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

// proposedRequire writes the require section: a learned signal is required
// only when every origin presented it, so the proposal covers them all.
func proposedRequire(cur *binding.Binding, seen []origin.Seen, p origin.Proposal) (string, error) {
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
	lines = append(lines, proposedChain(seen, p)...)
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

// proposedChain requires the proxy chain only when every use came through
// the same one; otherwise it lists the chains seen.
func proposedChain(seen []origin.Seen, p origin.Proposal) []string {
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
