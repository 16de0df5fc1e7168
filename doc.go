// Package provost verifies token provenance for non-human identities.
//
// For every token-bearing request Provost answers two questions: was the
// credential accepted (signature, issuer, audience, expiry, revocation, proof
// of possession), and did the request come from the credential's approved
// context. An Engine is built from a Policy (LoadPolicy, ParsePolicy: the
// configuration and bindings, compiled once) and Stores (revocations, origin
// history, the replay cache, the evidence log; package stores opens the
// embedded ones). Every transport (HTTP check API, forward-auth, Envoy
// ext_authz, the reverse proxy, Go middleware) turns what it sees into a
// Request and asks a Checker, an Engine, through Judge.
//
// A Decision (package verdict) carries the outcome, both verdicts, the
// checks and findings, and stable reason codes (package reason) to branch
// on. Provost fails closed: when a part it depends on cannot answer, the
// decision is a denial, and Check never returns a nil Decision.
//
// Provost never keeps a raw credential. It names credentials by their
// fingerprint, an HMAC-SHA256 under the server secret (Options.Secret).
package provost
