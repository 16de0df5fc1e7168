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
	var order, alg string
	switch len(token) - dot - 1 { // base64url length of r||s
	case 86:
		order, alg = p256N, "ES256"
	case 128:
		order, alg = p384N, "ES384"
	case 176:
		order, alg = p521N, "ES512"
	default:
		return token
	}
	sig, err := b64.DecodeString(token[dot+1:])
	size := len(order)
	if err != nil || len(sig) != 2*size {
		return token
	}
	n := new(big.Int).SetBytes([]byte(order))
	s := new(big.Int).SetBytes(sig[size:])
	if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 || s.Cmp(n) >= 0 || !headerAlg(token, alg) {
		return token
	}
	s.Sub(n, s)
	s.FillBytes(sig[size:])
	return token[:dot+1] + b64.EncodeToString(sig)
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
