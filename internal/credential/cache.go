package credential

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/credential/resultcache"
)

// Defaults of the verified-token cache.
const (
	// DefaultCacheSize bounds the JWTs kept verified. An entry holds the
	// token's claims (about 2 KiB for a typical access token), so the
	// default bounds the cache to a few hundred MiB at worst.
	DefaultCacheSize = 100_000
	// DefaultCacheTTL is the longest a token is kept verified, however far
	// off its exp.
	DefaultCacheTTL = 10 * time.Minute
)

// verified is what the cache keeps of a JWT whose signature, issuer, type,
// audience and claims were verified: everything that depends on the token's
// bytes and the verifier's configuration alone. What depends on the moment
// or the request — the time claims against now, the issuer still holding the
// key, revocation, DPoP proof and mTLS binding — is judged again on every use.
type verified struct {
	digest [sha256.Size]byte // SHA-256 of the token: the entry is for these exact bytes
	md     Metadata          // AgeSeconds is recomputed on every use; shared, read-only
	valid  validity
	is     *Issuer
	kid    string          // the kid the token names ("" if none)
	key    jose.JSONWebKey // the issuer key that verified the signature (a copy)
}

// fromCache fills res from the cache when the token was verified before and
// its entry still holds at now: same bytes, time claims still valid, and the
// issuer still publishing the key that verified it. It reports whether res
// was filled; when not, the token must be verified in full. A hit never
// rejects: whatever no longer holds is left to the full verification, which
// says why.
func (v *Verifier) fromCache(ctx context.Context, token string, now time.Time, res *Result) bool {
	e, ok := v.cache.Get(res.Fingerprint, now, func(e *verified) bool {
		d := sha256.Sum256([]byte(token))
		return subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 &&
			e.valid.check(now, v.cfg.Leeway) == nil && v.keyHeld(ctx, e)
	})
	if !ok {
		return false
	}
	res.Metadata = e.md
	res.Metadata.AgeSeconds = ageSeconds(e.valid.iat, now)
	return true
}

// remember keeps a token accepted after full verification.
func (v *Verifier) remember(token string, e *verified, fp string, now time.Time) {
	e.digest = sha256.Sum256([]byte(token))
	v.cache.Put(fp, e, e.valid.exp.Add(v.cfg.Leeway), now)
}

// keyHeld reports whether the issuer's current keys still hold the key that
// verified e, among the keys a full verification would try: a key rotated
// out of the issuer's JWKS, or replaced under the same kid, is not held, and
// the token is verified again. A source that cannot answer holds nothing.
func (v *Verifier) keyHeld(ctx context.Context, e *verified) bool {
	set, err := e.is.Keys.Keys(ctx, e.kid)
	if err != nil || set == nil {
		return false
	}
	tried := 0
	for i := range set.Keys {
		k := &set.Keys[i]
		if e.kid != "" && k.KeyID != e.kid {
			continue
		}
		if sameKey(k, &e.key) {
			return true
		}
		if tried++; tried == maxKeysTried {
			break
		}
	}
	return false
}

// sameKey reports whether a and b are the same verification key: same kid,
// alg and use, and equal public keys.
func sameKey(a, b *jose.JSONWebKey) bool {
	if a.KeyID != b.KeyID || a.Algorithm != b.Algorithm || a.Use != b.Use {
		return false
	}
	pub, ok := a.Key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(b.Key)
}

// CacheStats returns the counters of the verified-token cache: Hits are
// tokens answered from it, Stale the entries found no longer to hold (key
// rotated out, time claims) and verified again in full.
func (v *Verifier) CacheStats() resultcache.Stats { return v.cache.Stats() }
