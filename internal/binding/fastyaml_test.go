package binding

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yamlDecode is what the YAML package makes of a block of items: the fast
// path's oracle.
func yamlDecode(src []byte) ([]bindingDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var docs []bindingDoc
	err := dec.Decode(&docs)
	return docs, err
}

// fastOnBlock splits a block of items as parseSplit does and decodes its
// items on the fast path; items is the part of block they are in (what
// follows, from a line at column 0, is not), and ok is false when the block
// is not split or the fast path gives up.
func fastOnBlock(block []byte) (docs []bindingDoc, items []byte, ok bool) {
	const head = "bindings:\n"
	data := append([]byte(head), block...)
	lay, ok := split(data)
	if !ok || lay.items == 0 {
		return nil, nil, false
	}
	for _, b := range lay.batches {
		d, ok := fastDecode(data[b.start:b.end], lay.itemCol, b.n, nil)
		if !ok {
			return nil, nil, false
		}
		docs = append(docs, d...)
	}
	return docs, data[lay.batches[0].start:lay.batches[len(lay.batches)-1].end], true
}

// checkFast: whatever the fast path decodes, the YAML package decodes to
// the same values.
func checkFast(t testing.TB, block []byte) bool {
	t.Helper()
	fast, items, ok := fastOnBlock(block)
	if !ok {
		return false
	}
	want, err := yamlDecode(items)
	if err != nil {
		t.Fatalf("the fast path decodes what the YAML package refuses (%v):\n%s", err, items)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("the fast path decodes\n%#v\nthe YAML package\n%#v\nfrom:\n%s", fast, want, items)
	}
	return true
}

func TestFastYAML(t *testing.T) {
	cases := []struct {
		name, block string
		fast        bool // decoded on the fast path
	}{
		{"block", "  - name: a\n    mode: monitor\n    match:\n      issuer: https://i.example/x\n      subject: 'repo:acme/*'\n    honeytoken: true\n", true},
		{"flow", "- {name: a, match: {fingerprints: [" + fpDeploy + ", " + fpOld + "], claims: {env: \"prod*\", 'x y': v}}}\n", false},
		{"flow item mapping", "  - name: a\n    match: {fingerprints: [" + fpDeploy + ", " + fpOld + "], claims: {env: \"prod*\", 'x y': v}}\n", true},
		{"block sequence", "  - name: a\n    match: {issuer: x}\n    require:\n      workloads:\n        - spiffe://acme/a/*\n        - \"spiffe://acme/b\"\n", true},
		{"compact block sequence", "  - name: a\n    match: {issuer: x}\n    require:\n      workloads:\n      - spiffe://acme/a\n", false},
		{"comments", "# lead\n  - name: a   # the name\n    # between\n    match:   # below\n      issuer: x #  end\n\n", true},
		{"every field", "  - name: a\n    mode: enforce\n    match: {fingerprints: [], issuer: i, subject: s, claims: {}, api_key: k}\n" +
			"    require:\n      workloads: []\n      networks: [build, 10.0.0.0/8]\n      proxy_chain: [edge]\n      posture: {os: linux}\n" +
			"      ci: {repository: acme/x, repository_id: '1', workflow_ref: w, runner_environment: r, environment: e, event: push}\n" +
			"      time:\n        windows: [{days: [mon, tue], hours: '08:00-20:00', tz: Europe/Berlin}, {}]\n        max_token_age: 1h\n        max_idle: 720h\n" +
			"      possession: dpop\n      rule: 'signals.request.method == \"GET\"'\n    require_evidence: [workload]\n    on_violation: step_up\n    honeytoken: false\n", true},
		{"two items", "  - name: a\n    match: {issuer: x}\n  - name: b\n    match: {issuer: y}\n", true},
		{"extra dash spaces", "  -   name: a\n      match: {issuer: x}\n", true},
		{"single-quote escape", "  - name: a\n    match: {subject: 'it''s'}\n", true},
		{"numbers and booleans as strings", "  - name: 0x1F\n    mode: yes\n    match: {issuer: 1.5e3, subject: true, api_key: 08:00}\n", true},
		{"alias", "  - name: a\n    match: {subject: *x}\n", false},
		{"anchor", "  - name: a\n    match: &m {subject: x}\n", false},
		{"tag", "  - name: !!str a\n    match: {subject: x}\n", false},
		{"null", "  - name: a\n    match: {subject: ~}\n", false},
		{"empty value", "  - name: a\n    mode:\n    match: {subject: x}\n", false},
		{"null in a sequence", "  - name: a\n    match: {fingerprints: [null]}\n", false},
		{"backslash", "  - name: a\n    match: {subject: \"a\\tb\"}\n", false},
		{"tab", "  - name: a\n    match: {subject:\tx}\n", false},
		{"non-ASCII", "  - name: a\n    match: {subject: é}\n", false},
		{"block scalar", "  - name: a\n    match: {issuer: x}\n    require:\n      rule: |\n        true\n", false},
		{"multi-line flow", "  - name: a\n    match: {issuer: x,\n      subject: y}\n", false},
		{"plain with space", "  - name: my binding\n    match: {issuer: x}\n", false},
		{"unknown field", "  - name: a\n    colour: red\n    match: {issuer: x}\n", false},
		{"repeated field", "  - name: a\n    name: b\n    match: {issuer: x}\n", false},
		{"repeated claim", "  - name: a\n    match: {claims: {a: x, 'a': y}}\n", false},
		{"wrong type", "  - name: [a]\n    match: {issuer: x}\n", false},
		{"quoted boolean", "  - name: a\n    match: {issuer: x}\n    honeytoken: 'true'\n", false},
		{"other boolean", "  - name: a\n    match: {issuer: x}\n    honeytoken: yes\n", false},
		{"key without space", "  - name: a\n    match: {issuer:x}\n", false},
		{"comma without space", "  - name: a\n    match: {fingerprints: [a,'b',c], claims: {a: b,c: d}}\n", true},
		{"comma before the bracket", "  - name: a\n    match: {fingerprints: [a, ]}\n", false},
		{"trailing colon", "  - name: a:\n    match: {issuer: x}\n", false},
		{"comment without space", "  - name: a#x\n    match: {issuer: x}\n", false},
		{"deeper line", "  - name: a\n      mode: monitor\n    match: {issuer: x}\n", false},
		{"long key", "  - name: a\n    match: {claims: {" + strings.Repeat("k", 1100) + ": v}}\n", false},
		{"dash scalar", "  - name: -a\n    match: {issuer: x}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkFast(t, []byte(c.block)); got != c.fast {
				t.Errorf("decoded on the fast path: %v, want %v", got, c.fast)
			}
		})
	}
}

// fastGen writes random items in and near the subset: the values, the
// styles (block or flow, quoting), the spacing and comments vary, and a
// few bytes may be changed afterwards.
type fastGen struct{ r *rand.Rand }

var (
	fastKeys    = []string{"mode", "on_violation", "honeytoken", "match", "require", "require_evidence"}
	fastMatch   = []string{"fingerprints", "issuer", "subject", "claims", "api_key"}
	fastRequire = []string{"workloads", "networks", "proxy_chain", "posture", "ci", "time", "possession", "rule"}
	fastScalars = []string{"a", "x-1", "repo:acme/*", "https://i.example/p", "fp1:AB_c-9", "true", "false", "08:00", "0x1F", "1.5", "x.y_z+1@b", "it's", ""}
	// Values outside the subset, or not plain, now and then.
	fastOdd = []string{"~", "null", "*", "a b", "-x", "@x", "a:", "a#b", "é", "a\tb", "\\", `"`, "{x}", "[x]", "a,b", "yes", "*x", "&x", "!x", "|", "x: y", "colour", "%x", "a:b:"}
)

// pick picks one of vals, or now and then an odd value.
func (g fastGen) pick(vals []string) string {
	if g.r.IntN(80) == 0 {
		return fastOdd[g.r.IntN(len(fastOdd))]
	}
	return vals[g.r.IntN(len(vals))]
}

// scalar writes s plain, single- or double-quoted.
func (g fastGen) scalar(s string) string {
	if s == "" || s == "it's" {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	switch g.r.IntN(4) {
	case 0:
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	case 1:
		return `"` + s + `"`
	}
	return s
}

// seq writes a sequence of n values, in flow style (or, unless flow, now
// and then in block style below indent).
func (g fastGen) seq(indent int, flow bool) string {
	n := g.r.IntN(4)
	items := make([]string, n)
	for i := range items {
		items[i] = g.scalar(g.pick(fastScalars))
	}
	if flow || g.r.IntN(3) > 0 || n == 0 {
		return " [" + strings.Join(items, g.pick([]string{", ", ",", " , "})) + "]"
	}
	var sb strings.Builder
	col := strings.Repeat(" ", indent+g.r.IntN(3))
	for _, it := range items {
		sb.WriteString("\n" + col + "- " + it)
	}
	return sb.String()
}

// mapping writes some of keys, each once (now and then one twice), in
// random order, in flow style or, unless flow, in block style at indent
// (always, with block).
func (g fastGen) mapping(indent int, flow bool, keys []string) string {
	return g.mappingStyle(indent, flow, !flow && g.r.IntN(3) > 0, keys)
}

func (g fastGen) mappingStyle(indent int, flow, block bool, keys []string) string {
	keys = slices.Clone(keys)
	g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	keys = keys[:1+g.r.IntN(len(keys))]
	if g.r.IntN(40) == 0 {
		keys = append(keys, keys[0])
	}
	if !block {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + g.value(k, 0, true)
		}
		return " {" + strings.Join(parts, ", ") + "}"
	}
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString("\n" + strings.Repeat(" ", indent) + k + ":" + g.value(k, indent+2, false))
		if g.r.IntN(8) == 0 {
			sb.WriteString(" # note")
		}
	}
	return sb.String()
}

// value writes the value of key, starting with a space or a new line.
func (g fastGen) value(key string, indent int, flow bool) string {
	switch key {
	case "match":
		return g.mapping(indent, flow, fastMatch)
	case "require":
		return g.mapping(indent, flow, fastRequire)
	case "fingerprints", "workloads", "networks", "proxy_chain", "require_evidence":
		return g.seq(indent, flow)
	case "claims", "posture":
		return " {" + g.scalar(g.pick([]string{"a", "b", "env"})) + ": " + g.scalar(g.pick(fastScalars)) + "}"
	case "ci":
		return " {repository: " + g.scalar(g.pick(fastScalars)) + ", event: push}"
	case "time":
		return " {windows: [{days: [mon], hours: " + g.scalar(g.pick(fastScalars)) + "}], max_idle: 1h}"
	case "honeytoken":
		return " " + g.pick([]string{"true", "false"})
	}
	return " " + g.scalar(g.pick(fastScalars))
}

func (g fastGen) block() []byte {
	var sb strings.Builder
	for range 1 + g.r.IntN(3) {
		sb.WriteString("  - name: " + g.scalar(g.pick(fastScalars)))
		sb.WriteString(g.mappingStyle(4, false, true, fastKeys) + "\n")
	}
	b := []byte(sb.String())
	for range g.r.IntN(3) * g.r.IntN(2) * g.r.IntN(2) { // now and then, a few bytes changed
		const noise = " -:#'\"[]{},*\n\ta"
		b[g.r.IntN(len(b))] = noise[g.r.IntN(len(noise))]
	}
	return b
}

// TestFastYAMLDifferential: over random items, whatever the fast path
// decodes, the YAML package decodes the same.
func TestFastYAMLDifferential(t *testing.T) {
	g := fastGen{rand.New(rand.NewPCG(5, 6))}
	fast := 0
	const n = 20000
	for range n {
		if checkFast(t, g.block()) {
			fast++
		}
	}
	// The generator must reach the fast path often, or the comparison says little.
	if fast < n/20 {
		t.Errorf("only %d of %d blocks were decoded on the fast path", fast, n)
	}
	t.Logf("%d of %d blocks decoded on the fast path", fast, n)
}

// FuzzFastYAML: whatever the fast path decodes, the YAML package decodes
// to the same values.
func FuzzFastYAML(f *testing.F) {
	g := fastGen{rand.New(rand.NewPCG(7, 8))}
	for range 20 {
		f.Add(g.block())
	}
	var sb strings.Builder
	if err := writeScaleFile(&sb, 10, 3); err != nil {
		f.Fatal(err)
	}
	_, block, _ := strings.Cut(sb.String(), "bindings:\n")
	f.Add([]byte(block))
	f.Fuzz(func(t *testing.T, block []byte) {
		checkFast(t, block)
	})
}
