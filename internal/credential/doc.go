// Package credential decides whether a presented credential is accepted.
//
// It answers the first of Provost's two questions — was the credential
// accepted? — for JWT access tokens (compact JWS only) from configured
// issuers, for opaque tokens and API keys known by fingerprint, and for
// proof of possession: DPoP (RFC 9449) and mTLS-bound tokens (RFC 8705).
//
// A Verifier is built once from explicit inputs (issuer key sources, the
// fingerprinter, the DPoP verifier, the revocation store and a clock) and is
// safe for concurrent use. Verify never returns a raw credential: a Result
// names the credential by its fingerprint only. A Verifier keeps the JWTs it
// accepted in a bounded cache keyed by fingerprint (see Verifier), so a token
// presented again skips the signature check; what depends on the moment or
// the request is judged again every time.
package credential
