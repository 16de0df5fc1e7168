// Package revocation keeps the revocations every verification is checked
// against.
//
// A Revocation names what is revoked by one Kind:
//
//   - fingerprint: one credential, by its fingerprint (never the raw credential)
//   - jti: one token ID, optionally only from one issuer
//   - subject: every token for a subject, optionally only from one issuer, and
//     optionally only tokens issued before a time (a CAEP session-revoked event)
//   - issuer: every token from an issuer
//   - binding: every credential matched to a binding
//
// Revocation.Matches is the one matching rule; every Store backend answers
// Match with it, so backends cannot disagree about what is revoked. A
// revocation with ExpiresAt set stops matching at that time, and a store may
// forget it from then on.
//
// Match runs on every request, so stores answer it from memory: the SQLite
// store loads all revocations into an index at open and keeps it current on
// Add and Remove, while the rows are written durably (WAL, synchronous=FULL).
//
//	store, err := revocation.OpenSQLite(ctx, filepath.Join(dataDir, "provost.db"), time.Now)
//	if err != nil { ... }
//	defer store.Close()
//	rev, err := store.Match(ctx, revocation.Query{Fingerprint: fp, Issuer: iss, Subject: sub, JTI: jti, IssuedAt: iat})
//	if err != nil { ... } // fail closed
//	if rev != nil { ... } // reason.Revoked
//
// NewMemory returns a Store held in memory only, for tests and embedders.
// Package revocationtest holds the conformance suite every backend passes.
package revocation
