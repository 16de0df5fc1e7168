package evidence

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

func TestFromDecisionKeepsNoSecret(t *testing.T) {
	for name, s := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			b, err := s.record().Marshal()
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{rawToken, "CLAIM-MUST-NOT-APPEAR", "POSTURE-CLAIM-MUST-NOT-APPEAR",
				"access_token", "page=2", "user:pw"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("record contains %q:\n%s", secret, b)
				}
			}
			if fp := testFingerprint(t); !strings.Contains(string(b), fp) {
				t.Errorf("record does not name the credential by its fingerprint %s", fp)
			}
		})
	}
}

func TestFromDecisionFields(t *testing.T) {
	s := scenarios(t)["deny-revoke"]
	r := s.record()
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", r.Version, Version},
		{"time", r.Time.Time, decidedAt},
		{"request id", r.RequestID, "req-0002"},
		{"request", r.Request, Request{Method: "POST", Path: "/v1/deploy"}},
		{"decision", r.Decision, decision.Deny},
		{"provenance", r.Provenance, decision.Violated},
		{"binding", r.Binding, "ci-deploy"},
		{"bindings digest", r.BindingsDigest, s.meta.BindingsDigest},
		{"revocation", r.RevocationID, "rev-7f3a"},
		{"fingerprint", r.Credential.Fingerprint, s.d.Credential.Fingerprint},
		{"sub", r.Credential.Issuer.Subject, "repo:acme/api:ref:refs/heads/main"},
		{"iat", r.Credential.Issuer.IssuedAt.Time, decidedAt.Add(-90 * time.Second)},
		{"act", r.Credential.Issuer.Act, []Actor{{Subject: "agent-7", ClientID: "tools"}}},
		{"cnf", r.Credential.Issuer.Cnf.JKT, s.d.Credential.Metadata.Cnf.JKT},
		{"aud sorted", r.Credential.Issuer.Audience, []string{"api", "https://provost.example"}},
		{"client", r.Signals.Network.Client, "198.51.100.7"},
		{"sets sorted", r.Signals.Network.Sets, []string{"corp", "runners"}},
		{"hops in order", r.Signals.Proxy.Hops, []string{"edge", "mesh"}},
		{"host", r.Signals.Posture.HostID, "build-42"},
		{"token age", r.Signals.Time.TokenAgeNanos, int64(90 * time.Second)},
		{"origin", r.Origin.Network, "198.51.100.7/24"},
		{"check order", []signal.Name{r.Checks[0].Signal, r.Checks[1].Signal}, []signal.Name{signal.Workload, signal.Network}},
		{"first reason", r.Reasons[0].Code, reason.NetworkNotApproved},
		{"actions sorted", r.Actions, []decision.Action{decision.Alert, decision.Revoke}},
		{"tags", len(r.Tags), len(s.d.Tags)},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(s.d.Actions, []decision.Action{decision.Revoke, decision.Alert}) {
		t.Errorf("FromDecision changed the decision's actions: %v", s.d.Actions)
	}
}

func TestFromDecisionTimeFallsBackToSignals(t *testing.T) {
	s := scenarios(t)["allow"]
	s.meta.Time = time.Time{}
	s.sig.Now = decidedAt.Add(time.Second).In(time.FixedZone("X", 3600))
	if got := s.record().Time.Time; !got.Equal(s.sig.Now) || got.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", got, s.sig.Now)
	}
}

func TestTargetPath(t *testing.T) {
	long := "/" + strings.Repeat("é", MaxPathBytes) // 2 bytes a rune
	tests := []struct{ target, want string }{
		{"/v1/items", "/v1/items"},
		{"/v1/items?api_key=s3cret", "/v1/items"},
		{"/v1/items#frag", "/v1/items"},
		{"/v1/a?b#c", "/v1/a"},
		{"https://user:pw@api.example/v1/x?q=1", "/v1/x"},
		{"https://api.example", "/"},
		{"api.example:443", "api.example:443"},
		{"*", "*"},
		{"", ""},
		{"/redirect?to=https://x/y", "/redirect"},
		{long, long[:MaxPathBytes-1]},
	}
	for _, tt := range tests {
		if got := targetPath(tt.target); got != tt.want {
			t.Errorf("targetPath(%.40q) = %.40q, want %.40q", tt.target, got, tt.want)
		}
	}
}

func TestMethodIsBounded(t *testing.T) {
	s := scenarios(t)["allow"]
	s.sig.Method = strings.Repeat("X", 10*MaxMethodBytes)
	if got := len(s.record().Request.Method); got != MaxMethodBytes {
		t.Errorf("method is %d bytes, want %d", got, MaxMethodBytes)
	}
}
