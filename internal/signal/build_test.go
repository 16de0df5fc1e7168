package signal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/reason"
)

const (
	testOrigin   = "https://api.example.com"
	testAudience = "https://api.example.com/tokens"
	testAttestor = "https://hostguard.example.com"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// postureBuilder is a Builder whose only evidence is posture: one Ed25519
// attestor and the audiences CompileAnchors gives a deployment with one
// external origin and one issuer. It returns the attestor's key.
func postureBuilder(t *testing.T) (*Builder, ed25519.PrivateKey) {
	t.Helper()
	seed := sha256.Sum256([]byte("signal test attestor"))
	key := ed25519.NewKeyFromSeed(seed[:])
	anchors, err := CompileAnchors(&config.Config{
		ExternalOrigins: []string{testOrigin},
		Issuers:         []config.Issuer{{Issuer: "https://issuer.example.com", Audiences: []string{testAudience, testOrigin}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "att-1", Use: "sig"}
	anchors.Attestors = []posture.Attestor{{Name: "hostguard", Issuer: testAttestor, Keys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}}}
	return &Builder{
		Anchors: anchors,
		Posture: &posture.Verifier{Attestors: anchors.Attestors, Now: func() time.Time { return testNow }},
	}, key
}

// attest signs a posture attestation; changes set claims, nil deletes one.
func attest(t *testing.T, key ed25519.PrivateKey, changes map[string]any) string {
	t.Helper()
	claims := map[string]any{"iss": testAttestor, "iat": testNow.Add(-time.Minute).Unix(), "host_id": "build-7",
		"runner_type": "self-hosted", "os": "linux", "aud": testOrigin, "cred": hop.CredentialDigest("tok-A")}
	for k, v := range changes {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, (&jose.SignerOptions{}).WithType(posture.Type).WithHeader("kid", "att-1"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCompileAnchorsPostureAudiences(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Config
		want []string
	}{
		{"none", config.Config{}, nil},
		{"origins, then issuer audiences, without repeats", config.Config{
			ExternalOrigins: []string{"https://a.example", "https://b.example"},
			Issuers: []config.Issuer{
				{Issuer: "https://i1.example", Audiences: []string{"https://b.example", "api://one"}},
				{Issuer: "https://i2.example", Audiences: []string{"api://two", "api://one"}},
			},
		}, []string{"https://a.example", "https://b.example", "api://one", "api://two"}},
		{"issuer audiences only", config.Config{Issuers: []config.Issuer{{Issuer: "https://i.example", Audiences: []string{"api://x"}}}}, []string{"api://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta, err := CompileAnchors(&tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ta.PostureAudiences, tt.want) {
				t.Errorf("PostureAudiences = %q, want %q", ta.PostureAudiences, tt.want)
			}
		})
	}
}

// TestPostureSignalBinding checks the posture call site: the attestation is
// verified against the credential of the request's Authorization header
// (without its scheme) and the deployment's audiences.
func TestPostureSignalBinding(t *testing.T) {
	b, key := postureBuilder(t)
	tests := []struct {
		name          string
		authorization string
		posture       string
		code          reason.Code // reason.OK: present and verified
	}{
		{"bound to the bearer credential", "Bearer tok-A", attest(t, key, nil), reason.OK},
		{"bound to the DPoP credential", "DPoP tok-A", attest(t, key, nil), reason.OK},
		{"audience is an issuer audience", "Bearer tok-A", attest(t, key, map[string]any{"aud": testAudience}), reason.OK},
		{"replayed with another credential", "Bearer tok-B", attest(t, key, nil), reason.PostureCredentialMismatch},
		{"no credential", "", attest(t, key, nil), reason.PostureCredentialMismatch},
		{"bound to the Authorization value", "Bearer tok-A", attest(t, key, map[string]any{"cred": hop.CredentialDigest("Bearer tok-A")}), reason.PostureCredentialMismatch},
		{"another deployment's audience", "Bearer tok-A", attest(t, key, map[string]any{"aud": "https://api.other.example"}), reason.PostureAudienceMismatch},
		{"attestation without aud and cred", "Bearer tok-A", attest(t, key, map[string]any{"aud": nil, "cred": nil}), reason.PostureUnbound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Observed{Method: "POST", Target: "/v1/deploy", Authorization: tt.authorization, Posture: tt.posture}
			s := b.Signals(r, target.Canonical{Method: "POST", Path: "/v1/deploy"}, credential.Result{}, ClientCert{}, testNow)
			p := s.Posture
			if !p.Present {
				t.Fatal("posture signal absent")
			}
			want := tt.code
			if want == reason.OK {
				want = "" // no problem
			}
			if p.Problem.Code != want {
				t.Fatalf("problem = %+v, want %q", p.Problem, want)
			}
			if tt.code == reason.OK && (p.Attestor != "hostguard" || p.HostID != "build-7") {
				t.Errorf("verified posture = %+v", p)
			}
			if tt.code != reason.OK && p.Attestor != "" {
				t.Errorf("refused posture carries fields: %+v", p)
			}
			if _, ok := p.Claims["cred"]; ok {
				t.Errorf("claims carry the credential digest: %v", p.Claims)
			}
		})
	}
	s := b.Signals(&Observed{Method: "GET", Target: "/", Authorization: "Bearer tok-A"}, target.Canonical{Method: "GET", Path: "/"}, credential.Result{}, ClientCert{}, testNow)
	if s.Posture.Present {
		t.Errorf("no attestation, posture signal = %+v", s.Posture)
	}
}
