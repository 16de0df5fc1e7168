package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/checkreq"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/origin"
)

const bindingsUsage = `usage: provost bindings COMMAND ...

Commands:
  lint     [--config FILE | BINDINGS.yaml] [--warnings-ok]
           check a bindings file, summarize each binding, and warn about likely mistakes
  test     [--config FILE] [--data-dir DIR] TESTS.yaml...
           run policy tests: requests and the decisions they must get
  propose  --binding NAME [--since 720h] [--config FILE] [--data-dir DIR]
           print the tightest binding covering the origins a learn-mode binding saw

Run 'provost bindings COMMAND -h' for a command's flags.
`

func cmdBindings(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, bindingsUsage)
		return exitUsage
	}
	switch args[0] {
	case "lint":
		return cmdBindingsLint(args[1:], stdout, stderr)
	case "test":
		return cmdBindingsTest(ctx, args[1:], stdout, stderr)
	case "propose":
		return cmdBindingsPropose(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, bindingsUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost bindings: unknown command %q\n\n%s", args[0], bindingsUsage)
	return exitUsage
}

// flagSet returns a flag set in the style of the other commands.
func flagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

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
	n := y.node(path)
	if n == nil {
		return 0
	}
	return n.Line
}

// node returns the node at path: dot-separated keys, each with an optional
// [index]. Keys holding '.' or '[' are not found.
func (y yamlLines) node(path string) *yaml.Node {
	n := y.root
	for part := range strings.SplitSeq(path, ".") {
		if n == nil {
			return nil
		}
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		n = mapValue(n, key)
		if idx >= 0 {
			if n == nil || n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return nil
			}
			n = n.Content[idx]
		}
	}
	return n
}

// mapValue returns the value of key in mapping n, nil when absent.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

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
