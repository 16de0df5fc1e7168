package workload

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/credential/resultcache"
)

// Defaults of CacheConfig.
const (
	// DefaultCacheSize bounds each of the two caches: verified X.509-SVID
	// chains and verified JWT-SVIDs. An entry is a few hundred bytes.
	DefaultCacheSize = 10_000
	// DefaultCacheTTL is the longest a verification is kept, however far
	// off the SVID's expiry.
	DefaultCacheTTL = 10 * time.Minute
)

// CacheConfig bounds the caches a Bundles keeps of successful verifications.
// Zero fields take their defaults.
type CacheConfig struct {
	// Size is the most entries each cache holds (default DefaultCacheSize);
	// negative: no caches.
	Size int
	// TTL is the longest an entry is kept (default DefaultCacheTTL); an
	// entry is never kept past the SVID's expiry either. Negative: no
	// caches.
	TTL time.Duration
}

// digest names a presented chain or token in a cache: a SHA-256, never the
// credential itself.
type digest = [sha256.Size]byte

// caches are the two caches of a Bundles; nil caches keep nothing.
type caches struct {
	chains *resultcache.Cache[digest, *chainEntry]
	svids  *resultcache.Cache[digest, *svidEntry]
}

func newCaches(cfg CacheConfig) caches {
	if cfg.Size == 0 {
		cfg.Size = DefaultCacheSize
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultCacheTTL
	}
	return caches{
		chains: resultcache.New[digest, *chainEntry](cfg.Size, cfg.TTL),
		svids:  resultcache.New[digest, *svidEntry](cfg.Size, cfg.TTL),
	}
}

// WithCache returns Bundles over the same trust bundles with new, empty caches
// bounded by cfg. A negative cfg.Size or cfg.TTL gives Bundles that cache
// nothing.
func (b *Bundles) WithCache(cfg CacheConfig) *Bundles {
	return &Bundles{x509: b.x509, jwt: b.jwt, live: b.live, caches: newCaches(cfg)}
}

// CacheStats returns the counters of the verified X.509-SVID chain cache and
// of the verified JWT-SVID cache.
func (b *Bundles) CacheStats() (chains, svids resultcache.Stats) {
	return b.chains.Stats(), b.svids.Stats()
}

// chainDigest is the SHA-256 over every certificate of chain, in order, each
// its DER preceded by its length.
func chainDigest(chain []*x509.Certificate) digest {
	h := sha256.New()
	var n [4]byte
	for _, c := range chain {
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var d digest
	h.Sum(d[:0])
	return d
}

// chainEntry is a chain verified against one trust bundle: the bundle
// object and the authorities it held then, and the period in which every
// certificate of the verified chain is valid. The entry's deadline in the
// cache is the end of that period.
type chainEntry struct {
	id                  spiffeid.ID
	bundle              *x509bundle.Bundle
	authorities         []*x509.Certificate
	notBefore, notAfter time.Time
}

// holds reports whether the chain is still verified at now against bundle,
// the trust domain's current bundle: the same bundle holding the same
// authorities, and now not before any certificate's validity (the clock may
// be set back).
func (e *chainEntry) holds(bundle *x509bundle.Bundle, now time.Time) bool {
	return bundle == e.bundle && slices.Equal(bundle.X509Authorities(), e.authorities) &&
		!now.Before(e.notBefore)
}

func (e *chainEntry) identity(source string) Identity {
	return Identity{ID: e.id.String(), TrustDomain: e.id.TrustDomain().Name(), Source: source, NotAfter: e.notAfter}
}

// validity is the period in which every certificate of chain is valid.
func validity(chain []*x509.Certificate) (notBefore, notAfter time.Time) {
	for i, c := range chain {
		if i == 0 || c.NotBefore.After(notBefore) {
			notBefore = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return notBefore, notAfter
}

// svidEntry is a JWT-SVID whose signature was verified with key, found under
// kid in bundle, and whose claims were read; the claims are checked again,
// against the time and audience of each use.
type svidEntry struct {
	id     spiffeid.ID
	claims jwt.Claims // shared, read-only
	bundle *jwtbundle.Bundle
	kid    string
	key    crypto.PublicKey
}

// svidHolds reports whether b still has, for the SVID's trust domain, the
// bundle that verified e, holding the same key under the same kid.
func (b *Bundles) svidHolds(e *svidEntry) bool {
	bundle, err := b.jwtBundle(e.id.TrustDomain())
	if err != nil || bundle != e.bundle {
		return false
	}
	key, ok := bundle.FindJWTAuthority(e.kid)
	if !ok {
		return false
	}
	pub, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(e.key)
}
