package policytest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

var at = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeEngine allows requests from 10.0.0.0/8 and denies and revokes the
// rest; it records the time its clock gave for each request.
type fakeEngine struct {
	now   func() time.Time
	times []time.Time
}

func (f *fakeEngine) Check(_ context.Context, r *provost.Request) (*provost.Decision, error) {
	f.times = append(f.times, f.now())
	d := &provost.Decision{}
	d.Credential.Verdict = verdict.Accepted
	d.Credential.Reason = "ok"
	if r.Peer.IsValid() && r.Peer.As4()[0] == 10 {
		d.Outcome, d.Provenance = verdict.Allow, verdict.Verified
		d.Reasons = []verdict.Reason{{Code: reason.ProvenanceVerified, Message: "ok"}}
		return d, nil
	}
	d.Outcome, d.Provenance = verdict.Deny, verdict.Violated
	d.Reasons = []verdict.Reason{{Code: reason.NetworkNotApproved, Message: "no"}}
	d.Actions = []verdict.Action{verdict.Revoke, verdict.Alert}
	return d, nil
}

func write(t *testing.T, dir, name, body string) string {
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

func run(t *testing.T, s *Suite) ([]Result, *fakeEngine) {
	t.Helper()
	clock := &Clock{}
	eng := &fakeEngine{now: clock.Now}
	return s.Run(context.Background(), eng.Check, clock), eng
}

func TestPassingSuite(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "tests/requests/approved.json", `{"method":"GET","target":"/v1/deploy","peer":"10.20.3.4","at":"2026-06-01T12:00:00Z"}`)
	path := write(t, dir, "tests/ci.yaml", `version: 1
config: ../provost.yaml
tests:
  - name: from an approved host
    request_file: requests/approved.json
    expect: {decision: allow, credential: accepted, provenance: verified, reasons: [provenance_verified], actions: []}
  - name: from elsewhere, with no at
    request: {method: GET, target: /v1/deploy, peer: 203.0.113.9}
    expect:
      decision: deny
      provenance: violated
      reasons: [network_not_approved]
      not_reasons: [provenance_verified]
      actions: [alert, revoke, alert]
`)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Config != filepath.Join(dir, "provost.yaml") || len(s.Cases) != 2 {
		t.Fatalf("suite %+v", s)
	}
	if !s.Cases[0].At.Equal(at) || !s.Cases[1].At.IsZero() || s.Cases[0].Request.Target != "/v1/deploy" {
		t.Errorf("cases %+v", s.Cases)
	}
	res, eng := run(t, s)
	for _, r := range res {
		if !r.Passed() || r.Err != nil || r.Decision == nil {
			t.Errorf("%s: %v %v", r.Name, r.Failures, r.Err)
		}
	}
	if res[0].Name != "from an approved host" || res[1].Name != "from elsewhere, with no at" {
		t.Errorf("names %q %q", res[0].Name, res[1].Name)
	}
	// The clock is pinned to the first request's at, then follows the
	// current time for the second.
	if !eng.times[0].Equal(at) || time.Since(eng.times[1]) > time.Minute {
		t.Errorf("clock gave %v", eng.times)
	}
}

func TestFailingCase(t *testing.T) {
	cases := []struct {
		name, expect, want string
	}{
		{"passes", `{decision: allow, reasons: [provenance_verified], actions: []}`, ""},
		{"decision", `{decision: deny}`, "decision: got allow, want deny"},
		{"credential", `{decision: allow, credential: rejected}`, "credential: got accepted (ok), want rejected"},
		{"provenance", `{decision: allow, provenance: violated}`, "provenance: got verified, want violated"},
		{"reasons", `{decision: allow, reasons: [copied_credential]}`, "reasons: want copied_credential, it is not among [provenance_verified]"},
		{"not_reasons", `{decision: allow, not_reasons: [provenance_verified]}`, "not_reasons: provenance_verified is among the reasons"},
		{"actions", `{decision: allow, actions: [revoke]}`, "actions: got [], want [revoke]"},
	}
	var b strings.Builder
	b.WriteString("version: 1\ntests:\n")
	for _, c := range cases {
		b.WriteString("  - name: " + c.name + "\n    request: {method: GET, target: /, peer: 10.0.0.1}\n    expect: " + c.expect + "\n")
	}
	s, err := Parse(filepath.Join(t.TempDir(), "failing.yaml"), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := run(t, s)
	if len(res) != len(cases) {
		t.Fatalf("%d results", len(res))
	}
	for i, c := range cases {
		r := res[i]
		switch {
		case r.Name != c.name:
			t.Errorf("result %d is %q, want %q", i, r.Name, c.name)
		case c.want == "" && !r.Passed():
			t.Errorf("%s: failed: %q", c.name, r.Failures)
		case c.want != "" && !slices.Equal(r.Failures, []string{c.want}):
			t.Errorf("%s: failures %q, want [%q]", c.name, r.Failures, c.want)
		}
	}

	// An engine that fails closed fails the case, whatever the decision.
	failing := func(context.Context, *provost.Request) (*provost.Decision, error) {
		d := &provost.Decision{Outcome: verdict.Allow}
		return d, errors.New("store down")
	}
	res = s.Run(context.Background(), failing, nil)
	if res[0].Passed() || res[0].Failures[0] != "the engine failed closed: store down" || res[0].Err == nil {
		t.Errorf("failed closed: %+v", res[0])
	}
	none := func(context.Context, *provost.Request) (*provost.Decision, error) { return nil, nil }
	if res = s.Run(context.Background(), none, nil); res[0].Passed() {
		t.Errorf("no decision passed: %+v", res[0])
	}
}

func TestMalformedFile(t *testing.T) {
	okReq := "    request: {method: GET, target: /}\n"
	cases := []struct {
		name, body, want string
	}{
		{"empty", "", "suite.yaml: the file is empty"},
		{"not YAML", "version: 1\ntests: [\n", "suite.yaml:2: did not find expected node content"},
		{"two documents", "version: 1\ntests: []\n---\nversion: 1\n", "suite.yaml: the file holds more than one YAML document"},
		{"version", "version: 2\ntests: []\n", "suite.yaml:1: version: must be 1 (got 2)"},
		{"no tests", "version: 1\ntests: []\n", "suite.yaml:2: tests: needs at least one test"},
		{"unknown field", "version: 1\ntests:\n  - name: a\n    requst: {method: GET, target: /}\n", `suite.yaml:4: unknown field "requst"`},
		{"wrong type", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: [allow]\n", "suite.yaml:5: cannot unmarshal !!seq into expectDoc"},
		{"no name", "version: 1\ntests:\n  - request: {method: GET, target: /}\n    expect: {decision: allow}\n", "suite.yaml:3: tests[0].name: is required"},
		{"control character", "version: 1\ntests:\n  - name: \"a\\x1b\"\n" + okReq + "    expect: {decision: allow}\n", "suite.yaml:3: tests[0].name: contains a control character"},
		{"duplicate name", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {decision: allow}\n  - name: a\n" + okReq + "    expect: {decision: allow}\n",
			`suite.yaml:6: tests[1].name: test "a" is defined twice`},
		{"no request", "version: 1\ntests:\n  - name: a\n    expect: {decision: allow}\n", "suite.yaml:3: tests[0]: needs request or request_file"},
		{"both requests", "version: 1\ntests:\n  - name: a\n" + okReq + "    request_file: r.json\n    expect: {decision: allow}\n",
			"suite.yaml:3: tests[0]: has both request and request_file"},
		{"missing request file", "version: 1\ntests:\n  - name: a\n    request_file: nope.json\n    expect: {decision: allow}\n",
			"suite.yaml:4: tests[0].request_file: "},
		{"request unknown field", "version: 1\ntests:\n  - name: a\n    request:\n      method: GET\n      target: /\n      authorisation: x\n    expect: {decision: allow}\n",
			"suite.yaml:7: tests[0].request.authorisation: unknown field"},
		{"request bad peer", "version: 1\ntests:\n  - name: a\n    request:\n      method: GET\n      target: /\n      peer: build-host-7\n    expect: {decision: allow}\n",
			"suite.yaml:7: tests[0].request.peer: must be an IP address"},
		{"request not a mapping", "version: 1\ntests:\n  - name: a\n    request: GET /\n    expect: {decision: allow}\n",
			"suite.yaml:4: tests[0].request: must be a mapping"},
		{"no decision", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {credential: accepted}\n", "suite.yaml:5: tests[0].expect.decision: is required"},
		{"bad credential", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect: {decision: allow, credential: ok}\n",
			`suite.yaml:5: tests[0].expect.credential: "ok" is not one of accepted, rejected`},
		{"bad reason", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect:\n      decision: allow\n      not_reasons: [Not A Code]\n",
			`suite.yaml:7: tests[0].expect.not_reasons[0]: "Not A Code" is not a reason code`},
		{"bad action", "version: 1\ntests:\n  - name: a\n" + okReq + "    expect:\n      decision: allow\n      actions: [block]\n",
			`suite.yaml:7: tests[0].expect.actions[0]: "block" is not an action`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, t.TempDir(), "suite.yaml", c.body)
			s, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("suite %+v, err %v; want an error naming %s and %q", s, err, p, c.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		p := write(t, t.TempDir(), "suite.yaml", strings.Repeat("#\n", MaxFileBytes/2+1))
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err %v", err)
		}
	})
}

// FuzzParse: a policy test file never panics the parser, and a parsed one
// always has named tests with a request and a valid expected decision.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\ntests:\n  - name: a\n    request: {method: GET, target: /, peer: 10.0.0.1, at: \"2026-06-01T12:00:00Z\"}\n    expect: {decision: allow, actions: []}\n"))
	f.Add([]byte("version: 1\nconfig: ../p.yaml\ntests:\n  - name: b\n    request_file: r.json\n    expect: {decision: deny, reasons: [revoked], not_reasons: [ok]}\n"))
	f.Add([]byte("version: 1\ntests:\n  - name: c\n    request: {method: GET, target: /, x_forwarded_for: [1, {a: b}], 1: 2}\n    expect: {decision: step_up}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(filepath.Join(dir, "suite.yaml"), data)
		if err != nil {
			if !strings.Contains(err.Error(), "suite.yaml") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if len(s.Cases) == 0 {
			t.Fatal("a suite without tests parsed")
		}
		for _, c := range s.Cases {
			if c.Name == "" || c.Request == nil || c.Expect.Decision == "" {
				t.Fatalf("incomplete test %+v", c)
			}
		}
	})
}
