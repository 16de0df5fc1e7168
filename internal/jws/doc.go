// Package jws parses and verifies JWS compact serializations (RFC 7515)
// strictly: every token path in Provost (access tokens, DPoP proofs,
// attestations) goes through it.
//
// Parse checks shape and encoding only: the size limit, exactly three
// segments of canonical base64url without padding, a protected header that is
// one strict JSON object (no duplicate member names at any depth, valid
// UTF-8, nothing after it), an alg that is present and not "none" in any
// spelling, and no crit or b64 extension. It neither verifies the signature
// nor parses the payload.
//
// Verify then checks the signature with a key and an allow-list of
// algorithms that the caller takes from its configuration, never from the
// token. Symmetric algorithms (HS256, HS384, HS512) are always refused.
// Ed25519 signatures go by two names, "EdDSA" and RFC 9864's fully-specified
// "Ed25519"; either in an allow-list (or a JWK's alg) admits the other
// (SameAlg, AlgAllowed), and both need an Ed25519 key. It
// checks that the key fits the algorithm (curve, RSA size, a JWK's own alg
// and use) and that ECDSA signatures are raw r||s with r and s in range,
// then calls crypto/ecdsa, crypto/rsa (PSS with the salt length fixed to the
// hash size) or crypto/ed25519 on the signing input Parse kept. go-jose
// parses keys (JWKs) and signs; it does not re-parse tokens here, which
// saved about 90 allocations per signature (BENCHMARKS.md).
//
// Every rejection is a *reason.Error with its own code, so callers branch
// with reason.Of:
//
//	tok, err := jws.Parse(raw, 0)
//	if err != nil {
//		return reason.Of(err)
//	}
//	if tok.Header.KeyMaterial() != "" {
//		// access tokens never take their key from the header
//	}
//	if err := jws.Verify(tok, []string{"ES256"}, issuerKey); err != nil {
//		return reason.Of(err)
//	}
//	var claims struct {
//		Iss string `json:"iss"`
//		Exp int64  `json:"exp"`
//	}
//	err = jws.DecodeObject(tok.Payload, &claims)
//
// The package logs nothing and keeps no state; Token.Compact holds the raw
// credential and must never be logged.
package jws
