package dpop

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/provost-dev/provost/reason"
)

// TestEd25519AlgNames checks RFC 9864 proofs: "EdDSA" and "Ed25519" are one
// algorithm, so an allow-list naming either admits a proof under both names,
// the jwk's own alg may use either name, and an allow-list naming neither
// refuses both.
func TestEd25519AlgNames(t *testing.T) {
	k := newTestKey(t, "Ed25519")
	verify := func(t *testing.T, algs []string, header map[string]any) error {
		t.Helper()
		v, err := New(Config{Origins: []string{testOrigin}, Algorithms: algs}, newMemCache(), testClock)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), Request{Proof: k.sign(t, header, goodClaims(t)), Method: "GET", Path: "/res"})
		return err
	}
	withAlg := func(alg, jwkAlg string) map[string]any {
		h := k.header()
		h["alg"] = alg
		if jwkAlg != "" {
			var jwk map[string]any
			if err := json.Unmarshal(k.pub, &jwk); err != nil {
				t.Fatal(err)
			}
			jwk["alg"] = jwkAlg
			h["jwk"] = jwk
		}
		return h
	}
	for _, allowed := range [][]string{nil, {"EdDSA"}, {"Ed25519"}, {"ES256", "Ed25519"}} {
		for _, alg := range []string{"EdDSA", "Ed25519"} {
			for _, jwkAlg := range []string{"", "EdDSA", "Ed25519"} {
				if err := verify(t, allowed, withAlg(alg, jwkAlg)); err != nil {
					t.Errorf("alg %s, jwk alg %q, allow-list %v: %v", alg, jwkAlg, allowed, err)
				}
			}
		}
	}
	for _, alg := range []string{"EdDSA", "Ed25519"} {
		if err := verify(t, []string{"ES256", "PS256"}, withAlg(alg, "")); reason.Of(err) != reason.DPoPAlgNotAllowed {
			t.Errorf("%s with allow-list [ES256, PS256]: %v, want %s", alg, err, reason.DPoPAlgNotAllowed)
		}
		if err := verify(t, nil, withAlg(alg, "ES256")); reason.Of(err) != reason.DPoPBadSignature {
			t.Errorf("%s with jwk alg ES256: %v, want %s", alg, err, reason.DPoPBadSignature)
		}
		if err := verify(t, []string{"Ed25519"}, withAlg(alg, "Ed448")); reason.Of(err) != reason.DPoPBadSignature {
			t.Errorf("%s with jwk alg Ed448: %v, want %s", alg, err, reason.DPoPBadSignature)
		}
	}
}

// TestEd448KeyRefused checks that an OKP key on another curve (Ed448) is
// never taken for an Ed25519 key, whichever name the proof's alg uses.
func TestEd448KeyRefused(t *testing.T) {
	k := newTestKey(t, "Ed25519")
	ed448 := map[string]any{"kty": "OKP", "crv": "Ed448", "x": b64(make([]byte, 57))}
	for _, alg := range []string{"EdDSA", "Ed25519"} {
		v, err := New(Config{Origins: []string{testOrigin}}, newMemCache(), testClock)
		if err != nil {
			t.Fatal(err)
		}
		h := k.header()
		h["alg"], h["jwk"] = alg, ed448
		p, err := v.Verify(context.Background(), Request{Proof: k.sign(t, h, goodClaims(t)), Method: "GET", Path: "/res"})
		if p != nil || reason.Of(err) != reason.DPoPMalformed {
			t.Fatalf("%s proof with an Ed448 jwk: %v, want %s", alg, err, reason.DPoPMalformed)
		}
	}
}

func TestEd25519AlgorithmConfig(t *testing.T) {
	o := []string{testOrigin}
	for _, algs := range [][]string{{"Ed25519"}, {"EdDSA"}, {"EdDSA", "Ed25519"}, {"ES256", "Ed25519"}} {
		if _, err := New(Config{Origins: o, Algorithms: algs}, newMemCache(), nil); err != nil {
			t.Errorf("Algorithms %v: %v", algs, err)
		}
	}
	for _, algs := range [][]string{{"Ed448"}, {"ed25519"}, {"EDDSA"}, {"Ed25519", "HS256"}} {
		if _, err := New(Config{Origins: o, Algorithms: algs}, newMemCache(), nil); err == nil {
			t.Errorf("Algorithms %v accepted", algs)
		}
	}
}
