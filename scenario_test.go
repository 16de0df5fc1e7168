package provost_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// expect asserts the decision, both verdicts, and that every code in codes
// is among the decision's reason codes.
func expect(t *testing.T, d *provost.Decision, out verdict.Outcome, cred string, prov verdict.Provenance, codes ...reason.Code) {
	t.Helper()
	got := d.Codes()
	if d.Outcome != out || string(d.Credential.Verdict) != cred || d.Provenance != prov {
		t.Fatalf("got %s / credential %s / provenance %s, reasons %v; want %s / %s / %s",
			d.Outcome, d.Credential.Verdict, d.Provenance, d.Reasons, out, cred, prov)
	}
	for _, c := range codes {
		if !slices.Contains(got, c) {
			t.Errorf("reason %s missing from %v", c, got)
		}
	}
	if len(d.Reasons) == 0 {
		t.Error("a decision without reasons")
	}
}

func hasAction(d *provost.Decision, a verdict.Action) bool { return slices.Contains(d.Actions, a) }

// Scenario 1: a CI/CD runner with a valid API token, from an unapproved
// build host: deny and revoke; the evidence names the host.
func TestScenario1CIRunnerFromUnapprovedHost(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("repo:acme/deploy:ref:refs/heads/main", map[string]any{"repository": "acme/deploy", "workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main"})
	ok := check(t, a, &provost.Request{Method: "POST", Target: "/v1/deploy", Authorization: "Bearer " + tok, Peer: addr("10.20.3.4")})
	expect(t, ok, verdict.Allow, "accepted", verdict.Verified, reason.ProvenanceVerified)

	bad := check(t, a, &provost.Request{Method: "POST", Target: "/v1/deploy", Authorization: "Bearer " + tok, Peer: addr("198.51.100.23")})
	expect(t, bad, verdict.Deny, "accepted", verdict.Violated, reason.NetworkNotApproved)
	if !hasAction(bad, verdict.Revoke) || bad.RevocationID == "" {
		t.Fatalf("binding says revoke: actions %v, revocation %q", bad.Actions, bad.RevocationID)
	}
	if bad.Signals.Network.Client != addr("198.51.100.23") || bad.Origin.Network != "198.51.100.0/24" {
		t.Errorf("evidence must name the host: %+v / %+v", bad.Signals.Network, bad.Origin)
	}
	// Revoked: the next request, even from the approved host, is denied.
	after := check(t, a, &provost.Request{Method: "POST", Target: "/v1/deploy", Authorization: "Bearer " + tok, Peer: addr("10.20.3.4")})
	expect(t, after, verdict.Deny, "rejected", verdict.Insufficient, reason.Revoked)
}

// Scenario 2: an AI agent's shared service token: allowed from the
// sanctioned agent runtime; the same token copied and used elsewhere is
// denied and flagged as a copied credential.
func TestScenario2AgentTokenCopied(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("agent:support-bot", nil)
	runtime := svid(t, w, "spiffe://acme.test/agents/support-bot")
	for range 2 {
		d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools/search", Authorization: "Bearer " + tok, Peer: addr("10.30.1.5"), ClientCerts: runtime})
		expect(t, d, verdict.Allow, "accepted", verdict.Verified)
		w.Clock.Advance(time.Minute)
	}
	copied := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools/search", Authorization: "Bearer " + tok, Peer: addr("203.0.113.50")})
	expect(t, copied, verdict.Deny, "accepted", verdict.Violated, reason.CopiedCredential, reason.WorkloadAbsent, reason.NetworkNotApproved)
	if !hasAction(copied, verdict.Alert) {
		t.Errorf("a copied credential alerts: %v", copied.Actions)
	}
}

// Scenario 3: a support integration's valid token on a path that bypasses
// the approved proxy chain: deny. Through the chain: allow. A forged or
// copied chain fails.
func TestScenario3ProxyChainBypassed(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("integration:helpdesk", nil)
	through := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tickets", Authorization: "Bearer " + tok, Peer: addr("10.0.0.2"),
		Hops: hops(w, "GET", "/v1/tickets", tok, "edge", "gw")})
	expect(t, through, verdict.Allow, "accepted", verdict.Verified)
	if got := through.Signals.Proxy.Hops; !slices.Equal(got, []string{"edge", "gw"}) {
		t.Errorf("hops %v", got)
	}
	bypass := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tickets", Authorization: "Bearer " + tok, Peer: addr("10.0.0.2")})
	expect(t, bypass, verdict.Deny, "accepted", verdict.Violated, reason.ProxyChainAbsent)

	skipped := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tickets", Authorization: "Bearer " + tok, Peer: addr("10.0.0.2"),
		Hops: hops(w, "GET", "/v1/tickets", tok, "gw")})
	expect(t, skipped, verdict.Deny, "accepted", verdict.Violated, reason.ProxyChainMismatch)

	copiedHeader := check(t, a, &provost.Request{Method: "DELETE", Target: "/v1/tickets/9", Authorization: "Bearer " + tok, Peer: addr("10.0.0.2"),
		Hops: hops(w, "GET", "/v1/tickets", tok, "edge", "gw")})
	expect(t, copiedHeader, verdict.Deny, "accepted", verdict.Violated, reason.HopRequestMismatch)
}

// Scenario 4: after a vendor handoff the token still works but the source
// system changed: step up (force re-authentication), or revoke where the
// binding says so.
func TestScenario4VendorHandoff(t *testing.T) {
	for _, c := range []struct {
		sub    string
		out    verdict.Outcome
		revoke bool
	}{
		{"vendor:sync", verdict.StepUp, false},
		{"vendor:sync-strict", verdict.Deny, true},
	} {
		t.Run(c.sub, func(t *testing.T) {
			w, a := newWorld(t)
			tok := w.MustToken(c.sub, map[string]any{"exp": w.Clock.Now().Add(30 * 24 * time.Hour).Unix()})
			for range 3 {
				expect(t, check(t, a, &provost.Request{Method: "GET", Target: "/v1/orders", Authorization: "Bearer " + tok, Peer: addr("192.0.2.10")}), verdict.Allow, "accepted", verdict.Verified)
				w.Clock.Advance(time.Hour)
			}
			w.Clock.Advance(24 * time.Hour) // the handoff: vendor A stops, vendor B starts
			d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/orders", Authorization: "Bearer " + tok, Peer: addr("198.51.100.77")})
			expect(t, d, c.out, "accepted", verdict.Verified, reason.SourceDrift)
			if hasAction(d, verdict.Revoke) != c.revoke {
				t.Errorf("revoke action %v, want %v", d.Actions, c.revoke)
			}
		})
	}
}

// Scenario 5: high-risk access to customer data requires origin evidence
// (workload identity and posture); possession alone is not enough.
func TestScenario5EvidenceRequired(t *testing.T) {
	w, a := newWorld(t)
	key := w.NewKey()
	tok := w.MustToken("svc:customer-export", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(key)}})
	possessionOnly := check(t, a, &provost.Request{Method: "GET", Target: "/v1/customers/export", Authorization: "DPoP " + tok,
		DPoP: w.MustDPoPProof(key, "GET", "/v1/customers/export", tok), Peer: addr("10.40.0.9")})
	expect(t, possessionOnly, verdict.StepUp, "accepted", verdict.Insufficient, reason.EvidenceMissing, reason.EvidenceInsufficient)

	full := check(t, a, &provost.Request{Method: "GET", Target: "/v1/customers/export", Authorization: "DPoP " + tok,
		DPoP: w.MustDPoPProof(key, "GET", "/v1/customers/export", tok), Peer: addr("10.40.0.9"),
		ClientCerts: svid(t, w, "spiffe://acme.test/exporter"), Posture: w.MustPosture("host-7", "hardened", tok)})
	expect(t, full, verdict.Allow, "accepted", verdict.Verified)
	if full.Signals.Posture.HostID != "host-7" || full.Signals.Workload.ID != "spiffe://acme.test/exporter" {
		t.Errorf("signals %+v %+v", full.Signals.Posture, full.Signals.Workload)
	}
}

// Scenario 5, posture binding: a posture attestation counts only with the
// credential and for the deployment it was made for. A fresh one lifted from
// another credential's request, one for another audience, and one from an
// attestor that does not bind (no aud, no cred) make the posture signal
// invalid, so customer-export's evidence fails and the request is denied.
func TestScenario5PostureBoundToCredential(t *testing.T) {
	w, a := newWorld(t)
	victim := w.MustToken("svc:customer-export", nil) // the credential the attestations are made for
	tests := []struct {
		name    string
		posture func(tok string) string
		out     verdict.Outcome
		prov    verdict.Provenance
		code    reason.Code // the posture signal's problem, "" for none
	}{
		{"bound to the credential", func(tok string) string { return w.MustPosture("host-7", "hardened", tok) },
			verdict.Allow, verdict.Verified, ""},
		{"replayed with another credential", func(string) string { return w.MustPosture("host-7", "hardened", victim) },
			verdict.Deny, verdict.Violated, reason.PostureCredentialMismatch},
		{"for another audience", func(tok string) string {
			c := w.PostureClaims("host-7", "hardened", tok)
			c["aud"] = "https://api.other.test"
			return w.MustSignPosture(c)
		}, verdict.Deny, verdict.Violated, reason.PostureAudienceMismatch},
		{"without aud and cred", func(tok string) string {
			c := w.PostureClaims("host-7", "hardened", tok)
			delete(c, "aud")
			delete(c, "cred")
			return w.MustSignPosture(c)
		}, verdict.Deny, verdict.Violated, reason.PostureUnbound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := w.NewKey()
			tok := w.MustToken("svc:customer-export", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(key)}})
			d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/customers/export", Authorization: "DPoP " + tok,
				DPoP: w.MustDPoPProof(key, "GET", "/v1/customers/export", tok), Peer: addr("10.40.0.9"),
				ClientCerts: svid(t, w, "spiffe://acme.test/exporter"), Posture: tt.posture(tok)})
			if tt.code == "" {
				expect(t, d, tt.out, "accepted", tt.prov)
			} else {
				expect(t, d, tt.out, "accepted", tt.prov, tt.code)
			}
			if got := d.Signals.Posture.Problem.Code; got != tt.code {
				t.Errorf("posture problem %q, want %q", got, tt.code)
			}
			if _, ok := d.Signals.Posture.Claims["cred"]; ok {
				t.Errorf("the decision carries the credential digest: %v", d.Signals.Posture.Claims)
			}
		})
	}
}

// Scenario 6: a stolen token replayed from attacker infrastructure: deny,
// revoke, and full evidence for the incident.
func TestScenario6StolenTokenReplayed(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:payments", map[string]any{"exp": w.Clock.Now().Add(24 * time.Hour).Unix()})
	svc := svid(t, w, "spiffe://acme.test/payments/api")
	expect(t, check(t, a, &provost.Request{Method: "POST", Target: "/v1/charges", Authorization: "Bearer " + tok, Peer: addr("10.40.2.2"), ClientCerts: svc}), verdict.Allow, "accepted", verdict.Verified)
	w.Clock.Advance(2 * time.Hour)
	attack := check(t, a, &provost.Request{Method: "POST", Target: "/v1/charges", Authorization: "Bearer " + tok, Peer: addr("203.0.113.66"),
		XForwardedFor: []string{"10.40.2.2"}}) // typed by the attacker: the peer is no trusted proxy
	expect(t, attack, verdict.Deny, "accepted", verdict.Violated, reason.WorkloadAbsent, reason.NetworkNotApproved)
	if !hasAction(attack, verdict.Revoke) || attack.RevocationID == "" {
		t.Fatalf("actions %v revocation %q", attack.Actions, attack.RevocationID)
	}
	if attack.Signals.Network.Client != addr("203.0.113.66") || attack.Signals.Network.FromHeader {
		t.Errorf("the attacker's own X-Forwarded-For must gain nothing: %+v", attack.Signals.Network)
	}
	if attack.Credential.Fingerprint == "" || len(attack.Checks) == 0 || len(attack.Tags) == 0 || attack.Credential.Metadata.Subject != "svc:payments" {
		t.Errorf("evidence incomplete: %+v", attack)
	}
	again := check(t, a, &provost.Request{Method: "POST", Target: "/v1/charges", Authorization: "Bearer " + tok, Peer: addr("10.40.2.2"), ClientCerts: svc})
	expect(t, again, verdict.Deny, "rejected", verdict.Insufficient, reason.Revoked)
}

// Scenario 7: a leaked long-lived token, old but valid, dormant then
// revived: flagged.
func TestScenario7DormantRevival(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:reports", map[string]any{"exp": w.Clock.Now().Add(365 * 24 * time.Hour).Unix()})
	expect(t, check(t, a, &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: addr("10.40.7.7")}), verdict.Allow, "accepted", verdict.Verified)
	w.Clock.Advance(45 * 24 * time.Hour)
	d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: addr("10.40.7.7")})
	expect(t, d, verdict.StepUp, "accepted", verdict.Verified, reason.DormantRevival)
	if !hasAction(d, verdict.Alert) {
		t.Errorf("dormant revival alerts: %v", d.Actions)
	}
	if d.Signals.Time.TokenAge < 45*24*time.Hour {
		t.Errorf("token age %s", d.Signals.Time.TokenAge)
	}
}

// Scenario 8: a replayed DPoP proof, or a proof bound to another key: deny.
func TestScenario8DPoPReplayAndForeignKey(t *testing.T) {
	w, a := newWorld(t)
	key := w.NewKey()
	other := w.NewKey()
	tok := w.MustToken("svc:customer-export", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(key)}})
	req := func(proof string) *provost.Request {
		return &provost.Request{Method: "GET", Target: "/v1/customers/export", Authorization: "DPoP " + tok, DPoP: proof, Peer: addr("10.40.0.9"),
			ClientCerts: svid(t, w, "spiffe://acme.test/exporter"), Posture: w.MustPosture("host-7", "hardened", tok)}
	}
	proof := w.MustDPoPProof(key, "GET", "/v1/customers/export", tok)
	expect(t, check(t, a, req(proof)), verdict.Allow, "accepted", verdict.Verified)
	expect(t, check(t, a, req(proof)), verdict.Deny, "rejected", verdict.Violated, reason.DPoPReplayed)
	expect(t, check(t, a, req(w.MustDPoPProof(other, "GET", "/v1/customers/export", tok))), verdict.Deny, "rejected", verdict.Violated, reason.DPoPKeyMismatch)
}

// Scenario 9: a valid token with no binding at all (shadow automation):
// reported, and denied in enforce mode; allowed with an alert in monitor mode.
func TestScenario9ShadowAutomation(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:unknown-cron", nil)
	d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/things", Authorization: "Bearer " + tok, Peer: addr("10.40.1.1")})
	expect(t, d, verdict.Deny, "accepted", verdict.Insufficient, reason.ShadowAutomation)
	if !hasAction(d, verdict.Alert) {
		t.Errorf("shadow automation is reported: %v", d.Actions)
	}

	w.Write("bindings.yaml", "version: 1\nmode: monitor\n")
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := check(t, a, &provost.Request{Method: "GET", Target: "/v1/things", Authorization: "Bearer " + tok, Peer: addr("10.40.1.1")})
	expect(t, m, verdict.Allow, "accepted", verdict.Insufficient, reason.ShadowAutomation, reason.MonitorWouldDeny)
}

// A honeytoken alerts with full provenance on any use.
func TestHoneytoken(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:legacy-admin", nil)
	d := check(t, a, &provost.Request{Method: "GET", Target: "/admin", Authorization: "Bearer " + tok, Peer: addr("203.0.113.9")})
	expect(t, d, verdict.Deny, "accepted", verdict.Verified, reason.Honeytoken)
	if !hasAction(d, verdict.Alert) || d.Signals.Network.Client != addr("203.0.113.9") {
		t.Errorf("honeytoken: %v %+v", d.Actions, d.Signals.Network)
	}
}

// A honeytoken is denied in every mode: monitor mode must not let it through.
func TestHoneytokenDeniedInMonitorMode(t *testing.T) {
	w, a := newWorld(t)
	w.Write("bindings.yaml", strings.Replace(worldBindings, "mode: enforce\n", "mode: monitor\n", 1))
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	d := check(t, a, &provost.Request{Method: "GET", Target: "/admin", Authorization: "Bearer " + w.MustToken("svc:legacy-admin", nil), Peer: addr("203.0.113.9")})
	expect(t, d, verdict.Deny, "accepted", verdict.Verified, reason.Honeytoken)
}

// TestDPoPHtuComparedWithTheRulesPath: the request line is parsed once;
// DPoP's htu is compared with the canonical path the rules see, so a raw
// '|' in the request and "%7C" in the proof's htu (or the reverse) name
// the same path instead of failing as dpop_htu_mismatch.
func TestDPoPHtuComparedWithTheRulesPath(t *testing.T) {
	w, a := newWorld(t)
	key := w.NewKey()
	tok := w.MustToken("svc:reports", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(key)}})
	for _, c := range []struct{ target, htuPath string }{
		{"/v1/reports/a|b", "/v1/reports/a%7Cb"},
		{"/v1/reports/a%7cb", "/v1/reports/a%7Cb"},
	} {
		d := check(t, a, &provost.Request{Method: "GET", Target: c.target, Authorization: "DPoP " + tok,
			DPoP: w.MustDPoPProof(key, "GET", c.htuPath, tok), Peer: addr("10.40.0.9")})
		if d.Credential.Verdict != verdict.Accepted {
			t.Errorf("%s with htu path %s: %s %v, want the credential accepted", c.target, c.htuPath, d.Credential.Reason, d.Codes())
		}
	}
}
