package jws

import (
	"crypto"
	"math/big"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

// twin returns token with its ECDSA s replaced by N-s: the signature
// anyone can make from a valid one, without the key.
func twin(t *testing.T, token, order string) string {
	t.Helper()
	dot := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	size := len(order)
	n := new(big.Int).SetBytes([]byte(order))
	s := new(big.Int).SetBytes(sig[size:])
	s.Sub(n, s).FillBytes(sig[size:])
	return token[:dot+1] + b64.EncodeToString(sig)
}

// TestCanonicalNamesBothTwins: an ECDSA token and its malleated twin both
// verify, and have one canonical form, with s in the lower half.
func TestCanonicalNamesBothTwins(t *testing.T) {
	k := keys()
	for _, tc := range []struct {
		alg   string
		key   crypto.Signer
		order string
	}{{"ES256", k.p256, p256N}, {"ES384", k.p384, p384N}, {"ES512", k.p521, p521N}} {
		t.Run(tc.alg, func(t *testing.T) {
			for i := range 8 { // both halves of s show up within a few signatures
				tok := signed(t, tc.alg, tc.key, `{"alg":"`+tc.alg+`"}`, []byte{byte(i)})
				tw := twin(t, tok, tc.order)
				wantCode(t, Verify(mustParse(t, tw), []string{tc.alg}, tc.key.Public()), reason.OK)
				c := Canonical(tok)
				if c != Canonical(tw) {
					t.Fatal("the token and its twin have different canonical forms")
				}
				if c != tok && c != tw {
					t.Fatal("the canonical form is neither twin")
				}
				if Canonical(c) != c {
					t.Fatal("Canonical is not idempotent")
				}
				sig, _ := b64.DecodeString(c[strings.LastIndexByte(c, '.')+1:])
				s := new(big.Int).SetBytes(sig[len(tc.order):])
				if s.Cmp(new(big.Int).Rsh(new(big.Int).SetBytes([]byte(tc.order)), 1)) > 0 {
					t.Fatal("the canonical s is in the upper half")
				}
			}
		})
	}
}

// TestCanonicalLeavesOthers: tokens of other algorithms, and anything that
// is not a well-formed ECDSA JWS, are their own canonical form, even where
// the signature has an ECDSA size.
func TestCanonicalLeavesOthers(t *testing.T) {
	k := keys()
	es := signed(t, "ES256", k.p256, `{"alg":"ES256"}`, payload)
	h, p, sig := splitTok(es)
	high := twin(t, es, p256N)
	if Canonical(high) == high {
		high = es // whichever of the pair has the high s
	}
	_, _, highSig := splitTok(high)
	for name, tok := range map[string]string{
		"EdDSA (64-byte signature)":   signed(t, "EdDSA", k.ed, `{"alg":"EdDSA"}`, payload),
		"RS256":                       signed(t, "RS256", k.rsa, `{"alg":"RS256"}`, payload),
		"EdDSA header, high-s bytes":  hdr(`{"alg":"EdDSA"}`) + "." + p + "." + highSig,
		"ES384 header, P-256 size":    hdr(`{"alg":"ES384"}`) + "." + p + "." + highSig,
		"no header":                   "." + p + "." + highSig,
		"bad base64 signature":        h + "." + p + "." + strings.Repeat("!", len(sig)),
		"opaque":                      "an-api-key",
		"empty":                       "",
		"two segments, high-s bytes":  p + "." + highSig,
		"header not JSON, high-s sig": "bm90LWpzb24" + "." + p + "." + highSig,
	} {
		if got := Canonical(tok); got != tok {
			t.Errorf("%s: Canonical changed it", name)
		}
	}
}

func hdr(json string) string { return b64.EncodeToString([]byte(json)) }
