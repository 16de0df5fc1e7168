// Package admin is Provost's admin API: revocations (create, list,
// delete), configuration reload, status and Prometheus metrics, on a
// listener of its own that is off unless configured (config.Admin).
//
// Every route is authenticated, by a TLS client certificate verified
// against the configured client CA (optionally limited to listed SPIFFE IDs
// or subjects) or by a bearer token whose SHA-256 is configured; the token
// is compared in constant time and never stored. A missing or wrong
// credential answers 401, a verified certificate of a client not allowed
// answers 403. Requests are authenticated first, then rate limited (429
// with Retry-After): failed attempts per source address, authenticated
// requests per client, so a flood of bad credentials spends no
// authenticated client's budget. Errors are RFC 9457 problem documents.
//
// A revocation may be asked for by the raw credential (kind fingerprint):
// the server fingerprints it and forgets it; it is never stored, logged or
// echoed.
//
// Client is the Go client the CLI (provost revoke, provost revocations,
// provost admin) uses. docs/admin.md describes the routes.
package admin
