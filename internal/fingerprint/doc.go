// Package fingerprint names a credential without storing it.
//
// A fingerprint is a keyed hash of a raw credential (a JWT, an opaque token or
// an API key): "fp1:" followed by the unpadded base64url encoding of
// HMAC-SHA256(secret, credential). Without the server secret a fingerprint
// cannot be reversed or confirmed by guessing, so it is safe to log, to store
// in revocation lists and origin history, and to write into evidence records.
// The raw credential itself never leaves the request that carried it.
//
// The secret lives in the data directory as server.secret, 32 random bytes with
// mode 0600, created on first start:
//
//	secret, err := fingerprint.LoadOrCreateSecret(dataDir)
//	if err != nil { ... }
//	fp, err := fingerprint.New(secret)
//	if err != nil { ... }
//	name := fp.Of(rawToken) // "fp1:..."
//
// Changing the secret changes every fingerprint, so revocations and history
// recorded by fingerprint stop matching; keep the file with the data.
package fingerprint
