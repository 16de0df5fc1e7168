package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/checkreq"
)

// ---- test ----

// Limits of a policy test file.
const (
	maxSuiteBytes = 1 << 20
	maxSuiteTests = 10000
)

// suiteDoc is a policy test file as written.
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

// expectDoc is what a test requires of the decision. Empty fields and nil
// lists are not checked; an empty actions list means "no actions".
type expectDoc struct {
	Decision   string   `yaml:"decision"`
	Credential string   `yaml:"credential"`
	Provenance string   `yaml:"provenance"`
	Reasons    []string `yaml:"reasons"`
	NotReasons []string `yaml:"not_reasons"`
	Actions    []string `yaml:"actions"`
}

// suite is a checked policy test file.
type suite struct {
	file   string
	config string // as resolved against the file's folder; "" if not given
	cases  []testCase
}

type testCase struct {
	name   string
	req    *checkreq.Request
	expect expectDoc
}

func cmdBindingsTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost bindings test", "usage: provost bindings test [--config FILE] [--data-dir DIR] TESTS.yaml...\n"+
		"Runs each file's tests in order against one engine with a fresh data directory. Exit 1: a test failed; 2: bad input.", stderr)
	cfgFile := fs.String("config", "provost.yaml", "configuration `file` (overrides each test file's config:)")
	dataDir := fs.String("data-dir", "", "data `directory` (default: a fresh temporary one per test file)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	suites := make([]*suite, 0, fs.NArg())
	bad := false
	for _, path := range fs.Args() {
		s, err := loadSuite(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad = true
			continue
		}
		if flagGiven(fs, "config") || s.config == "" {
			s.config = *cfgFile
		}
		suites = append(suites, s)
	}
	if bad {
		return exitUsage
	}
	passed, failed := 0, 0
	for _, s := range suites {
		p, f, err := runSuite(ctx, s, *dataDir, stdout)
		passed, failed = passed+p, failed+f
		if err != nil {
			fmt.Fprintf(stderr, "provost bindings test: %s: %v\n", s.file, err)
			bad = true
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	switch {
	case bad:
		return exitUsage
	case failed > 0:
		return exitFail
	}
	return exitOK
}

// loadSuite reads and checks a policy test file and every request in it.
// Errors name the file and line.
func loadSuite(path string) (*suite, error) {
	data, err := readBounded(path, maxSuiteBytes)
	if err != nil {
		return nil, err
	}
	return parseSuite(path, data)
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}

// parseSuite checks a policy test document; name is the file's path,
// used in errors and to resolve the paths in it.
func parseSuite(name string, data []byte) (*suite, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, suiteYAMLError(name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; it needs version: 1 and a list of tests", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc suiteDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, suiteYAMLError(name, err)
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
	if len(doc.Tests) > maxSuiteTests {
		return nil, fail("tests", "%d tests, more than %d", len(doc.Tests), maxSuiteTests)
	}
	dir := filepath.Dir(name)
	s := &suite{file: name, config: resolvePath(dir, doc.Config)}
	names := map[string]bool{}
	for i := range doc.Tests {
		tc, err := checkTest(&doc.Tests[i], fmt.Sprintf("tests[%d]", i), dir, lines, fail)
		if err != nil {
			return nil, err
		}
		if names[tc.name] {
			return nil, fail(fmt.Sprintf("tests[%d].name", i), "test %q is defined twice", tc.name)
		}
		names[tc.name] = true
		s.cases = append(s.cases, tc)
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

func checkTest(t *testDoc, p, dir string, lines yamlLines, fail failFunc) (testCase, error) {
	tc := testCase{name: t.Name, expect: t.Expect}
	if strings.TrimSpace(t.Name) == "" {
		return tc, fail(p+".name", "is required")
	}
	if strings.ContainsFunc(t.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return tc, fail(p+".name", "contains a control character")
	}
	hasInline := t.Request.Kind != 0 && t.Request.Tag != "!!null"
	switch {
	case t.RequestFile != "" && hasInline:
		return tc, fail(p, "has both request and request_file: give one")
	case t.RequestFile != "":
		path := resolvePath(dir, t.RequestFile)
		req, err := readRequest(path)
		if err != nil {
			return tc, fail(p+".request_file", "%s: %v", path, err)
		}
		tc.req = req
	case hasInline:
		req, err := inlineRequest(&t.Request)
		if err != nil {
			var fe *checkreq.FieldError
			if errors.As(err, &fe) && lines.line(p+".request."+fe.Field) > 0 {
				return tc, fail(p+".request."+fe.Field, "%s", fe.Msg)
			}
			return tc, fail(p+".request", "%v", err)
		}
		tc.req = req
	default:
		return tc, fail(p, "needs request or request_file")
	}
	return tc, checkExpect(&t.Expect, p+".expect", fail)
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

func checkExpect(e *expectDoc, p string, fail failFunc) error {
	for _, f := range []struct {
		field, v string
		allowed  []string
		required bool
	}{
		{"decision", e.Decision, []string{string(provost.Allow), string(provost.StepUp), string(provost.Deny)}, true},
		{"credential", e.Credential, []string{string(provost.Accepted), string(provost.Rejected)}, false},
		{"provenance", e.Provenance, []string{string(provost.Verified), string(provost.Violated), string(provost.Insufficient)}, false},
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

// suiteYAMLError turns a YAML error into "name:line: message" lines.
func suiteYAMLError(name string, err error) error {
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
		out[i] = fmt.Sprintf("%s:%s: %s", name, sm[1], strings.ReplaceAll(msg, " into main.", " into "))
	}
	return errors.New(strings.Join(out, "\n"))
}

// pinnedClock is the engine's clock, pinned to each test's "at" (the
// current time when a request has none).
type pinnedClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *pinnedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

func (c *pinnedClock) set(at *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Time{}
	if at != nil {
		c.at = *at
	}
}

// runSuite runs s's tests in order against one engine, so state (origin
// history, revocations, the replay cache) carries from test to test. The
// error is for bad input: the engine could not start.
func runSuite(ctx context.Context, s *suite, dataDir string, stdout io.Writer) (passed, failed int, err error) {
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "provost-bindings-test-")
		if err != nil {
			return 0, 0, err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	clock := &pinnedClock{}
	eng, err := provost.New(ctx, provost.Options{ConfigFile: s.config, DataDir: dataDir, Now: clock.now})
	if err != nil {
		return 0, 0, err
	}
	defer eng.Close()
	fmt.Fprintf(stdout, "=== %s\n", s.file)
	for _, tc := range s.cases {
		clock.set(tc.req.At)
		d, err := eng.Check(ctx, toRequest(tc.req))
		diffs := compareDecision(&tc.expect, d)
		if err != nil {
			diffs = append([]string{"the engine failed closed: " + err.Error()}, diffs...)
		}
		if len(diffs) == 0 {
			passed++
			fmt.Fprintf(stdout, "--- PASS: %s\n", tc.name)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "--- FAIL: %s\n", tc.name)
		for _, l := range diffs {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
		writeGot(stdout, d)
	}
	return passed, failed, nil
}

// compareDecision returns what differs between the expectation and d, one
// line each; none when the test passes.
func compareDecision(e *expectDoc, d *provost.Decision) []string {
	var out []string
	if got := string(d.Decision.Decision); got != e.Decision {
		out = append(out, fmt.Sprintf("decision: got %s, want %s", got, e.Decision))
	}
	if got := string(d.Credential.Verdict); e.Credential != "" && got != e.Credential {
		out = append(out, fmt.Sprintf("credential: got %s (%s), want %s", got, d.Credential.Reason, e.Credential))
	}
	if got := string(d.Provenance); e.Provenance != "" && got != e.Provenance {
		out = append(out, fmt.Sprintf("provenance: got %s, want %s", got, e.Provenance))
	}
	codes := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		codes[i] = string(r.Code)
	}
	for _, c := range e.Reasons {
		if !slices.Contains(codes, c) {
			out = append(out, fmt.Sprintf("reasons: want %s, it is not among [%s]", c, strings.Join(codes, " ")))
		}
	}
	for _, c := range e.NotReasons {
		if slices.Contains(codes, c) {
			out = append(out, fmt.Sprintf("not_reasons: %s is among the reasons", c))
		}
	}
	if e.Actions != nil {
		got := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			got[i] = string(a)
		}
		want := slices.Clone(e.Actions)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(got), slices.Compact(want)) {
			out = append(out, fmt.Sprintf("actions: got [%s], want [%s]", strings.Join(got, " "), strings.Join(want, " ")))
		}
	}
	return out
}

// writeGot prints the decision of a failed test: never the raw credential,
// only its fingerprint.
func writeGot(w io.Writer, d *provost.Decision) {
	c := &d.Credential
	line := fmt.Sprintf("got: decision=%s credential=%s(%s) provenance=%s", d.Decision.Decision, c.Verdict, c.Reason, d.Provenance)
	if d.Binding != "" {
		line += fmt.Sprintf(" binding=%s(%s)", d.Binding, d.Mode)
	}
	if c.Fingerprint != "" {
		line += " fingerprint=" + c.Fingerprint
	}
	fmt.Fprintf(w, "    %s\n", line)
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "    reason %s: %s\n", r.Code, r.Message)
	}
}
