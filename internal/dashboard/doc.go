// Package dashboard is Provost's web dashboard: server-rendered pages
// under /ui on the listener ui.listener names, behind the admin section's
// authentication (docs/dashboard.md).
//
// It reads what the running Provost already opened (internal/app): the
// evidence log (a feed tails it for the overview's counts and the live
// decisions stream, and the decision pages read records and receipts from
// it), the investigation index over it (internal/trail, kept in step in
// the background, for the credential pages), the origin store, the
// revocation store and the policy in force. It never asks the engine.
// Revoke goes through admin.Revoker, the admin API's own code path.
//
// Users are admitted by a client certificate verified against
// admin.client_ca, or by a token (admin.token_sha256 for the admin role,
// admin.readonly_token_sha256 for the read-only role) exchanged at
// /ui/login for an HMAC-signed session cookie. Every answer carries a
// strict Content-Security-Policy (no inline script or style) and
// no-store; every POST carries a per-user CSRF token and, when the
// browser sends one, an Origin or Referer of this host. The pages work
// without JavaScript; a small same-origin script adds the live stream and
// the verification progress. No page or API answer holds a raw
// credential: credentials are named by fingerprint.
package dashboard
