package binding

import (
	"testing"

	"github.com/provost-dev/provost/internal/credential"
)

func TestMatch(t *testing.T) {
	s := mustParse(t, `version: 1
bindings:
  - name: by-fingerprint
    match: {fingerprints: [`+fpOld+`]}
  - name: by-subject
    match:
      issuer: https://token.actions.githubusercontent.com
      subject: "repo:acme/deploy:*"
  - name: by-claims
    match:
      claims: {repository: acme/web, environment: "prod*"}
  - name: by-api-key
    match: {api_key: billing-sync}
  - name: catch-issuer
    match: {issuer: https://token.actions.githubusercontent.com}
`)
	gh := func(sub string, claims map[string]any) credential.Result {
		return credential.Result{Verdict: credential.Accepted, Kind: credential.KindJWT, Fingerprint: fpDeploy,
			Metadata: credential.Metadata{Issuer: "https://token.actions.githubusercontent.com", Subject: sub, Claims: claims}}
	}
	cases := []struct {
		name string
		c    credential.Result
		want string
	}{
		{"fingerprint", credential.Result{Verdict: credential.Accepted, Fingerprint: fpOld}, "by-fingerprint"},
		{"fingerprint wins by order", func() credential.Result {
			c := gh("repo:acme/deploy:ref:refs/heads/main", nil)
			c.Fingerprint = fpOld
			return c
		}(), "by-fingerprint"},
		{"issuer and subject glob", gh("repo:acme/deploy:ref:refs/heads/main", nil), "by-subject"},
		{"subject glob crosses slash", gh("repo:acme/deploy:environment:prod/eu", nil), "by-subject"},
		{"subject of a look-alike repo", gh("repo:acme/deploy-evil:ref:refs/heads/main", nil), "catch-issuer"},
		{"claims glob", gh("repo:acme/web:ref:x", map[string]any{"repository": "acme/web", "environment": "prod-eu"}), "by-claims"},
		{"claims glob mismatch", gh("repo:acme/web:ref:x", map[string]any{"repository": "acme/web", "environment": "staging"}), "catch-issuer"},
		{"claim not a string", gh("repo:acme/web:ref:x", map[string]any{"repository": "acme/web", "environment": float64(1)}), "catch-issuer"},
		{"claim missing", gh("repo:acme/web:ref:x", map[string]any{"repository": "acme/web"}), "catch-issuer"},
		{"api key", credential.Result{Verdict: credential.Accepted, Kind: credential.KindAPIKey, Metadata: credential.Metadata{APIKey: "billing-sync"}}, "by-api-key"},
		{"other api key", credential.Result{Verdict: credential.Accepted, Kind: credential.KindAPIKey, Metadata: credential.Metadata{APIKey: "billing"}}, ""},
		{"other issuer", credential.Result{Verdict: credential.Accepted, Metadata: credential.Metadata{Issuer: "https://evil", Subject: "repo:acme/deploy:x"}}, ""},
		{"nothing", credential.Result{Verdict: credential.Accepted}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := s.Match(&c.c)
			got := ""
			if b != nil {
				got = b.Name
			}
			if got != c.want {
				t.Errorf("Match = %q, want %q", got, c.want)
			}
			// The same credential, rejected, never matches.
			r := c.c
			r.Verdict = credential.Rejected
			if b := s.Match(&r); b != nil {
				t.Errorf("rejected credential matched %q", b.Name)
			}
		})
	}
	if s.Match(nil) != nil || (*Set)(nil).Match(&cases[0].c) != nil {
		t.Error("nil matched")
	}
}

func TestMatchAllCriteria(t *testing.T) {
	s := loadExample(t)
	c := deployCredential()
	if b := s.Match(&c); b == nil || b.Name != "ci-deploy" {
		t.Fatalf("Match = %v", b)
	}
	// Every criterion must hold: a different fingerprint, subject or
	// claim breaks the match.
	for _, change := range []func(*credential.Result){
		func(c *credential.Result) { c.Fingerprint = fpOld },
		func(c *credential.Result) { c.Fingerprint = "" },
		func(c *credential.Result) { c.Metadata.Issuer = "https://gitlab.example.com" },
		func(c *credential.Result) { c.Metadata.Subject = "repo:acme/web:x" },
		func(c *credential.Result) {
			c.Metadata.Claims = map[string]any{"repository": "acme/deploy", "environment": "dev"}
		},
		func(c *credential.Result) { c.Metadata.Claims = nil },
	} {
		c := deployCredential()
		change(&c)
		if b := s.Match(&c); b != nil && b.Name == "ci-deploy" {
			t.Errorf("changed credential %+v still matches ci-deploy", c)
		}
	}
}

func TestNamesWorkload(t *testing.T) {
	s := mustParse(t, `version: 1
bindings:
  - name: a
    match: {issuer: x}
    require: {workloads: ["spiffe://acme.internal/ci/runner/*", spiffe://acme.internal/agent]}
`)
	for id, want := range map[string]bool{
		"spiffe://acme.internal/ci/runner/7":    true,
		"spiffe://acme.internal/ci/runner/7/x":  true,
		"spiffe://acme.internal/ci/runner":      false,
		"spiffe://acme.internal/ci/runner-evil": false,
		"spiffe://acme.internal/agent":          true,
		"spiffe://acme.internal/agent/2":        false,
		"spiffe://other.internal/ci/runner/7":   false,
		"not a spiffe id":                       false,
		"":                                      false,
	} {
		if got := s.NamesWorkload(id); got != want {
			t.Errorf("NamesWorkload(%q) = %v, want %v", id, got, want)
		}
	}
}
