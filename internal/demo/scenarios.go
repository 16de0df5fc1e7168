package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"github.com/provost-dev/provost/internal/provosttest"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// scenario is one acceptance scenario of docs/design.md, played as steps.
type scenario struct {
	title string
	via   string
	steps func(e *env) ([]step, error)
}

// step is one request and the outcome expected of it.
type step struct {
	label   string
	advance time.Duration // move the clock before sending
	send    func(ctx context.Context) (outcome, error)
	want    outcome // Reasons: each must be present
}

func expect(decision, credential, provenance string, reasons ...string) outcome {
	return outcome{Decision: decision, Credential: credential, Provenance: provenance, Reasons: reasons}
}

// pemOf is the PEM of an SVID for a path, for the check API's client_cert.
func (e *env) pemOf(path string) (string, error) {
	c, _, err := e.world.SVID(path)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), nil
}

func scenarios() []scenario {
	return []scenario{
		{"A CI/CD runner's valid token used from an unapproved build host", "the proxy", ciRunner},
		{"An AI agent's shared service token copied and used outside the agent runtime", "the check API", agentCopied},
		{"A support integration's request bypassing the approved proxy chain", "the check API", proxyBypass},
		{"After a vendor handoff the token still works, but the source system changed", "the check API", vendorHandoff},
		{"High-risk access to customer data needs origin evidence, not possession alone", "the check API", evidenceRequired},
		{"A stolen token replayed from attacker infrastructure", "forward-auth (as nginx)", stolenToken},
		{"A leaked long-lived token, dormant for weeks, then revived", "the check API", dormant},
		{"A replayed DPoP proof, and a proof from another key", "the proxy", dpopReplay},
		{"A valid token that no binding approves (shadow automation)", "the check API", shadow},
	}
}

func ciRunner(e *env) ([]step, error) {
	tok, err := e.world.Token("repo:acme/deploy:ref:refs/heads/main", time.Hour, map[string]any{"repository": "acme/deploy"})
	if err != nil {
		return nil, err
	}
	c := call{Method: "POST", Path: "/v1/deploy", Authorization: "Bearer " + tok}
	from := func(addr string) func(ctx context.Context) (outcome, error) {
		return func(ctx context.Context) (outcome, error) { c.From = addr; return e.viaProxy(ctx, c) }
	}
	return []step{
		{label: "from the approved build host 127.0.0.20", send: from("127.0.0.20"), want: expect("allow", "accepted", "verified")},
		{label: "from another host, 127.0.0.66: denied and revoked", send: from("127.0.0.66"), want: expect("deny", "accepted", "violated", "network_not_approved")},
		{label: "back on the approved host: the token is revoked", send: from("127.0.0.20"), want: expect("deny", "rejected", "insufficient", "revoked")},
	}, nil
}

func agentCopied(e *env) ([]step, error) {
	tok, err := e.world.Token("agent:support-bot", time.Hour, nil)
	if err != nil {
		return nil, err
	}
	svid, err := e.pemOf("/agents/support-bot")
	if err != nil {
		return nil, err
	}
	return []step{
		{label: "from the sanctioned runtime (SVID, 10.30.1.5)", send: func(ctx context.Context) (outcome, error) {
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/tools/search", Authorization: "Bearer " + tok, Peer: "10.30.1.5", ClientCert: svid})
		}, want: expect("allow", "accepted", "verified")},
		{label: "a minute later from 203.0.113.50, no workload identity", advance: time.Minute, send: func(ctx context.Context) (outcome, error) {
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/tools/search", Authorization: "Bearer " + tok, Peer: "203.0.113.50"})
		}, want: expect("deny", "accepted", "violated", "copied_credential")},
	}, nil
}

func proxyBypass(e *env) ([]step, error) {
	tok, err := e.world.Token("integration:helpdesk", time.Hour, nil)
	if err != nil {
		return nil, err
	}
	return []step{
		{label: "through the approved proxies edge > gw (signed hops)", send: func(ctx context.Context) (outcome, error) {
			hops, err := e.world.Hops("GET", "/v1/tickets", tok, "edge", "gw")
			if err != nil {
				return outcome{}, err
			}
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/tickets", Authorization: "Bearer " + tok, Peer: "10.60.0.8", Hops: hops})
		}, want: expect("allow", "accepted", "verified")},
		{label: "straight to the API, around the proxies", advance: 10 * time.Minute, send: func(ctx context.Context) (outcome, error) {
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/tickets", Authorization: "Bearer " + tok, Peer: "10.60.0.8"})
		}, want: expect("deny", "accepted", "violated", "proxy_chain_absent")},
		{label: "with the edge hop's attestation only", send: func(ctx context.Context) (outcome, error) {
			hops, err := e.world.Hops("GET", "/v1/tickets", tok, "edge")
			if err != nil {
				return outcome{}, err
			}
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/tickets", Authorization: "Bearer " + tok, Peer: "10.60.0.8", Hops: hops})
		}, want: expect("deny", "accepted", "violated", "proxy_chain_mismatch")},
	}, nil
}

func vendorHandoff(e *env) ([]step, error) {
	tok, err := e.world.Token("vendor:sync", 30*24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	get := func(peer string) func(ctx context.Context) (outcome, error) {
		return func(ctx context.Context) (outcome, error) {
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/orders", Authorization: "Bearer " + tok, Peer: peer})
		}
	}
	return []step{
		{label: "vendor A's system, 192.0.2.10", send: get("192.0.2.10"), want: expect("allow", "accepted", "verified")},
		{label: "six hours later, vendor B's system, 198.51.100.77", advance: 6 * time.Hour, send: get("198.51.100.77"), want: expect("step_up", "accepted", "verified", "source_drift")},
	}, nil
}

func evidenceRequired(e *env) ([]step, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jkt, err := provosttest.JKT(key)
	if err != nil {
		return nil, err
	}
	tok, err := e.world.Token("svc:customer-export", time.Hour, map[string]any{"cnf": map[string]any{"jkt": jkt}})
	if err != nil {
		return nil, err
	}
	svid, err := e.pemOf("/exporter")
	if err != nil {
		return nil, err
	}
	send := func(withEvidence bool) func(ctx context.Context) (outcome, error) {
		return func(ctx context.Context) (outcome, error) {
			proof, err := e.world.DPoPProof(key, "GET", "/v1/customers/export", tok)
			if err != nil {
				return outcome{}, err
			}
			c := call{Method: "GET", Path: "/v1/customers/export", Authorization: "DPoP " + tok, DPoP: proof, Peer: "10.40.0.9"}
			if withEvidence {
				c.ClientCert = svid
				if c.Posture, err = e.world.Posture("db-export-1", "hardened", tok); err != nil {
					return outcome{}, err
				}
			}
			return e.viaCheckAPI(ctx, c)
		}
	}
	return []step{
		{label: "DPoP proof of possession only", send: send(false), want: expect("step_up", "accepted", "insufficient", "evidence_insufficient")},
		{label: "with workload identity and a posture attestation", send: send(true), want: expect("allow", "accepted", "verified")},
	}, nil
}

func stolenToken(e *env) ([]step, error) {
	tok, err := e.world.Token("svc:payments", 24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	svid, err := e.pemOf("/payments/api")
	if err != nil {
		return nil, err
	}
	xfcc := `By=spiffe://demo.provost.test/envoy;Cert="` + url.PathEscape(svid) + `";URI=spiffe://demo.provost.test/payments/api`
	send := func(xff, cert string) func(ctx context.Context) (outcome, error) {
		return func(ctx context.Context) (outcome, error) {
			return e.viaForwardAuth(ctx, call{Method: "POST", Path: "/v1/charges", Authorization: "Bearer " + tok, XFF: xff, XFCC: cert})
		}
	}
	return []step{
		{label: "the payments service (SVID via XFCC, 10.40.2.2)", send: send("10.40.2.2", xfcc), want: expect("allow", "accepted", "verified")},
		{label: "two hours later from 203.0.113.66: denied, revoked", advance: 2 * time.Hour, send: send("203.0.113.66", ""), want: expect("deny", "accepted", "violated", "network_not_approved")},
		{label: "the real service again: the token is revoked", send: send("10.40.2.2", xfcc), want: expect("deny", "rejected", "insufficient", "revoked")},
	}, nil
}

func dormant(e *env) ([]step, error) {
	tok, err := e.world.Token("svc:reports", 365*24*time.Hour, nil)
	if err != nil {
		return nil, err
	}
	get := func(ctx context.Context) (outcome, error) {
		return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/reports", Authorization: "Bearer " + tok, Peer: "10.40.7.7"})
	}
	return []step{
		{label: "in use", send: get, want: expect("allow", "accepted", "verified")},
		{label: "45 days without use, then used again", advance: 45 * 24 * time.Hour, send: get, want: expect("step_up", "accepted", "verified", "dormant_revival")},
	}, nil
}

func dpopReplay(e *env) ([]step, error) {
	key, err1 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, err2 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("keys: %v %v", err1, err2)
	}
	jkt, err := provosttest.JKT(key)
	if err != nil {
		return nil, err
	}
	tok, err := e.world.Token("agent:tool-caller", time.Hour, map[string]any{"cnf": map[string]any{"jkt": jkt}})
	if err != nil {
		return nil, err
	}
	var proof string
	send := func(k *ecdsa.PrivateKey, fresh bool) func(ctx context.Context) (outcome, error) {
		return func(ctx context.Context) (outcome, error) {
			if fresh {
				var err error
				if proof, err = e.world.DPoPProof(k, "POST", "/v1/tools/run", tok); err != nil {
					return outcome{}, err
				}
			}
			return e.viaProxy(ctx, call{Method: "POST", Path: "/v1/tools/run", Authorization: "DPoP " + tok, DPoP: proof, From: "127.0.0.30"})
		}
	}
	return []step{
		{label: "a fresh proof from the bound key", send: send(key, true), want: expect("allow", "accepted", "verified")},
		{label: "the same proof sent again", send: send(key, false), want: expect("deny", "rejected", "violated", "dpop_replayed")},
		{label: "a proof signed by another key", send: send(other, true), want: expect("deny", "rejected", "violated", "dpop_key_mismatch")},
	}, nil
}

func shadow(e *env) ([]step, error) {
	tok, err := e.world.Token("svc:nightly-cron", time.Hour, nil)
	if err != nil {
		return nil, err
	}
	return []step{
		{label: "an unknown job with a valid token", send: func(ctx context.Context) (outcome, error) {
			return e.viaCheckAPI(ctx, call{Method: "GET", Path: "/v1/things", Authorization: "Bearer " + tok, Peer: "10.40.1.1"})
		}, want: expect("deny", "accepted", "insufficient", "shadow_automation")},
	}, nil
}

// play runs one scenario and prints it; it returns the number of steps
// whose outcome differed from the expected one.
func (e *env) play(ctx context.Context, w io.Writer, n int, sc scenario) int {
	fmt.Fprintf(w, "%d. %s\n   (through %s)\n", n, sc.title, sc.via)
	steps, err := sc.steps(e)
	if err != nil {
		fmt.Fprintf(w, "   could not set up: %v\n\n", err)
		return 1
	}
	failed := 0
	for _, s := range steps {
		e.clock.advance(s.advance)
		got, err := s.send(ctx)
		ok := err == nil && matches(got, s.want)
		mark := "ok"
		if !ok {
			mark = "UNEXPECTED"
			failed++
		}
		acts := ""
		if len(got.Actions) > 0 {
			acts = " + " + strings.Join(got.Actions, ", ")
		}
		fmt.Fprintf(w, "   - %s\n     credential %-8s provenance %-12s -> %s%s: %s  [%s]\n",
			s.label, got.Credential, got.Provenance, got.Decision, acts, strings.Join(slices.Compact(got.Reasons), ", "), mark)
		if err != nil {
			fmt.Fprintf(w, "     error: %v\n", err)
		} else if !ok {
			fmt.Fprintf(w, "     expected: credential %s, provenance %s, %s, with %v\n", s.want.Credential, s.want.Provenance, s.want.Decision, s.want.Reasons)
		}
	}
	fmt.Fprintln(w)
	return failed
}

func matches(got, want outcome) bool {
	if got.Decision != want.Decision || got.Credential != want.Credential || got.Provenance != want.Provenance {
		return false
	}
	for _, r := range want.Reasons {
		if !slices.Contains(got.Reasons, r) {
			return false
		}
	}
	return true
}
