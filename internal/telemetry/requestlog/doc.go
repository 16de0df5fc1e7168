// Package requestlog is the one schema of the request log lines that
// `provost serve`, `provost proxy` and the admin API write: the same
// message, the same attribute names and types, whichever of them answered.
// It also carries the request id (X-Request-Id) through a context.
//
// A line names the credential by fingerprint only, and the target by path
// only: a query may carry a secret.
package requestlog
