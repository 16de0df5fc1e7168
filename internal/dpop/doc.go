// Package dpop verifies DPoP proofs (RFC 9449): the signed JWT a client sends
// in the DPoP request header to show it holds the private key that a
// DPoP-bound access token is bound to.
//
// A Verifier is built once from a Config, a replay cache and a clock, and is
// safe for concurrent use:
//
//	v, err := dpop.New(dpop.Config{Origins: []string{"https://api.example.com"}}, cache, time.Now)
//	...
//	proof, err := v.Verify(ctx, dpop.Request{
//		Proof:       r.Header.Get("DPoP"),
//		Method:      r.Method,
//		Path:        r.RequestURI,
//		AccessToken: token, // "" at a token endpoint
//	})
//	if err != nil {
//		if reason.Of(err) == reason.DPoPNonceRequired {
//			w.Header().Set("DPoP-Nonce", v.Nonce()) // and error="use_dpop_nonce"
//		}
//		...
//	}
//	// The caller binds the token to the key: cnf.jkt must equal proof.JKT.
//
// Verify runs the checks of RFC 9449 section 4.3 in a fixed order and stops
// at the first failure, returning a *reason.Error with one DPoP reason code:
// one well-formed compact JWS, typ "dpop+jwt", an allowed asymmetric alg, a
// public jwk header and no other key material, a signature that verifies with
// that jwk, strict claims with a bounded jti, htm equal to the method, htu
// equal to one configured origin plus the request path after RFC 3986 syntax-
// and scheme-based normalization (query and fragment ignored), iat inside
// [now-MaxAge, now+Leeway], ath equal to the hash of the presented access
// token, a valid server nonce when nonces are on, and last a replay check, so
// that a rejected proof never uses up its jti.
//
// The request URL is rebuilt from the configured Origins and the request
// path, never from the Host header, which the client controls.
//
// Server nonces are stateless: a nonce is a time step plus an HMAC of it under
// Config.NonceKey, so every replica holding the key accepts the nonces of the
// others. A nonce from the current or the previous step is accepted.
//
// The package logs nothing and never puts a proof, token or key in an error.
package dpop
