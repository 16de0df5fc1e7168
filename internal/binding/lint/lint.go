package lint

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
)

// Severity says how much a finding matters.
type Severity string

// Warning is a likely mistake in a file that loads and runs.
const Warning Severity = "warning"

// Rule names a lint rule; the names are stable.
type Rule string

// The rules.
const (
	ApprovesAnyOrigin          Rule = "approves_any_origin"
	UnreachableBinding         Rule = "unreachable_binding"
	LearnMode                  Rule = "learn_mode"
	HoneytokenWithRequirements Rule = "honeytoken_with_requirements"
	UnusedNetwork              Rule = "unused_network"
)

// Finding is one problem in a bindings file.
type Finding struct {
	Rule     Rule
	Severity Severity
	File     string // the set's File
	Line     int    // 1-based; 0 when unknown
	Field    string // the field path, such as "bindings[2].match" or "networks.datacenter"
	Message  string // plain words, naming the binding or network
}

// String writes the finding as "file:line: warning: message" (without the
// line when it is unknown).
func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Severity, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", f.File, f.Severity, f.Message)
}

// Findings runs every rule over set: the bindings' findings in file order,
// then the unused networks sorted by name. src is the file's content, read
// only to give each finding its line; with nil (or a document that does not
// parse) the lines are 0.
func Findings(set *binding.Set, src []byte) []Finding {
	lines := linesOf(src)
	var out []Finding
	add := func(r Rule, field, format string, args ...any) {
		out = append(out, Finding{Rule: r, Severity: Warning, File: set.File, Line: lines.line(field), Field: field,
			Message: fmt.Sprintf(format, args...)})
	}
	used := map[string]bool{}
	named := set.Networks()
	firstWith := make(map[string]*binding.Binding, len(set.Bindings)) // by matchKey
	for i, b := range set.Bindings {
		p := fmt.Sprintf("bindings[%d]", i)
		for _, n := range b.Require.Networks {
			if _, ok := named[n]; ok && !looksLikeAddress(n) {
				used[n] = true
			}
		}
		if requiresNothing(b) && !b.Honeytoken {
			add(ApprovesAnyOrigin, p, "binding %s requires nothing and no evidence: it approves any origin", b.Name)
		}
		if key := matchKey(&b.Match); firstWith[key] != nil {
			add(UnreachableBinding, p+".match", "binding %s is unreachable: binding %s before it has the identical match", b.Name, firstWith[key].Name)
		} else {
			firstWith[key] = b
		}
		if b.Mode == binding.ModeLearn {
			add(LearnMode, p, "binding %s is in learn mode: it allows every request; tighten it with `provost bindings propose --binding %s`", b.Name, b.Name)
		}
		if b.Honeytoken && !requiresNothing(b) {
			add(HoneytokenWithRequirements, p, "binding %s is a honeytoken with requirements: a honeytoken is always denied, so they are never used", b.Name)
		}
	}
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !used[n] {
			add(UnusedNetwork, "networks."+n, "network %s is used by no binding", n)
		}
	}
	return out
}

// requiresNothing reports whether b has no requirement and no evidence.
func requiresNothing(b *binding.Binding) bool {
	r := &b.Require
	return len(r.Workloads) == 0 && len(r.Networks) == 0 && len(r.ProxyChain) == 0 && len(r.Posture) == 0 &&
		r.CI == nil && r.Time == nil && r.Possession == "" && r.Rule == "" && len(b.RequireEvidence) == 0
}

// matchKey writes a match section as written, fingerprints as a set and
// claims in name order, so that two sections are identical exactly when
// their keys are equal: each part is length-prefixed, so none can run into
// the next. One map of keys finds every unreachable binding in one pass.
func matchKey(m *binding.MatchSpec) string {
	var sb strings.Builder
	part := func(s string) {
		sb.WriteString(strconv.Itoa(len(s)))
		sb.WriteByte(':')
		sb.WriteString(s)
	}
	fps := slices.Compact(slices.Sorted(slices.Values(m.Fingerprints)))
	sb.WriteString(strconv.Itoa(len(fps)))
	sb.WriteByte('|')
	for _, fp := range fps {
		part(fp)
	}
	part(m.Issuer)
	part(m.Subject)
	part(m.APIKey)
	sb.WriteString(strconv.Itoa(len(m.Claims)))
	sb.WriteByte('|')
	for _, k := range slices.Sorted(maps.Keys(m.Claims)) {
		part(k)
		part(m.Claims[k])
	}
	return sb.String()
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

func linesOf(src []byte) yamlLines {
	if len(src) == 0 || len(src) > binding.MaxFileBytes {
		return yamlLines{}
	}
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil || len(root.Content) == 0 {
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
