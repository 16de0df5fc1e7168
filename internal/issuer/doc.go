// Package issuer supplies an issuer's public signing keys to the credential
// verifier.
//
// A [Source] answers one question: which keys may have signed a token from
// this issuer right now. Three kinds of source exist:
//
//   - [Static], built from keys in memory ([NewStatic]) or a JWKS file
//     ([LoadFile]). Files are checked strictly: a key carrying private or
//     symmetric material, an RSA key under 2048 bits, an unparsable key or a
//     duplicate kid is an error naming the file and the key.
//   - [Remote], a JWKS URL fetched lazily and kept fresh ([NewRemote]).
//   - [NewDiscovery], which resolves OpenID Connect discovery to a [Remote].
//
// Fetched sets are checked leniently: a bad key is dropped (and counted in
// [Remote.Stats]) so one odd key cannot take an issuer offline. Every source
// keeps only public keys meant for signatures ("use" empty or "sig", and
// "key_ops", when present, including "verify").
//
// A Remote refreshes its keys when they are older than the TTL, or when a
// token names a kid it does not hold, but never more than once per
// MinRefreshInterval, however many unknown kids arrive; concurrent callers
// share one fetch, and at most one runs at a time. Keys past the TTL but
// within MaxStale that hold the kid are returned at once while the refresh
// runs in the background; only a caller the held keys cannot answer (none
// yet, past MaxStale, unknown kid) waits for it, bounded by its context.
// When the issuer stops answering, the last good keys are served until
// MaxStale has passed since the last good fetch; after that Keys fails with
// reason code [reason.IssuerKeysUnavailable].
//
// Usage:
//
//	src, err := issuer.NewDiscovery(ctx, "https://login.example.com", issuer.RemoteConfig{})
//	if err != nil { ... }
//	set, err := src.Keys(ctx, kid) // set is shared: read it, never modify it
//
// The package logs nothing; fetch counts are exposed through [Remote.Stats].
package issuer
