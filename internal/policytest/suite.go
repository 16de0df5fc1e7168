package policytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/checkreq"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/verdict"
)

// Limits of a policy test file.
const (
	MaxFileBytes = 1 << 20
	MaxTests     = 10000
)

// Suite is a checked policy test file.
type Suite struct {
	File   string // the path it was read from (the name given to Parse)
	Config string // its config:, resolved against the file's folder; "" when not given
	Cases  []Case // at least one, names unique
}

// Case is one test: a request and what its decision must be.
type Case struct {
	Name    string
	At      time.Time // the request's "at"; zero for the current time
	Request *provost.Request
	Expect  Expect
}

// Expect is what a test requires of the decision. Empty fields and nil
// lists are not checked; an empty (not nil) Actions means "no actions".
type Expect struct {
	Decision   string   `yaml:"decision"`
	Credential string   `yaml:"credential"`
	Provenance string   `yaml:"provenance"`
	Reasons    []string `yaml:"reasons"`
	NotReasons []string `yaml:"not_reasons"`
	Actions    []string `yaml:"actions"`
}

// suiteDoc is a policy test file as written. The unexported type names
// appear in YAML type errors ("into expectDoc").
type suiteDoc struct {
	Version int       `yaml:"version"`
	Config  string    `yaml:"config"`
	Tests   []testDoc `yaml:"tests"`
}

type testDoc struct {
	Name        string    `yaml:"name"`
	RequestFile string    `yaml:"request_file"`
	Request     yaml.Node `yaml:"request"`
	Expect      expectDoc `yaml:"expect"`
}

type expectDoc Expect

// Load reads and checks the policy test file at path and every request in
// it. Errors name the file and line.
func Load(path string) (*Suite, error) {
	data, err := smallfile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks a policy test document; name is the file's path, used in
// errors ("name:line: field: message") and to resolve the paths in it.
func Parse(name string, data []byte) (*Suite, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; it needs version: 1 and a list of tests", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc suiteDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file holds more than one YAML document", name)
	}
	lines := yamlLines{root: root.Content[0]}
	fail := func(path, format string, args ...any) error {
		l := lines.line(path)
		for p := path; l == 0 && p != ""; {
			p = parentPath(p)
			l = lines.line(p)
		}
		return fmt.Errorf("%s:%d: %s: %s", name, max(l, 1), path, fmt.Sprintf(format, args...))
	}
	if doc.Version != 1 {
		return nil, fail("version", "must be 1 (got %d)", doc.Version)
	}
	if len(doc.Tests) == 0 {
		return nil, fail("tests", "needs at least one test")
	}
	if len(doc.Tests) > MaxTests {
		return nil, fail("tests", "%d tests, more than %d", len(doc.Tests), MaxTests)
	}
	dir := filepath.Dir(name)
	s := &Suite{File: name, Config: resolvePath(dir, doc.Config)}
	names := map[string]bool{}
	for i := range doc.Tests {
		tc, err := checkTest(&doc.Tests[i], fmt.Sprintf("tests[%d]", i), dir, lines, fail)
		if err != nil {
			return nil, err
		}
		if names[tc.Name] {
			return nil, fail(fmt.Sprintf("tests[%d].name", i), "test %q is defined twice", tc.Name)
		}
		names[tc.Name] = true
		s.Cases = append(s.Cases, tc)
	}
	return s, nil
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

type failFunc func(path, format string, args ...any) error

func checkTest(t *testDoc, p, dir string, lines yamlLines, fail failFunc) (Case, error) {
	tc := Case{Name: t.Name, Expect: Expect(t.Expect)}
	if strings.TrimSpace(t.Name) == "" {
		return tc, fail(p+".name", "is required")
	}
	if strings.ContainsFunc(t.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return tc, fail(p+".name", "contains a control character")
	}
	var doc *checkreq.Request
	hasInline := t.Request.Kind != 0 && t.Request.Tag != "!!null"
	switch {
	case t.RequestFile != "" && hasInline:
		return tc, fail(p, "has both request and request_file: give one")
	case t.RequestFile != "":
		path := resolvePath(dir, t.RequestFile)
		req, err := checkreq.ReadFile(path)
		if err != nil {
			return tc, fail(p+".request_file", "%s: %v", path, err)
		}
		doc = req
	case hasInline:
		req, err := inlineRequest(&t.Request)
		if err != nil {
			var fe *checkreq.FieldError
			if errors.As(err, &fe) && lines.line(p+".request."+fe.Field) > 0 {
				return tc, fail(p+".request."+fe.Field, "%s", fe.Msg)
			}
			return tc, fail(p+".request", "%v", err)
		}
		doc = req
	default:
		return tc, fail(p, "needs request or request_file")
	}
	req, err := doc.ToRequest()
	if err != nil { // not reached: Decode has checked what ToRequest parses
		return tc, fail(p+".request", "%v", err)
	}
	tc.Request = req
	if doc.At != nil {
		tc.At = *doc.At
	}
	return tc, checkExpect(&tc.Expect, p+".expect", fail)
}

// inlineRequest decodes a request written in YAML exactly as the JSON
// request format would be (same fields, same checks).
func inlineRequest(n *yaml.Node) (*checkreq.Request, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("must be a mapping of the request fields (method, target, authorization, peer, at, ...)")
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not representable as a JSON request: %w", err)
	}
	return checkreq.Decode(bytes.NewReader(b))
}

var reasonCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func checkExpect(e *Expect, p string, fail failFunc) error {
	for _, f := range []struct {
		field, v string
		allowed  []string
		required bool
	}{
		{"decision", e.Decision, []string{string(verdict.Allow), string(verdict.StepUp), string(verdict.Deny)}, true},
		{"credential", e.Credential, []string{string(verdict.Accepted), string(verdict.Rejected)}, false},
		{"provenance", e.Provenance, []string{string(verdict.Verified), string(verdict.Violated), string(verdict.Insufficient)}, false},
	} {
		switch {
		case f.v == "" && f.required:
			return fail(p+"."+f.field, "is required: one of %s", strings.Join(f.allowed, ", "))
		case f.v != "" && !slices.Contains(f.allowed, f.v):
			return fail(p+"."+f.field, "%q is not one of %s", f.v, strings.Join(f.allowed, ", "))
		}
	}
	for _, l := range []struct {
		field string
		codes []string
	}{{"reasons", e.Reasons}, {"not_reasons", e.NotReasons}} {
		for i, c := range l.codes {
			if !reasonCodeRE.MatchString(c) {
				return fail(fmt.Sprintf("%s.%s[%d]", p, l.field, i), "%q is not a reason code (snake_case, as in the decision's reasons)", c)
			}
		}
	}
	for i, a := range e.Actions {
		if a != "revoke" && a != "alert" {
			return fail(fmt.Sprintf("%s.actions[%d]", p, i), "%q is not an action: use revoke or alert", a)
		}
	}
	return nil
}

var yamlErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)
var yamlUnknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlError turns a YAML error into "name:line: message" lines.
func yamlError(name string, err error) error {
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		sm := yamlErrLine.FindStringSubmatch(m)
		if sm == nil {
			out[i] = name + ": " + m
			continue
		}
		msg := sm[2]
		if um := yamlUnknownField.FindStringSubmatch(msg); um != nil {
			msg = fmt.Sprintf("unknown field %q", um[1])
		}
		out[i] = fmt.Sprintf("%s:%s: %s", name, sm[1], strings.ReplaceAll(msg, " into policytest.", " into "))
	}
	return errors.New(strings.Join(out, "\n"))
}

// yamlLines finds the line of a field path ("tests[2].expect.decision") in
// the document; 0 when the path does not exist.
type yamlLines struct{ root *yaml.Node }

func (y yamlLines) line(path string) int {
	if y.root == nil {
		return 0
	}
	if n := config.Node(y.root, path); n != nil {
		return n.Line
	}
	return 0
}
