package answer

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

func dec(out decision.Outcome, cred credential.Result) *provost.Decision {
	d := &provost.Decision{}
	d.Outcome = out
	d.Credential = cred
	d.Reasons = []decision.Reason{{Code: cred.Reason, Message: cred.Message}}
	return d
}

func TestAnswers(t *testing.T) {
	accepted := credential.Result{Verdict: credential.Accepted, Reason: reason.OK, Fingerprint: "fp1:x",
		Metadata: credential.Metadata{Subject: "svc", Issuer: "https://iss"}}
	dpopBound := accepted
	dpopBound.Metadata.Cnf = &credential.Confirmation{JKT: "abc"}
	cases := []struct {
		name      string
		d         *provost.Decision
		status    int
		challenge string
		nonce     string
	}{
		{"allow", dec(verdict.Allow, accepted), 200, "", ""},
		{"provenance deny", dec(verdict.Deny, accepted), 403, "", ""},
		{"step up", dec(verdict.StepUp, accepted), 401, `Bearer error="invalid_token", error_description="re-authenticate from the approved context"`, ""},
		{"step up, DPoP-bound", dec(verdict.StepUp, dpopBound), 401, `DPoP error="invalid_token"`, ""},
		{"no credential", dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.TokenMissing}), 401, `Bearer realm="provost"`, ""},
		{"expired", dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.Expired, Message: `the token "expired"`}), 401, `Bearer error="invalid_token", error_description="the token 'expired'"`, ""},
		{"nonce", dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.DPoPNonceRequired, DPoPNonce: "n-1"}), 401, `DPoP error="use_dpop_nonce"`, "n-1"},
		{"bad proof", dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.DPoPReplayed, Message: "replayed"}), 401, `DPoP error="invalid_dpop_proof"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Status(c.d); got != c.status {
				t.Fatalf("status %d, want %d", got, c.status)
			}
			h := http.Header{}
			Headers(h, c.d)
			if !strings.HasPrefix(h.Get("WWW-Authenticate"), c.challenge) || (c.challenge == "") != (h.Get("WWW-Authenticate") == "") {
				t.Errorf("challenge %q, want prefix %q", h.Get("WWW-Authenticate"), c.challenge)
			}
			if h.Get("DPoP-Nonce") != c.nonce {
				t.Errorf("nonce %q", h.Get("DPoP-Nonce"))
			}
			if h.Get(HeaderDecision) != string(c.d.Outcome) || h.Get(HeaderReasons) == "" {
				t.Errorf("decision headers %v", h)
			}
			if (c.status == 200) != (h.Get(HeaderSubject) == "svc") {
				t.Errorf("identity headers only on allow: %v", h)
			}
		})
	}
}

func TestIdentityAndStrip(t *testing.T) {
	d := dec(verdict.Allow, credential.Result{Verdict: credential.Accepted, Reason: reason.OK, Fingerprint: "fp1:x", Metadata: credential.Metadata{Subject: "s", Issuer: "i"}})
	d.Binding = "b"
	d.Signals.Workload.ID = "spiffe://td/w"
	d.Signals.Network.Client = netip.MustParseAddr("10.1.2.3")
	h := http.Header{}
	h.Set(HeaderSubject, "typed-by-client")
	StripIdentity(h)
	if h.Get(HeaderSubject) != "" {
		t.Fatal("strip left a client-typed identity header")
	}
	Headers(h, d)
	want := map[string]string{HeaderFingerprint: "fp1:x", HeaderSubject: "s", HeaderIssuer: "i", HeaderWorkload: "spiffe://td/w", HeaderBinding: "b", HeaderClient: "10.1.2.3"}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
}

// Every answer names the decision's evidence record.
func TestEvidenceHeader(t *testing.T) {
	d := dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.Expired})
	h := http.Header{}
	Headers(h, d)
	if h.Get(HeaderEvidence) != "" {
		t.Fatalf("evidence header without a record: %q", h.Get(HeaderEvidence))
	}
	d.Evidence = &verdict.EvidenceRef{Index: 42, LeafHash: "q83vEjRWeJA="}
	Headers(h, d)
	if got := h.Get(HeaderEvidence); got != "42 q83vEjRWeJA=" {
		t.Fatalf("evidence header %q", got)
	}
}

// A message quoting what a client sent (an 8000-byte kid) makes a
// challenge of bounded size, cut on a rune boundary.
func TestChallengeBounded(t *testing.T) {
	for _, msg := range []string{strings.Repeat("A", 8000), strings.Repeat("é", 4000), strings.Repeat("A", 255) + "é"} {
		d := dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.JWSKeyNotFound, Message: msg})
		got := Challenge(d)
		desc := strings.TrimSuffix(strings.TrimPrefix(got, `Bearer error="invalid_token", error_description="`), `"`)
		if len(desc) > maxDescription+len("...") || !strings.HasSuffix(desc, "...") || !utf8.ValidString(desc) {
			t.Errorf("challenge of a %d-byte message: %d bytes, valid UTF-8 %v: %.40q...", len(msg), len(got), utf8.ValidString(desc), got)
		}
	}
	if got := Challenge(dec(verdict.Deny, credential.Result{Verdict: credential.Rejected, Reason: reason.Expired, Message: "short"})); !strings.HasSuffix(got, `"short"`) {
		t.Errorf("a short message is kept whole: %q", got)
	}
}
