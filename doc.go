// Package provost verifies token provenance for non-human identities.
//
// For every token-bearing request Provost answers two questions: was the
// credential accepted (signature, issuer, audience, expiry, revocation, proof
// of possession), and did the request come from the credential's approved
// context. An Engine holds the loaded configuration and the stores; every
// transport (HTTP check API, forward-auth, Envoy ext_authz, the reverse
// proxy, Go middleware) turns what it sees into a Request and calls
// Engine.Check.
//
// Provost fails closed: when a part it depends on cannot answer, the
// credential is rejected.
//
// Provost never keeps a raw credential. It names credentials by their
// fingerprint, an HMAC-SHA256 under a server secret kept in the data
// directory.
package provost
