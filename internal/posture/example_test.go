package posture

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/reason"
)

const (
	examplePath = "testdata/example.txt"
	docPath     = "../../docs/posture-attestation.md"
)

// exampleClaims is the worked example's payload, in wire order.
type exampleClaims struct {
	Iss         string `json:"iss"`
	Sub         string `json:"sub"`
	Aud         string `json:"aud"`
	Iat         int64  `json:"iat"`
	Cred        string `json:"cred"`
	HostID      string `json:"host_id"`
	ImageDigest string `json:"image_digest"`
	RunnerType  string `json:"runner_type"`
	OS          string `json:"os"`
}

// renderExample signs one attestation with a fixed Ed25519 key (Ed25519
// signatures are deterministic) and writes every intermediate value, so an
// independent implementation can reproduce it. It returns the text, the
// verifier that accepts the attestation, the attestation and its binding.
func renderExample(t *testing.T) (string, *Verifier, string, Binding) {
	t.Helper()
	const (
		credential = "example-access-token"
		audience   = "https://api.example.com"
	)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seed := sha256.Sum256([]byte("provost posture example key hostguard-1"))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := key.Public().(ed25519.PublicKey)
	want := Binding{Audiences: []string{audience}, CredentialDigest: hop.CredentialDigest(credential)}

	hdr := `{"alg":"EdDSA","kid":"hostguard-1","typ":"posture+jwt"}`
	body, err := json.Marshal(exampleClaims{
		Iss: "https://hostguard.example.com", Sub: "build-7", Aud: audience, Iat: at.Unix(), Cred: want.CredentialDigest,
		HostID: "build-7", ImageDigest: "sha256:9f86d081884c7d65", RunnerType: "self-hosted", OS: "linux",
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(hdr)) + "." + enc(body)
	tok := in + "." + enc(ed25519.Sign(key, []byte(in)))

	var b strings.Builder
	fmt.Fprintf(&b, "request\n")
	fmt.Fprintf(&b, "  credential  %s\n", credential)
	fmt.Fprintf(&b, "  cred = base64url(SHA-256(credential))\n       = %s\n", want.CredentialDigest)
	fmt.Fprintf(&b, "  Provost's external_origins  [%s]\n", audience)
	fmt.Fprintf(&b, "\nattestor hostguard, issuer https://hostguard.example.com, signing at %s (iat %d)\n", at.Format(time.RFC3339), at.Unix())
	fmt.Fprintf(&b, "  Ed25519 private key seed (example only)\n    %s\n", hex.EncodeToString(seed[:]))
	fmt.Fprintf(&b, "  public key (JWK \"x\", kid hostguard-1)\n    %s\n", enc(pub))
	fmt.Fprintf(&b, "  protected header\n    %s\n", hdr)
	fmt.Fprintf(&b, "  payload\n    %s\n", body)
	fmt.Fprintf(&b, "\nheader sent to Provost (one line)\nProvost-Posture: %s\n", tok)

	jwk := jose.JSONWebKey{Key: pub, KeyID: "hostguard-1", Use: "sig"}
	v := &Verifier{
		Attestors: []Attestor{{Name: "hostguard", Issuer: "https://hostguard.example.com", Keys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}}},
		Now:       func() time.Time { return at.Add(30 * time.Second) },
	}
	return b.String(), v, tok, want
}

func TestExampleGolden(t *testing.T) {
	text, v, tok, want := renderExample(t)
	p, err := v.Verify(tok, want)
	if err != nil {
		t.Fatalf("the example does not verify: %v", err)
	}
	if p.Class != "hostguard/self-hosted/linux" || p.HostID != "build-7" {
		t.Fatalf("example posture = %+v", p)
	}
	// The same attestation presented with another credential is refused.
	other := Binding{Audiences: want.Audiences, CredentialDigest: hop.CredentialDigest("another-access-token")}
	_, err = v.Verify(tok, other)
	wantCode(t, err, reason.PostureCredentialMismatch)
	golden.Check(t, examplePath, []byte(text), "")
}

// TestDocQuotesExample keeps docs/posture-attestation.md's worked example true.
func TestDocQuotesExample(t *testing.T) { golden.Quoted(t, docPath, examplePath) }
