package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
)

// ---- lint ----

func cmdBindingsLint(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost bindings lint", "usage: provost bindings lint [--config FILE | BINDINGS.yaml] [--warnings-ok]\n"+
		"Checks the bindings file (the one the configuration names, or BINDINGS.yaml). Exit 2: it does not load; 1: warnings.", stderr)
	cfgFile := fs.String("config", "provost.yaml", "configuration `file` naming the bindings file")
	warningsOK := fs.Bool("warnings-ok", false, "exit 0 even when there are warnings")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && flagGiven(fs, "config") {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	if path == "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			fmt.Fprintln(stderr, "provost bindings lint:", err)
			return exitUsage
		}
		if cfg.Bindings == "" {
			fmt.Fprintf(stderr, "provost bindings lint: %s names no bindings file (bindings:)\n", cfg.File)
			return exitUsage
		}
		path = cfg.Resolve(cfg.Bindings)
	}
	set, err := binding.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: %s, %s, mode %s\n", set.File, plural(len(set.Bindings), "binding"), plural(len(set.Networks()), "network"), set.Mode)
	for _, b := range set.Bindings {
		fmt.Fprintln(stdout, "  "+describeBinding(b))
	}
	warnings := lintWarnings(set)
	for _, w := range warnings {
		fmt.Fprintln(stdout, w)
	}
	fmt.Fprintln(stdout, plural(len(warnings), "warning"))
	if len(warnings) > 0 && !*warningsOK {
		return exitFail
	}
	return exitOK
}

// describeBinding is one line: name, mode, match, require, on_violation.
func describeBinding(b *binding.Binding) string {
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

// plural writes "1 warning", "2 warnings".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
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

// requiresNothing reports whether b has no requirement and no evidence.
func requiresNothing(b *binding.Binding) bool {
	r := &b.Require
	return len(r.Workloads) == 0 && len(r.Networks) == 0 && len(r.ProxyChain) == 0 && len(r.Posture) == 0 &&
		r.CI == nil && r.Time == nil && r.Possession == "" && r.Rule == "" && len(b.RequireEvidence) == 0
}

// sameMatch reports whether two match sections are identical as written
// (fingerprints compared as a set).
func sameMatch(a, b *binding.MatchSpec) bool {
	fa, fb := slices.Clone(a.Fingerprints), slices.Clone(b.Fingerprints)
	slices.Sort(fa)
	slices.Sort(fb)
	return slices.Equal(slices.Compact(fa), slices.Compact(fb)) && a.Issuer == b.Issuer && a.Subject == b.Subject &&
		a.APIKey == b.APIKey && len(a.Claims) == len(b.Claims) && mapsEqual(a.Claims, b.Claims)
}

func mapsEqual(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// lintWarnings returns the warnings about set, each "file:line: warning: ...".
func lintWarnings(set *binding.Set) []string {
	lines := lintLines(set.File)
	at := func(path string) string {
		if l := lines.line(path); l > 0 {
			return fmt.Sprintf("%s:%d: warning: ", set.File, l)
		}
		return set.File + ": warning: "
	}
	var out []string
	used := map[string]bool{}
	named := set.Networks()
	for i, b := range set.Bindings {
		p := fmt.Sprintf("bindings[%d]", i)
		for _, n := range b.Require.Networks {
			if _, ok := named[n]; ok && !looksLikeAddress(n) {
				used[n] = true
			}
		}
		if requiresNothing(b) && !b.Honeytoken {
			out = append(out, at(p)+fmt.Sprintf("binding %s requires nothing and no evidence: it approves any origin", b.Name))
		}
		for _, earlier := range set.Bindings[:i] {
			if sameMatch(&earlier.Match, &b.Match) {
				out = append(out, at(p+".match")+fmt.Sprintf("binding %s is unreachable: binding %s before it has the identical match", b.Name, earlier.Name))
				break
			}
		}
		if b.Mode == binding.ModeLearn {
			out = append(out, at(p)+fmt.Sprintf("binding %s is in learn mode: it allows every request; tighten it with `provost bindings propose --binding %s`", b.Name, b.Name))
		}
		if b.Honeytoken && !requiresNothing(b) {
			out = append(out, at(p)+fmt.Sprintf("binding %s is a honeytoken with requirements: a honeytoken is always denied, so they are never used", b.Name))
		}
	}
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !used[n] {
			out = append(out, at("networks."+n)+fmt.Sprintf("network %s is used by no binding", n))
		}
	}
	return out
}

// looksLikeAddress tells an inline CIDR or address from a network name, as
// the bindings file does.
func looksLikeAddress(e string) bool {
	if strings.ContainsAny(e, "/:") {
		return true
	}
	_, err := netip.ParseAddr(e)
	return err == nil
}

// yamlLines finds the line of a field path ("bindings[2].match",
// "networks.build-hosts") in a YAML document; 0 when unknown.
type yamlLines struct{ root *yaml.Node }

func lintLines(path string) yamlLines {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > binding.MaxFileBytes {
		return yamlLines{}
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return yamlLines{}
	}
	return yamlLines{root: root.Content[0]}
}

func (y yamlLines) line(path string) int {
	if y.root == nil {
		return 0
	}
	if n := config.Node(y.root, path); n != nil {
		return n.Line
	}
	return 0
}
