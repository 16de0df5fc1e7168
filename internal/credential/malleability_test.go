package credential

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/reason"
)

// p256N is the order of P-256.
var p256N, _ = new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)

// malleate returns the twin (r, N-s) of an ES256 token: it verifies too,
// and anyone holding the token can make it without the key.
func malleate(t *testing.T, tok string) string {
	t.Helper()
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(p256N, s).FillBytes(sig[32:])
	return tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestMalleatedTwinIsTheSameCredential: the ECDSA twin of a token has the
// token's fingerprint, so a revocation of either refuses both (before the
// fix, the twin of a revoked token was accepted under a new fingerprint).
func TestMalleatedTwinIsTheSameCredential(t *testing.T) {
	ctx := context.Background()
	for i := range 6 { // tokens with s in either half
		fx := newFixture(t)
		tok := es256(t, claims(map[string]any{"jti": "j-" + string(rune('a'+i))}))
		tw := malleate(t, tok)
		a, err := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tok})
		if err != nil || a.Verdict != Accepted {
			t.Fatalf("token: %s %v", a.Reason, err)
		}
		b, err := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tw})
		if err != nil || b.Verdict != Accepted {
			t.Fatalf("twin: %s %v (the twin is a valid signature)", b.Reason, err)
		}
		if a.Fingerprint != b.Fingerprint || a.Fingerprint != Fingerprint(fx.fp, tw) {
			t.Fatal("the token and its twin have different fingerprints")
		}
		if _, err := fx.revs.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: Fingerprint(fx.fp, tok)}); err != nil {
			t.Fatal(err)
		}
		for name, x := range map[string]string{"token": tok, "twin": tw} {
			r, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + x})
			if r.Verdict != Rejected || r.Reason != reason.Revoked {
				t.Errorf("%s after the revocation: %s %s, want revoked", name, r.Verdict, r.Reason)
			}
		}
	}
}

// TestRevocationOfRawBytesStillHolds: a fingerprint revocation written
// before fingerprints named the canonical form (the fingerprint of the
// exact bytes, which differs for a token with a high s) still refuses
// those bytes.
func TestRevocationOfRawBytesStillHolds(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	var high string
	for i := 0; high == ""; i++ {
		tok := es256(t, claims(map[string]any{"jti": strings.Repeat("x", i+1)}))
		if fx.fp.Of(tok) != Fingerprint(fx.fp, tok) {
			high = tok
		}
	}
	if _, err := fx.revs.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fx.fp.Of(high)}); err != nil {
		t.Fatal(err)
	}
	r, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + high})
	if r.Verdict != Rejected || r.Reason != reason.Revoked {
		t.Fatalf("%s %s, want revoked", r.Verdict, r.Reason)
	}
}

// TestForgedWithoutKidIsBadSignature: a token with no kid, signed by a key
// the issuer does not have, is a bad signature whatever order the issuer's
// keys come in (it used to take the code of the last key tried, here the
// RSA key's algorithm mismatch).
func TestForgedWithoutKidIsBadSignature(t *testing.T) {
	fx := newFixture(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := sign(t, other, jose.ES256, claims(nil), signOpts{typ: "at+jwt"})
	r, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + forged})
	if r.Reason != reason.JWSBadSignature {
		t.Fatalf("%s (%s), want %s", r.Reason, r.Message, reason.JWSBadSignature)
	}
}
