package hop

import (
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

// signEd signs a hop attestation with an Ed25519 key under the literal alg
// value: go-jose signs only under "EdDSA", not RFC 9864's "Ed25519".
func signEd(t testing.TB, key crypto.Signer, alg, kid string, payload any) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]any{"alg": alg, "typ": Type, "kid": kid})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	in := b64.EncodeToString(hdr) + "." + b64.EncodeToString(body)
	return in + "." + b64.EncodeToString(ed25519.Sign(key.(ed25519.PrivateKey), []byte(in)))
}

// TestVerifyEd25519Alg checks that a hop attestation whose alg is RFC 9864's
// "Ed25519" verifies like one saying "EdDSA" (Signer still emits "EdDSA"),
// and that other spellings are refused.
func TestVerifyEd25519Alg(t *testing.T) {
	w := newWorld(t, "edge", "waf") // edge: Ed25519, waf: P-256
	edgeKey := w.signers["edge"].Key
	req, _ := requestDigest(testReq)
	good := map[string]any{"v": 1, "hop": "edge", "iat": t0.Unix(), "req": req}

	first := signEd(t, edgeKey, "Ed25519", "edge", good)
	got, err := w.verifier().Verify([]string{first}, testReq)
	if err != nil || !MatchChain([]string{"edge"}, got.Hops) {
		t.Fatalf("Ed25519 attestation: %v, %v; want [edge]", got.Hops, err)
	}
	// The next hop links to it as to any other.
	value, err := w.signers["waf"].Sign(first, testReq)
	if err != nil {
		t.Fatal(err)
	}
	got, err = w.verifier().Verify([]string{value}, testReq)
	if err != nil || !MatchChain([]string{"edge", "waf"}, got.Hops) {
		t.Fatalf("chain after an Ed25519 attestation: %v, %v; want [edge waf]", got.Hops, err)
	}
	// What Signer emits is unchanged.
	mine, err := w.signers["edge"].Sign("", testReq)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := b64.DecodeString(strings.Split(mine, ".")[0])
	if !strings.Contains(string(h), `"alg":"EdDSA"`) {
		t.Errorf("Signer header = %s, want alg EdDSA", h)
	}

	wafPayload := map[string]any{"v": 1, "hop": "waf", "iat": t0.Unix(), "req": req}
	for _, tt := range []struct {
		name string
		att  string
		code reason.Code
	}{
		{"alg Ed448", signEd(t, edgeKey, "Ed448", "edge", good), reason.HopMalformed},
		{"alg ed25519 (case differs)", signEd(t, edgeKey, "ed25519", "edge", good), reason.HopMalformed},
		{"alg EDDSA (case differs)", signEd(t, edgeKey, "EDDSA", "edge", good), reason.HopMalformed},
		{"alg Ed25519 for a P-256 hop", signEd(t, edgeKey, "Ed25519", "waf", wafPayload), reason.HopBadSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.verifier().Verify([]string{tt.att}, testReq)
			wantCode(t, err, tt.code)
		})
	}
}
