package jws

import (
	"math/big"
	"strings"
)

// Canonical returns the form of token that names it: the token itself,
// except that an ECDSA signature whose s is in the upper half of the
// curve order is replaced by its twin (r, N-s). Both verify: anyone who
// holds an ECDSA-signed token can make the twin without any key, so a
// name taken from the raw bytes (a fingerprint) would let the twin escape
// a revocation of the original, or pass as a second, unseen credential
// beside it. Anything that is not a well-formed ES256/ES384/ES512 compact
// JWS is returned as it is. Canonical does not verify anything.
func Canonical(token string) string {
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 {
		return token
	}
	var c *curveHalf
	switch len(token) - dot - 1 { // base64url length of r||s
	case 86:
		c = &halves[0]
	case 128:
		c = &halves[1]
	case 176:
		c = &halves[2]
	default:
		return token
	}
	sig, err := b64.DecodeString(token[dot+1:])
	size := len(c.order)
	if err != nil || len(sig) != 2*size {
		return token
	}
	// Compared as big-endian strings of the curve's size: s <= N/2 is the
	// canonical half and needs no arithmetic.
	s := string(sig[size:])
	if s <= c.half || s >= c.order || !headerAlg(token, c.alg) {
		return token
	}
	n := new(big.Int).SetBytes([]byte(c.order))
	n.Sub(n, new(big.Int).SetBytes(sig[size:])).FillBytes(sig[size:])
	return token[:dot+1] + b64.EncodeToString(sig)
}

// curveHalf is an ECDSA curve's order N and N/2, big-endian, padded to
// the size of a coordinate.
type curveHalf struct {
	alg, order, half string
}

// halves are the curves of ES256, ES384 and ES512, computed once: they
// never change.
var halves = [...]curveHalf{
	newCurveHalf("ES256", p256N), newCurveHalf("ES384", p384N), newCurveHalf("ES512", p521N),
}

func newCurveHalf(alg, order string) curveHalf {
	half := make([]byte, len(order))
	new(big.Int).Rsh(new(big.Int).SetBytes([]byte(order)), 1).FillBytes(half)
	return curveHalf{alg: alg, order: order, half: string(half)}
}

// headerAlg reports whether token's protected header parses and names alg.
func headerAlg(token, alg string) bool {
	seg, _, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return false
	}
	var h Header
	return parseHeader(&h, raw) == nil && h.Alg == alg
}
