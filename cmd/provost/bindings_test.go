package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/verdict"
)

const tdBindings = "testdata/bindings/"

func TestBindingsLint(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string // in stdout
		warnings int
	}{
		{"good", []string{tdBindings + "good.yaml"}, exitOK, []string{
			"good.yaml: 3 bindings, 1 network, mode enforce",
			"  ci-deploy (enforce): match subject=repo:acme/deploy:*; require networks=build-hosts ci.repository=acme/deploy; on_violation revoke\n",
			"  support-agent (monitor): match issuer=https://sts.acme.test subject=agent:support-bot; require workloads=spiffe://acme.test/agents/support-bot networks=10.30.0.0/16 evidence=posture; on_violation deny\n",
			"  canary (enforce): match subject=svc:legacy-admin; require nothing; on_violation deny; honeytoken\n",
		}, 0},
		{"approves any origin", []string{tdBindings + "warn-approves-any.yaml"}, exitFail, []string{
			"warn-approves-any.yaml:7: warning: binding anything-goes requires nothing and no evidence: it approves any origin",
		}, 1},
		{"unreachable", []string{tdBindings + "warn-unreachable.yaml"}, exitFail, []string{
			"warn-unreachable.yaml:8: warning: binding second is unreachable: binding first before it has the identical match",
		}, 1},
		{"unused network", []string{tdBindings + "warn-unused-network.yaml"}, exitFail, []string{
			"warn-unused-network.yaml:4: warning: network datacenter is used by no binding",
		}, 1},
		{"learn mode", []string{tdBindings + "warn-learn.yaml"}, exitFail, []string{
			"warn-learn.yaml:6: warning: binding vendor-sync is in learn mode",
			"provost bindings propose --binding vendor-sync",
		}, 1},
		{"honeytoken with requirements", []string{tdBindings + "warn-honeytoken.yaml"}, exitFail, []string{
			"warn-honeytoken.yaml:6: warning: binding canary-2 is a honeytoken with requirements",
		}, 1},
		{"warnings ok", []string{"--warnings-ok", tdBindings + "warn-learn.yaml"}, exitOK, []string{"1 warning\n"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", append([]string{"bindings", "lint"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, stderr)
			}
			for _, want := range c.contains {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if got := strings.Count(out, ": warning: "); got != c.warnings {
				t.Errorf("%d warnings, want %d:\n%s", got, c.warnings, out)
			}
		})
	}
}

func TestBindingsLintErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := filepath.Abs(tdBindings + "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "provost.yaml", "version: 1\nbindings: "+good+"\n")
	noBindings := writeFile(t, dir, "nobindings.yaml", "version: 1\n")
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"bad file names file, line and field", []string{tdBindings + "bad.yaml"}, exitUsage, "",
			`bad.yaml:8: bindings[0].require.networks[0]: unknown network "build-host"`},
		{"missing file", []string{filepath.Join(dir, "none.yaml")}, exitUsage, "", "none.yaml"},
		{"through the configuration", []string{"--config", cfg}, exitOK, "good.yaml: 3 bindings", ""},
		{"configuration without bindings", []string{"--config", noBindings}, exitUsage, "", "names no bindings file"},
		{"both config and file", []string{"--config", cfg, tdBindings + "good.yaml"}, exitUsage, "", "usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", append([]string{"bindings", "lint"}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(stderr, c.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout %q, stderr %q", code, c.code, out, stderr, c.stdout, c.stderr)
			}
		})
	}
}

func TestBindingsUsage(t *testing.T) {
	for _, args := range [][]string{{"bindings"}, {"bindings", "frob"}, {"bindings", "test"}, {"bindings", "propose"}} {
		if code, _, stderr := runCLI(t, "", args...); code != exitUsage || !strings.Contains(stderr, "usage") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, out, _ := runCLI(t, "", "bindings", "-h"); code != exitOK || !strings.Contains(out, "propose") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
}

// policyWorld is a configuration made in a test: an issuer whose key the
// test holds, a bindings file, and optionally a SPIFFE CA.
type policyWorld struct {
	t   *testing.T
	dir string
	key *ecdsa.PrivateKey
	ca  *workloadtest.CA
}

const (
	pwIssuer   = "https://sts.acme.test"
	pwAudience = "https://api.acme.test"
)

// pwAt is the time the policy tests' requests are observed.
var pwAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const pwBindings = `version: 1
networks:
  build-hosts: [10.20.0.0/16]
bindings:
  - name: ci-deploy
    match: {subject: "repo:acme/deploy:*"}
    require:
      networks: [build-hosts]
    on_violation: revoke
`

func newPolicyWorld(t *testing.T, bindings string, spiffe bool) *policyWorld {
	t.Helper()
	w := &policyWorld{t: t, dir: t.TempDir()}
	var err error
	if w.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.key.Public(), KeyID: "sts-1", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, w.dir, "issuer.jwks.json", string(jwks))
	writeFile(t, w.dir, "bindings.yaml", bindings)
	trust := ""
	if spiffe {
		w.ca = workloadtest.NewCA(t, "acme.test")
		trust = "trust:\n  spiffe:\n    - trust_domain: acme.test\n      x509_bundle: " + w.ca.WritePEM(t, w.dir) + "\n"
	}
	writeFile(t, w.dir, "provost.yaml", `version: 1
data_dir: data
bindings: bindings.yaml
issuers:
  - issuer: `+pwIssuer+`
    audiences: [`+pwAudience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
`+trust)
	return w
}

func (w *policyWorld) config() string { return filepath.Join(w.dir, "provost.yaml") }

// token issues an access token for sub, issued a minute before at.
func (w *policyWorld) token(sub, jti string, at time.Time) string {
	w.t.Helper()
	claims, _ := json.Marshal(map[string]any{"iss": pwIssuer, "aud": pwAudience, "sub": sub, "jti": jti,
		"iat": at.Add(-time.Minute).Unix(), "exp": at.Add(time.Hour).Unix()})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "sts-1"))
	if err != nil {
		w.t.Fatal(err)
	}
	obj, err := s.Sign(claims)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// inline writes a request as an inline YAML flow mapping.
func inline(token, peer string) string {
	return `{method: GET, target: /v1/deploy, authorization: "Bearer ` + token + `", peer: ` + peer + `, at: "` + pwAt.Format(time.RFC3339) + `"}`
}

// testBlock returns the output of one test: its --- line and what follows
// up to the next --- or the closing line.
func testBlock(out, name string) string {
	i := strings.Index(out, ": "+name+"\n")
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(out[:i], "\n") + 1
	rest := out[i+len(name)+3:]
	end := len(rest)
	if j := regexp.MustCompile(`(?m)^(--- |=== |\d+ passed)`).FindStringIndex(rest); j != nil {
		end = j[0]
	}
	return out[start:i+len(name)+3] + rest[:end]
}

func TestBindingsTestPassingSuite(t *testing.T) {
	w := newPolicyWorld(t, pwBindings, false)
	good, stolen := w.token("repo:acme/deploy:ref:refs/heads/main", "t-1", pwAt), w.token("repo:acme/deploy:ref:refs/heads/main", "t-2", pwAt)
	req, _ := json.Marshal(map[string]string{"method": "GET", "target": "/v1/deploy", "authorization": "Bearer " + good,
		"peer": "10.20.3.4", "at": pwAt.Format(time.RFC3339)})
	writeFile(t, w.dir, "tests/requests/approved.json", string(req))
	suite := writeFile(t, w.dir, "tests/ci.yaml", `version: 1
config: ../provost.yaml
tests:
  - name: CI runner from an approved build host is allowed
    request_file: requests/approved.json
    expect:
      decision: allow
      credential: accepted
      provenance: verified
      reasons: [provenance_verified]
      actions: []
  - name: the same runner token from an unapproved host is denied and revoked
    request: `+inline(stolen, "203.0.113.9")+`
    expect:
      decision: deny
      provenance: violated
      reasons: [network_not_approved]
      not_reasons: [provenance_verified]
      actions: [alert, revoke]
  - name: the revoked token is refused even from the approved host
    request: `+inline(stolen, "10.20.3.4")+`
    expect:
      decision: deny
      credential: rejected
      reasons: [revoked]
`)
	code, out, stderr := runCLI(t, "", "bindings", "test", suite)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	want := "=== " + suite + "\n" +
		"--- PASS: CI runner from an approved build host is allowed\n" +
		"--- PASS: the same runner token from an unapproved host is denied and revoked\n" +
		"--- PASS: the revoked token is refused even from the approved host\n" +
		"3 passed, 0 failed\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	// The data directory was temporary: the config's data_dir is untouched.
	if _, err := os.Stat(filepath.Join(w.dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the configuration's data_dir was used: %v", err)
	}

	// State carries over: alone, the third test meets no revocation.
	alone := writeFile(t, w.dir, "tests/alone.yaml", `version: 1
config: ../provost.yaml
tests:
  - name: the revoked token is refused even from the approved host
    request: `+inline(stolen, "10.20.3.4")+`
    expect: {decision: deny, reasons: [revoked]}
`)
	code, out, _ = runCLI(t, "", "bindings", "test", alone)
	if code != exitFail || !strings.Contains(out, "decision: got allow, want deny") || !strings.HasSuffix(out, "\n0 passed, 1 failed\n") {
		t.Errorf("without the earlier tests: exit %d\n%s", code, out)
	}

	// --data-dir keeps the state between runs: the revocation is met again.
	data := t.TempDir()
	if code, out, _ := runCLI(t, "", "bindings", "test", "--data-dir", data, suite); code != exitOK {
		t.Fatalf("with --data-dir: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "", "bindings", "test", "--data-dir", data, alone); code != exitOK {
		t.Errorf("with the same --data-dir, the revocation should carry over: exit %d\n%s", code, out)
	}
}

func TestBindingsTestFailingSuite(t *testing.T) {
	w := newPolicyWorld(t, pwBindings, false)
	tok := w.token("repo:acme/deploy:ref:refs/heads/main", "t-1", pwAt)
	// How each expectation fails is policytest's (TestFailingCase); here,
	// that the command runs a suite, prints its blocks and exits 1.
	cases := []struct {
		name, expect, want string
	}{
		{"passes", `{decision: allow, reasons: [provenance_verified], actions: []}`, ""},
		{"decision", `{decision: deny}`, "decision: got allow, want deny"},
	}
	var b strings.Builder
	b.WriteString("version: 1\ntests:\n")
	for _, c := range cases {
		b.WriteString("  - name: " + c.name + "\n    request: " + inline(tok, "10.20.3.4") + "\n    expect: " + c.expect + "\n")
	}
	suite := writeFile(t, w.dir, "failing.yaml", b.String())
	code, out, stderr := runCLI(t, "", "bindings", "test", "--config", w.config(), suite)
	if code != exitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.HasSuffix(out, "\n1 passed, 1 failed\n") {
		t.Errorf("closing line:\n%s", out)
	}
	for _, c := range cases {
		block := testBlock(out, c.name)
		switch {
		case c.want == "":
			if !strings.HasPrefix(block, "--- PASS: "+c.name+"\n") {
				t.Errorf("%s: want PASS, got %q", c.name, block)
			}
		case !strings.HasPrefix(block, "--- FAIL: "+c.name+"\n"):
			t.Errorf("%s: want FAIL, got %q", c.name, block)
		case !strings.Contains(block, "    "+c.want+"\n") || !strings.Contains(block, "    reason provenance_verified: "):
			t.Errorf("%s: want %q and the decision's reasons in:\n%s", c.name, c.want, block)
		case !fpRE.MatchString(block):
			t.Errorf("%s: no fingerprint in:\n%s", c.name, block)
		}
	}
	if strings.Contains(out+stderr, tok) || strings.Contains(out+stderr, "eyJ") {
		t.Error("the output contains a raw credential")
	}
}

func TestBindingsTestBadInput(t *testing.T) {
	w := newPolicyWorld(t, pwBindings, false)
	tok := w.token("repo:acme/deploy:x", "t-1", pwAt)
	okReq := "    request: {method: GET, target: /}\n"
	cases := []struct {
		name, body, want string
	}{
		{"empty", "", "the file is empty"},
		{"not YAML", "version: 1\ntests: [\n", "suite.yaml:2: did not find expected node content"},
		{"two documents", "version: 1\ntests: []\n---\nversion: 1\n", "more than one YAML document"},
		{"version", "version: 2\ntests: []\n", ":1: version: must be 1 (got 2)"},
		{"no tests", "version: 1\ntests: []\n", ":2: tests: needs at least one test"},
		{"unknown field", "version: 1\ntests:\n  - name: a\n    requst: {method: GET, target: /}\n", `:4: unknown field "requst"`},
		{"unknown expect field", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {decison: allow}\n", `:5: unknown field "decison"`},
		{"no name", "version: 1\ntests:\n  - request: {method: GET, target: /}\n    expect: {decision: allow}\n", ":3: tests[0].name: is required"},
		{"duplicate name", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {decision: allow}\n  - name: a\n" + okReq + "    expect: {decision: allow}\n",
			`:6: tests[1].name: test "a" is defined twice`},
		{"no request", "version: 1\ntests:\n  - name: a\n    expect: {decision: allow}\n", ":3: tests[0]: needs request or request_file"},
		{"both requests", "version: 1\ntests:\n  - name: a\n" + okReq + "    request_file: r.json\n    expect: {decision: allow}\n",
			":3: tests[0]: has both request and request_file"},
		{"missing request file", "version: 1\ntests:\n  - name: a\n    request_file: nope.json\n    expect: {decision: allow}\n",
			":4: tests[0].request_file: "},
		{"request unknown field", "version: 1\ntests:\n  - name: a\n    request:\n      method: GET\n      target: /\n      authorisation: x\n    expect: {decision: allow}\n",
			":7: tests[0].request.authorisation: unknown field"},
		{"request bad peer", "version: 1\ntests:\n  - name: a\n    request:\n      method: GET\n      target: /\n      peer: build-host-7\n    expect: {decision: allow}\n",
			":7: tests[0].request.peer: must be an IP address"},
		{"request wrong type", "version: 1\ntests:\n  - name: a\n    request: {method: 7, target: /}\n    expect: {decision: allow}\n",
			":4: tests[0].request.method: must be a string"},
		{"request not a mapping", "version: 1\ntests:\n  - name: a\n    request: GET /\n    expect: {decision: allow}\n",
			":4: tests[0].request: must be a mapping"},
		{"no decision", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {credential: accepted}\n", ":5: tests[0].expect.decision: is required"},
		{"bad decision", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {decision: permit}\n",
			`:5: tests[0].expect.decision: "permit" is not one of allow, step_up, deny`},
		{"bad provenance", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect:\n      decision: allow\n      provenance: ok\n",
			`:7: tests[0].expect.provenance: "ok" is not one of verified, violated, insufficient`},
		{"bad reason", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect:\n      decision: allow\n      reasons: [Not A Code]\n",
			`:7: tests[0].expect.reasons[0]: "Not A Code" is not a reason code`},
		{"bad action", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect:\n      decision: allow\n      actions: [block]\n",
			`:7: tests[0].expect.actions[0]: "block" is not an action`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "suite.yaml", c.body)
			code, out, stderr := runCLI(t, "", "bindings", "test", "--config", w.config(), p)
			if code != exitUsage || !strings.Contains(stderr, p) || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming the file and %q", code, stderr, c.want)
			}
			if strings.Contains(out, "---") {
				t.Errorf("tests ran despite bad input:\n%s", out)
			}
		})
	}
	t.Run("missing configuration", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "suite.yaml", "version: 1\nconfig: nope.yaml\ntests:\n  - name: a\n    request: "+inline(tok, "10.20.3.4")+"\n    expect: {decision: allow}\n")
		code, out, stderr := runCLI(t, "", "bindings", "test", p)
		if code != exitUsage || !strings.Contains(stderr, "nope.yaml") || !strings.Contains(out, "0 passed, 0 failed") {
			t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, stderr)
		}
		if strings.Contains(stderr, tok) {
			t.Error("stderr holds the raw credential")
		}
	})
}

// clockAt is a clock the test moves.
type clockAt struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clockAt) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clockAt) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const learnBindings = `version: 1
bindings:
  - name: ci-deploy
    mode: learn
    match: {issuer: "https://sts.acme.test", subject: "repo:acme/deploy:*"}
    require:
      time: {max_token_age: 1h}
    require_evidence: [workload]
    on_violation: revoke
  - name: reports
    match: {subject: "svc:reports"}
    require: {possession: dpop}
`

func TestBindingsPropose(t *testing.T) {
	w := newPolicyWorld(t, learnBindings, true)
	clock := &clockAt{t: time.Now().UTC().Add(-30 * time.Minute)}
	a, err := app.Open(context.Background(), app.Options{ConfigFile: w.config(), Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	runnerA, runnerB := "spiffe://acme.test/ci/runner-a", "spiffe://acme.test/ci/runner-b"
	svid := map[string][]*x509.Certificate{}
	for _, id := range []string{runnerA, runnerB} {
		svid[id], _ = w.ca.IssueSVID(t, id)
	}
	tok1 := w.token("repo:acme/deploy:ref:refs/heads/main", "t-1", clock.now())
	tok2 := w.token("repo:acme/deploy:ref:refs/tags/v1", "t-2", clock.now())
	for _, r := range []struct{ tok, id, peer string }{
		{tok1, runnerA, "10.20.3.4"},
		{tok1, runnerA, "10.20.3.9"},
		{tok1, runnerB, "10.30.1.5"},
		{tok2, runnerA, "10.30.1.7"},
	} {
		clock.add(time.Minute)
		d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "POST", Target: "/v1/deploy",
			Authorization: "Bearer " + r.tok, Peer: netip.MustParseAddr(r.peer), ClientCerts: svid[r.id]})
		if err != nil || d.Outcome != verdict.Allow || d.Binding != "ci-deploy" || d.Origin.Workload != r.id {
			t.Fatalf("learn-mode check: %v: %s %s %v origin %s", err, d.Outcome, d.Binding, d.Reasons, d.Origin)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCLI(t, "", "bindings", "propose", "--config", w.config(), "--binding", "ci-deploy")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{"  # Proposed by provost bindings propose from learn mode: 4 uses from 3 origins,\n",
		"\n  - name: ci-deploy\n", `networks: ["10.20.3.0/24", "10.30.1.0/24"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("the proposal lacks %q:\n%s", want, out)
		}
	}
	set, err := binding.Parse("wrapped", []byte("version: 1\nbindings:\n"+out))
	if err != nil {
		t.Fatalf("the proposal does not parse: %v\n%s", err, out)
	}
	b := set.Bindings[0]
	if b.Name != "ci-deploy" || b.Mode != binding.ModeMonitor || b.OnViolation != binding.ActionRevoke ||
		b.Match.Subject != "repo:acme/deploy:*" || b.Match.Issuer != pwIssuer {
		t.Errorf("binding %+v", b)
	}
	if !slices.Equal(b.Require.Workloads, []string{runnerA, runnerB}) || !slices.Equal(b.Require.Networks, []string{"10.20.3.0/24", "10.30.1.0/24"}) {
		t.Errorf("require workloads %q networks %q", b.Require.Workloads, b.Require.Networks)
	}
	if b.Require.Time == nil || b.Require.Time.MaxTokenAge != "1h" || len(b.RequireEvidence) != 1 || b.Require.ProxyChain != nil {
		t.Errorf("kept requirements: %+v evidence %v", b.Require, b.RequireEvidence)
	}

	// --since shorter than the learning: nothing is proposed.
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"since excludes every use", []string{"--binding", "ci-deploy", "--since", "10m"}, exitFail, "nothing was learned for binding ci-deploy"},
		{"a binding that learned nothing", []string{"--binding", "reports"}, exitFail, "nothing was learned for binding reports"},
		{"empty data directory", []string{"--binding", "ci-deploy", "--data-dir", filepath.Join(w.dir, "empty")}, exitFail, "nothing was learned"},
		{"binding not in the file", []string{"--binding", "nope"}, exitUsage, "binding nope is not in"},
		{"no binding flag", nil, exitUsage, "usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", append([]string{"bindings", "propose", "--config", w.config()}, c.args...)...)
			if code != c.code || out != "" || !strings.Contains(stderr, c.stderr) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, c.code, out, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(w.dir, "empty")); !os.IsNotExist(err) {
		t.Errorf("propose created the empty data directory: %v", err)
	}
}
