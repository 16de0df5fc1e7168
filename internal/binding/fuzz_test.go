package binding

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse: Parse never panics; whatever parses can be written back from
// its exported views and parses again to the same bindings, and evaluates
// without panicking. A document read in batches gives what the whole
// document gives.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(base))
	f.Add([]byte(withRequire("      time:", "        windows: [{days: [fri], hours: \"22:00-06:00\", tz: Europe/Berlin}]")))
	f.Add([]byte(withRequire("      rule: 'signals.workload.present'", "      networks: [build, 192.0.2.0/24]")))
	f.Add([]byte("version: 1\nbindings:\n  - name: a\n    match: {subject: \"a*b*c\", claims: {x: \"*\"}}\n"))
	f.Add([]byte("version: 1\n---\n"))
	f.Add([]byte("version: 1\nbindings:\n  - name: a\n    match: {issuer: \"x\n  - name: b\"}\n  - name: c\n    match: &m {issuer: y}\n"))
	f.Add([]byte("bindings:\n- name: a\n  match: {issuer: x,\nversion: 1}\nversion: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if split, err := parseSplit(context.Background(), "f.yaml", data); err == nil {
			whole, err := parseWhole("f.yaml", data)
			if err != nil {
				t.Fatalf("read in batches, it loads; whole, it does not: %v", err)
			}
			if d := sameSet(split, whole); d != "" {
				t.Fatalf("read in batches, it differs: %s", d)
			}
		}
		s, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(writeBack(s))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		s2, err := Parse("f2.yaml", out)
		if err != nil {
			t.Fatalf("written back, it no longer parses: %v\n%s", err, out)
		}
		if len(s2.Bindings) != len(s.Bindings) || s2.Mode != s.Mode || s2.Detectors != s.Detectors {
			t.Fatalf("written back, it differs:\n%s", out)
		}
		sig := goodSignals()
		for i, b := range s.Bindings {
			if s2.Bindings[i].Name != b.Name || s2.Bindings[i].req.checks != b.req.checks {
				t.Fatalf("binding %d differs", i)
			}
			b.Evaluate(&sig)
			s.Match(&sig.Credential)
		}
	})
}

// writeBack rebuilds a document from a Set's exported views.
func writeBack(s *Set) fileDoc {
	doc := fileDoc{
		Version: s.Version,
		Mode:    s.Mode,
		Detectors: detectorsDoc{
			ConcurrentWindow: s.Detectors.ConcurrentWindow.String(),
			Dormancy:         s.Detectors.Dormancy.String(),
		},
		Networks: map[string][]string{},
	}
	for name, set := range s.Networks() {
		for _, p := range set.Prefixes() {
			doc.Networks[name] = append(doc.Networks[name], p.String())
		}
	}
	for _, b := range s.Bindings {
		bd := bindingDoc{Name: b.Name, Mode: b.Mode, Match: b.Match, Require: b.Require, OnViolation: b.OnViolation, Honeytoken: b.Honeytoken}
		for _, n := range b.RequireEvidence {
			bd.RequireEvidence = append(bd.RequireEvidence, string(n))
		}
		doc.Bindings = append(doc.Bindings, bd)
	}
	return doc
}
