package binding

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goodBindings is n valid bindings in block style, named g0..g(n-1).
func goodBindings(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "  - name: g%d\n    match:\n      subject: \"svc-%d:*\"\n    require:\n      possession: dpop\n", i, i)
	}
	return sb.String()
}

// sameSet reports how two sets differ, "" when they do not.
func sameSet(a, b *Set) string {
	ya, err := yaml.Marshal(writeBack(a))
	if err != nil {
		return err.Error()
	}
	yb, err := yaml.Marshal(writeBack(b))
	if err != nil {
		return err.Error()
	}
	if string(ya) != string(yb) {
		return fmt.Sprintf("split:\n%s\nwhole:\n%s", ya, yb)
	}
	for i := range a.Bindings {
		if a.Bindings[i].req.checks != b.Bindings[i].req.checks {
			return fmt.Sprintf("binding %d: %d checks, %d checks", i, a.Bindings[i].req.checks, b.Bindings[i].req.checks)
		}
	}
	return ""
}

// Files in the block layout are read in batches, to the same Set as the
// whole document gives; other layouts are left to the whole document.
func TestSplitLayouts(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const head = "version: 1\nnetworks:\n  build: [10.0.0.0/8]\nbindings:\n"
	const (
		batches = "batches" // parseSplit reads it
		whole   = "whole"   // parseSplit leaves it to the whole document
		refused = "refused" // parseSplit refuses it: a small file is then read whole
	)
	cases := []struct {
		name, doc, split string
		loads            bool // as a whole document
	}{
		{"example", string(example), batches, true},
		{"many batches", head + goodBindings(3000), batches, true},
		{"items at column 0", "version: 1\nbindings:\n- name: a\n  match: {issuer: x}\n- name: b\n  match: {issuer: y}\nmode: monitor\n", batches, true},
		{"keys after the bindings", "bindings:   # the list\n  - name: a\n    match: {issuer: x}\n    require: {networks: [build]}\n\n# a comment\nnetworks:\n  build: [10.0.0.0/8]\nversion: 1\n", batches, true},
		{"comments and blank lines between items", head + "# first\n  - name: a\n    match: {issuer: x}\n\n  # between\n\n  - name: b\n    match: {issuer: y}\n", batches, true},
		{"block scalar rule", head + "  - name: a\n    match: {issuer: x}\n    require:\n      rule: |\n        signals.request.method == \"GET\" ||\n          signals.workload.present\n", batches, true},
		{"CRLF", strings.ReplaceAll(head+goodBindings(3), "\n", "\r\n"), batches, true},
		{"no bindings", "version: 1\nmode: learn\n", batches, true},
		{"empty bindings", "version: 1\nbindings:\nmode: learn\n", batches, true},
		{"anchor in a batch", head + "  - name: a\n    match: &m {issuer: x}\n  - name: b\n    match: *m\n", batches, true},
		{"quoted scalar continued at the items' column", head + "  - name: a\n    match: {issuer: \"x\n  - name: b\"}\n  - name: c\n    match: {issuer: y}\n", batches, true},
		{"anchor across batches", head + "  - name: a\n    match: &m {issuer: x}\n" + goodBindings(1000) + "  - name: b\n    match: *m\n", whole, true},
		{"anchor in the header", "version: 1\nnetworks:\n  build: &b [10.0.0.0/8]\n  other: *b\nbindings:\n" + goodBindings(1000) + "  - name: x\n    match: {issuer: x}\n    require: {networks: [other]}\n", batches, true},
		{"alias of the header", "version: 1\nnetworks:\n  build: &b [10.0.0.0/8]\nbindings:\n  - name: x\n    match: {issuer: x}\n    require: {networks: *b}\n", whole, true},
		{"flow bindings", "version: 1\nbindings: [{name: a, match: {issuer: x}}]\n", whole, true},
		{"flow file", "{version: 1, bindings: [{name: a, match: {issuer: x}}]}\n", whole, true},
		{"document marker", "---\nversion: 1\nbindings:\n  - name: a\n    match: {issuer: x}\n", whole, true},
		{"directive", "%YAML 1.1\n---\nversion: 1\n", whole, true},
		{"quoted key", "\"version\": 1\nbindings:\n  - name: a\n    match: {issuer: x}\n", whole, true},
		{"indented first key", "  version: 1\n", whole, true},
		{"flow continued at column 0", "version: 1\nbindings:\n  - name: a\n    match: {issuer: x,\nsubject: y}\n", refused, true},
		{"flow around the bindings key", "version: 1\nnetworks: {a: [10.0.0.0/8],\nbindings:\n  - name: x\n    match: {issuer: y}\nb: [10.1.0.0/16]}\n", refused, false},
		{"quote continued at column 0", "version: 1\nmode: \"enforce\nbindings:\n  - name: x\n    match: {issuer: y}\nx\"\n", whole, false},
		{"item less indented", "version: 1\nbindings:\n    - name: a\n      match: {issuer: x}\n  - name: b\n    match: {issuer: y}\n", whole, false},
		{"tab indent", "version: 1\nbindings:\n  - name: a\n\t  match: {issuer: x}\n", whole, false},
		{"carriage return alone", "version: 1\rbindings:\r  - name: a\r    match: {issuer: x}\r", whole, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(c.doc)
			split, err := parseSplit(context.Background(), "s.yaml", data)
			got := batches
			switch {
			case errors.Is(err, errNotSplit):
				got = whole
			case err != nil:
				got = refused
			}
			if got != c.split {
				t.Fatalf("parseSplit: %s, want %s (%v)", got, c.split, err)
			}
			full, werr := parseWhole("s.yaml", data)
			if (werr == nil) != c.loads {
				t.Fatalf("the whole document loads: %v, want %v (%v)", werr == nil, c.loads, werr)
			}
			if c.split == batches {
				if d := sameSet(split, full); d != "" {
					t.Error(d)
				}
			}
			s, err := Parse("s.yaml", data)
			if !c.loads {
				if err == nil || err.Error() != werr.Error() {
					t.Errorf("Parse: %v, want the whole document's %v", err, werr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := sameSet(s, full); d != "" {
				t.Error(d)
			}
		})
	}
}

// An error in a batch names the file's line and binding, as the whole
// document's error does.
func TestSplitErrors(t *testing.T) {
	const head = "version: 1\nnetworks:\n  build: [10.0.0.0/8]\nbindings:\n"
	many := goodBindings(1000) // several batches
	cases := []struct {
		name, bad, want string
	}{
		{"unknown field", "  - name: bad\n    match: {issuer: x}\n    colour: red\n", `unknown field "colour"`},
		{"unknown nested field", "  - name: bad\n    match: {issuer: x}\n    require:\n      ci: {repo: x}\n", `unknown field "repo"`},
		{"wrong type", "  - name: bad\n    match: {issuer: [x]}\n", "cannot unmarshal"},
		{"duplicate key", "  - name: bad\n    match: {issuer: x}\n    name: again\n", "already defined at line"},
		{"syntax", "  - name: bad\n    match: {issuer: x\n", "did not find expected"},
		{"bad glob", "  - name: bad\n    match: {subject: \"a**\"}\n", `holds "**"`},
		{"unknown network", "  - name: bad\n    match: {issuer: x}\n    require: {networks: [nowhere]}\n", `unknown network "nowhere"`},
		{"duplicate name", "  - name: g7\n    match: {issuer: x}\n", `binding "g7" is defined twice`},
		{"bad rule", "  - name: bad\n    match: {issuer: x}\n    require: {rule: 'request.x'}\n", "undeclared reference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(head + many + c.bad)
			_, serr := parseSplit(context.Background(), "s.yaml", data)
			_, werr := parseWhole("s.yaml", data)
			if serr == nil || werr == nil || errors.Is(serr, errNotSplit) {
				t.Fatalf("split: %v\nwhole: %v", serr, werr)
			}
			if !strings.Contains(werr.Error(), c.want) {
				t.Errorf("whole: %v, want %q", werr, c.want)
			}
			if serr.Error() != werr.Error() {
				t.Errorf("split: %v\nwhole: %v", serr, werr)
			}
			if !strings.Contains(serr.Error(), "s.yaml:") || c.name != "syntax" && !strings.Contains(serr.Error(), "bindings[1000]") {
				t.Errorf("the error names no line or binding: %v", serr)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	big := []byte("version: 1\nbindings:\n" + goodBindings(12000)) // over 1 MiB
	if len(big) <= MaxFileBytes {
		t.Fatalf("%d bytes", len(big))
	}
	cases := []struct {
		name  string
		limit int64
		want  string // error; "" loads
	}{
		{"default", 0, "the file is larger than 1048576 bytes"},
		{"too small", MaxFileBytes, "the file is larger than 1048576 bytes"},
		{"raised", int64(len(big)), ""},
		{"ceiling", MaxFileBytesLimit, ""},
		{"over the ceiling", MaxFileBytesLimit + 1, "is not between 1 and 1073741824 bytes"},
		{"negative", -1, "is not between"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseLimit(context.Background(), "big.yaml", big, c.limit)
			if c.want == "" {
				if err != nil || len(s.Bindings) != 12000 {
					t.Fatalf("ParseLimit: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ParseLimit(ctx, "big.yaml", big, MaxFileBytesLimit); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLimit(context.Background(), path, 0); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadLimit default: %v", err)
	}
	if s, err := LoadLimit(context.Background(), path, 2<<20); err != nil || len(s.Bindings) != 12000 || s.File != path {
		t.Errorf("LoadLimit 2 MiB: %v", err)
	}
}
