// Package ssf shares Provost's revocations with other parties over the
// OpenID Shared Signals Framework (SSF 1.0): as a Transmitter it pushes a
// signed Security Event Token (RFC 8417) carrying a CAEP 1.0 event to every
// configured receiver on each revocation, by RFC 8935 push delivery; as a
// Receiver it accepts pushed SETs from configured transmitters and turns the
// CAEP events it supports into revocations.
//
// A revocation never carries a raw credential: a credential is named by its
// fingerprint, an HMAC, which is safe to send to a receiver that shares
// nothing else (it matches only where the same fingerprint secret is used).
// Each revocation kind has one SET form (see docs/ssf.md):
//
//	fingerprint      credential-change (revoke), sub_id {"format":"opaque","id":<fingerprint>}
//	jti + issuer     credential-change (revoke), sub_id {"format":"jwt_id","iss":..,"jti":..}
//	subject + issuer session-revoked, sub_id {"format":"iss_sub","iss":..,"sub":..},
//	                 event_timestamp = IssuedBefore (else the revocation's time)
//	issuer           session-revoked, sub_id {"format":"uri","uri":<issuer>}
//	binding, and jti or subject without an issuer: not shared (ErrNotShared)
//
// Transmitter: Notify signs one SET per stream (ES256 or EdDSA, typ
// secevent+jwt, iss, jti, iat, aud, txn, sub_id, events) and queues it on
// that stream's bounded queue; a full queue is an error (ErrQueueFull) and a
// dead letter. One worker per stream POSTs it (Content-Type
// application/secevent+jwt) until a 2xx answer, retrying transport errors,
// 408/425/429/5xx and invalid_key with exponential backoff and jitter, up to
// MaxAttempts; other refusals are permanent. A SET not delivered becomes a
// DeadLetter (what, where, when, why; never a credential, never the SET).
// Close drains the queues until its context ends. JWKS publishes the public
// keys.
//
// Receiver: an http.Handler for RFC 8935 push. It bounds the body, checks
// the Content-Type, parses the SET strictly with internal/jws (compact JWS
// only; alg ES256, EdDSA or RS256, never none or HS*; typ secevent+jwt; no
// key in the header), verifies it with the transmitter's static JWKS,
// checks iss and aud exactly, iat (not in the future beyond a leeway, not
// older than a maximum age), refuses sub and exp (SSF 1.0), records the jti
// once in a ReplayCache, and hands each revocation to OnRevocation.
// Unsupported events are acknowledged (202) and counted. Refusals are
// RFC 8935 JSON errors ({"err": ..., "description": ...}) that never repeat
// the token.
//
// The package logs nothing; Observe hooks and Stats counters report what it
// did.
package ssf
