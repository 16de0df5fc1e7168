package e2e

import (
	"encoding/pem"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// decided is one decision the scenarios asked for, as the server answered.
type decided struct {
	label       string
	outcome     string // allow, step_up or deny (verdict.Outcome)
	fingerprint string
	reasons     []string // every reason code of the answer
	want        []string // the codes the scenario expects among them
	index       int64    // its evidence record; -1 when the answer named none
}

// copiedToken is the AI agent's token of scenario 2: used from its
// sanctioned runtime, then copied and used from 203.0.113.50.
type copiedToken struct {
	token       string // the raw credential: never shown, only sent
	svid        string // the runtime's SVID (PEM), for a check from the approved origin
	fingerprint string
	copiedIndex int64 // the evidence record of the denied copied use
}

// played is what the demo's scenarios did against a server.
type played struct {
	decisions []decided
	copied    copiedToken
}

// denials are the deny decisions.
func (p *played) denials() []decided {
	var out []decided
	for _, d := range p.decisions {
		if d.outcome == "deny" {
			out = append(out, d)
		}
	}
	return out
}

// fingerprintOf is the fingerprint of the credential of the step label.
func (p *played) fingerprintOf(label string) string {
	for _, d := range p.decisions {
		if d.label == label {
			return d.fingerprint
		}
	}
	return ""
}

// playScenarios drives the demo's scenarios (internal/demo/scenarios.go)
// that a server on the real clock can play — those that need weeks or
// hours to pass (the vendor handoff, the dormant token) are left out —
// over real HTTP: the check API, and forward-auth from a trusted proxy.
// Each answer must be the one the scenario expects.
func playScenarios(t *testing.T, s *served) *played {
	t.Helper()
	p := &played{}
	w := s.w
	step := func(label string, a answer, want string, reasons ...string) decided {
		t.Helper()
		d := decided{label: label, outcome: a.Decision, fingerprint: a.Credential.Fingerprint, reasons: a.codes(), want: reasons, index: -1}
		if a.Evidence != nil {
			d.index = a.Evidence.Index
		}
		if a.Decision != want {
			t.Errorf("scenario step %q: decision %s %v, want %s %v", label, a.Decision, d.reasons, want, reasons)
		}
		for _, r := range reasons {
			if !slices.Contains(d.reasons, r) {
				t.Errorf("scenario step %q: reasons %v lack %s", label, d.reasons, r)
			}
		}
		p.decisions = append(p.decisions, d)
		return d
	}
	svid := func(path string) string {
		c, _ := w.MustSVID(path)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	bearer := func(tok string) string { return "Bearer " + tok }

	// 1. A CI/CD runner's token, from the approved build host, then from
	// another host (deny and revoke), then back on the approved host.
	ci := w.MustToken("repo:acme/deploy:ref:refs/heads/main", map[string]any{"repository": "acme/deploy"})
	ciReq := func(peer string) map[string]any {
		return map[string]any{"method": "POST", "target": "/v1/deploy", "authorization": bearer(ci), "peer": peer}
	}
	step("ci from the build host", s.check(ciReq("127.0.0.20")), "allow")
	step("ci from another host", s.check(ciReq("127.0.0.66")), "deny", "network_not_approved")
	step("ci after its revocation", s.check(ciReq("127.0.0.20")), "deny", "revoked")

	// 2. An AI agent's token: the sanctioned runtime, then copied.
	agent := w.MustToken("agent:support-bot", nil)
	runtimeSVID := svid("/agents/support-bot")
	step("agent from its runtime", s.check(map[string]any{"method": "GET", "target": "/v1/tools/search",
		"authorization": bearer(agent), "peer": "10.30.1.5", "client_cert": runtimeSVID}), "allow")
	cp := step("agent token copied", s.check(map[string]any{"method": "GET", "target": "/v1/tools/search",
		"authorization": bearer(agent), "peer": "203.0.113.50"}), "deny", "copied_credential")
	p.copied = copiedToken{token: agent, svid: runtimeSVID, fingerprint: cp.fingerprint, copiedIndex: cp.index}

	// 3. A support integration through its approved proxies, then around them.
	help := w.MustToken("integration:helpdesk", nil)
	step("helpdesk through edge > gw", s.check(map[string]any{"method": "GET", "target": "/v1/tickets", "authorization": bearer(help),
		"peer": "10.60.0.8", "hops": []string{w.MustHops("GET", "/v1/tickets", help, "edge", "gw")}}), "allow")
	step("helpdesk around the proxies", s.check(map[string]any{"method": "GET", "target": "/v1/tickets",
		"authorization": bearer(help), "peer": "10.60.0.8"}), "deny", "proxy_chain_absent")

	// 5. Customer data: DPoP only (step-up), then with workload identity
	// and posture (allow); 8. the proof replayed, and one from another key.
	key := w.NewKey()
	export := w.MustToken("svc:customer-export", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(key)}})
	exportReq := func(proof string, evidence bool) map[string]any {
		doc := map[string]any{"method": "GET", "target": "/v1/customers/export", "authorization": "DPoP " + export, "dpop": proof, "peer": "10.40.0.9"}
		if evidence {
			doc["client_cert"] = svid("/exporter")
			doc["posture"] = w.MustPosture("db-export-1", "hardened", export)
		}
		return doc
	}
	step("export with possession only", s.check(exportReq(w.MustDPoPProof(key, "GET", "/v1/customers/export", export), false)),
		"step_up", "evidence_insufficient")
	proof := w.MustDPoPProof(key, "GET", "/v1/customers/export", export)
	step("export with evidence", s.check(exportReq(proof, true)), "allow")
	step("export proof replayed", s.check(exportReq(proof, false)), "deny", "dpop_replayed")
	step("export proof from another key", s.check(exportReq(w.MustDPoPProof(w.NewKey(), "GET", "/v1/customers/export", export), false)),
		"deny", "dpop_key_mismatch")

	// 6. A stolen token replayed from attacker infrastructure, through
	// forward-auth as nginx (127.0.0.1, a trusted proxy) sends it.
	payments := w.MustToken("svc:payments", nil)
	xfcc := `By=spiffe://demo.provost.test/envoy;Cert="` + url.PathEscape(svid("/payments/api")) + `";URI=spiffe://demo.provost.test/payments/api`
	paymentsFP := ""
	fa := func(label, xff, cert, want string, reasons ...string) {
		t.Helper()
		h := map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/v1/charges", "Authorization": bearer(payments), "X-Forwarded-For": xff}
		if cert != "" {
			h["X-Forwarded-Client-Cert"] = cert
		}
		status, hdr := s.forwardAuth(h)
		a := answer{Decision: hdr.Get("X-Provost-Decision")}
		if fp := hdr.Get("X-Provost-Fingerprint"); fp != "" {
			paymentsFP = fp // only an allow names it
		}
		a.Credential.Fingerprint = paymentsFP
		for _, r := range strings.Split(hdr.Get("X-Provost-Reasons"), ",") {
			if r = strings.TrimSpace(r); r != "" {
				a.Reasons = append(a.Reasons, struct{ Code string }{r})
			}
		}
		if a.Decision == "" {
			t.Errorf("forward-auth %q: status %d without X-Provost-Decision", label, status)
		}
		step(label, a, want, reasons...)
	}
	fa("payments from its service", "10.40.2.2", xfcc, "allow")
	fa("payments token stolen", "203.0.113.66", "", "deny", "network_not_approved")
	fa("payments after its revocation", "10.40.2.2", xfcc, "deny", "revoked")

	// 9. Shadow automation; and a token whose signature was altered.
	step("shadow automation", s.check(map[string]any{"method": "GET", "target": "/v1/things",
		"authorization": bearer(w.MustToken("svc:nightly-cron", nil)), "peer": "10.40.1.1"}), "deny", "shadow_automation")
	forged := w.MustToken("svc:reports", nil)
	forged = forged[:len(forged)-8] + "AAAAAAAA"
	step("forged signature", s.check(map[string]any{"method": "GET", "target": "/v1/reports",
		"authorization": bearer(forged), "peer": "10.40.7.7"}), "deny", "jws_bad_signature")

	// 7 (without the weeks): a reports token in use from the datacenter.
	step("reports from the datacenter", s.check(map[string]any{"method": "GET", "target": "/v1/reports",
		"authorization": bearer(w.MustToken("svc:reports", nil)), "peer": "10.40.7.7"}), "allow")
	return p
}

// TestScenariosAgainstServe plays the scenarios against a real `provost
// serve` without the dashboard: the harness itself, which every browser
// test builds on, runs without a browser.
func TestScenariosAgainstServe(t *testing.T) {
	s := startServed(t, buildProvost(t), false)
	p := playScenarios(t, s)
	if p.copied.fingerprint == "" || !strings.HasPrefix(p.copied.fingerprint, "fp1:") {
		t.Errorf("the copied token's fingerprint is %q", p.copied.fingerprint)
	}
	if n := len(p.denials()); n < 8 {
		t.Errorf("%d denials, want at least 8", n)
	}
	for _, d := range p.decisions {
		if d.index < 0 && !strings.HasPrefix(d.label, "payments") {
			t.Errorf("%q: the answer named no evidence record", d.label)
		}
	}
	if s.revoked(p.copied.fingerprint) {
		t.Error("the copied token is revoked, but its binding does not revoke")
	}
	for _, d := range p.decisions {
		if d.label == "ci from another host" && !s.revoked(d.fingerprint) {
			t.Error("the CI token used from another host is not revoked (its binding revokes)")
		}
	}
}
