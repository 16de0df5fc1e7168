package hop

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/internal/jws"
)

const (
	examplePath = "testdata/example.txt"
	docPath     = "../../docs/hop-attestation.md"
)

// renderExample signs a two-hop chain with fixed Ed25519 keys (Ed25519
// signatures are deterministic) and a fixed clock, and writes every
// intermediate value, so an independent implementation can reproduce it.
func renderExample(t *testing.T) (string, Verified) {
	t.Helper()
	const credential = "example-access-token"
	req := Request{Method: "GET", Target: "/v1/orders?id=7", CredentialDigest: CredentialDigest(credential)}
	reqDigest, err := requestDigest(req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request\n")
	fmt.Fprintf(&b, "  method      %s\n  target      %s\n  credential  %s\n", req.Method, req.Target, credential)
	fmt.Fprintf(&b, "  cred = base64url(SHA-256(credential))\n       = %s\n", req.CredentialDigest)
	fmt.Fprintf(&b, "  req  = base64url(SHA-256(\"%s\\n%s\\n\" + cred))\n       = %s\n", req.Method, req.Target, reqDigest)

	keys := Keys{}
	value := ""
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, name := range []string{"edge", "gateway"} {
		seed := sha256.Sum256([]byte("provost hop example key " + name))
		key := ed25519.NewKeyFromSeed(seed[:])
		pub := key.Public().(ed25519.PublicKey)
		keys[name] = Key{Name: name, Public: pub}
		now := at.Add(time.Duration(i) * time.Second)
		s := &Signer{Name: name, Key: key, Now: fixedClock(now)}
		if value, err = s.Sign(value, req); err != nil {
			t.Fatal(err)
		}
		atts := strings.Split(value, ",")
		tok, err := jws.Parse(atts[len(atts)-1], 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\nhop %d: %s, signing at %s (iat %d)\n", i+1, name, now.Format(time.RFC3339), now.Unix())
		fmt.Fprintf(&b, "  Ed25519 private key seed (example only)\n    %s\n", hex.EncodeToString(seed[:]))
		fmt.Fprintf(&b, "  public key (JWK \"x\")\n    %s\n", b64.EncodeToString(pub))
		fmt.Fprintf(&b, "  protected header\n    %s\n", tok.Header.Raw)
		fmt.Fprintf(&b, "  payload\n    %s\n", tok.Payload)
		fmt.Fprintf(&b, "  attestation\n    %s\n", tok.Compact)
		fmt.Fprintf(&b, "  base64url(SHA-256(signature)), the next hop's prev\n    %s\n", prevDigest(tok.Signature))
	}
	fmt.Fprintf(&b, "\nheader sent to Provost (one line)\n%s: %s\n", Header, value)

	v := &Verifier{Keys: keys, Now: fixedClock(at.Add(2 * time.Second))}
	got, err := v.Verify([]string{value}, req)
	if err != nil {
		t.Fatalf("the example does not verify: %v", err)
	}
	return b.String(), got
}

func TestExampleGolden(t *testing.T) {
	text, got := renderExample(t)
	if !MatchChain([]string{"edge", "gateway"}, got.Hops) {
		t.Fatalf("example hops = %v", got.Hops)
	}
	golden.Check(t, examplePath, []byte(text), "")
}

// TestDocQuotesExample keeps docs/hop-attestation.md's worked example true.
func TestDocQuotesExample(t *testing.T) { golden.Quoted(t, docPath, examplePath) }
