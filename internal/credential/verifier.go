package credential

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/credential/resultcache"
	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/reason"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxTokenBytes = 16 << 10
	DefaultLeeway        = 60 * time.Second
	DefaultMaxActDepth   = 4
)

// Issuer is one configured token issuer.
type Issuer struct {
	// Issuer is the exact `iss` value.
	Issuer string
	// Audiences: a token's `aud` must contain at least one of them.
	Audiences []string
	// Algorithms is the allow-list of signing algorithms for this issuer.
	// "EdDSA" and "Ed25519" (RFC 9864) name the same algorithm: either
	// admits tokens signed with an Ed25519 key under either name.
	Algorithms []string
	// Keys gives the issuer's public keys.
	Keys issuer.Source
	// TokenTypes lists the accepted `typ` header values, compared
	// case-insensitively with any "application/" prefix removed. Empty
	// means "at+jwt", "jwt" and no typ. Listing only "at+jwt" rejects ID
	// tokens (typ "JWT"). Types of other token kinds (dpop+jwt,
	// secevent+jwt, ...) are rejected whatever the list says.
	TokenTypes []string
}

// APIKey is an opaque token or API key known only by its fingerprint.
type APIKey struct {
	Name        string
	Fingerprint string
	Subject     string
}

// Config is everything a Verifier needs, given explicitly.
type Config struct {
	Issuers       []Issuer
	APIKeys       []APIKey
	MaxTokenBytes int           // default 16 KiB
	Leeway        time.Duration // clock skew allowed on exp, nbf and iat (default 60s)
	MaxActDepth   int           // default 4

	// CacheSize bounds the verified-token cache (default
	// DefaultCacheSize); negative: no cache.
	CacheSize int
	// CacheTTL is the longest a token stays verified in the cache (default
	// DefaultCacheTTL); never past its exp plus the leeway.
	CacheTTL time.Duration

	Fingerprints *fingerprint.Fingerprinter
	DPoP         *dpop.Verifier   // nil: DPoP-bound tokens are rejected
	Revocations  revocation.Store // nil: no revocations
	Now          func() time.Time
}

// Verifier verifies presented credentials. It is safe for concurrent use.
//
// A JWT it accepts is kept, by fingerprint, in a bounded cache of its own,
// so that the same token presented again skips parsing, claims decoding and
// the signature check. Only accepted tokens are kept. On every use the
// cached token's time claims are judged again at now, the issuer must still
// publish the key that verified it (a rotated-out key sends the token back
// to full verification), and revocation, the DPoP proof with its key binding
// and the mTLS binding are checked as for a new token. A new Verifier (a
// reload) starts with an empty cache.
type Verifier struct {
	cfg     Config
	issuers map[string]*Issuer
	apiKeys map[string]*APIKey
	cache   *resultcache.Cache[string, *verified] // nil: no cache
}

// New checks cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Fingerprints == nil {
		return nil, errors.New("credential: a fingerprinter is required")
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("credential: leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MaxActDepth <= 0 {
		cfg.MaxActDepth = DefaultMaxActDepth
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL < 0 {
		return nil, errors.New("credential: cache TTL must not be negative")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	v := &Verifier{cfg: cfg, issuers: map[string]*Issuer{}, apiKeys: map[string]*APIKey{},
		cache: resultcache.New[string, *verified](cfg.CacheSize, cfg.CacheTTL)}
	for i := range cfg.Issuers {
		is := &cfg.Issuers[i]
		if err := checkIssuer(is); err != nil {
			return nil, fmt.Errorf("credential: issuer %q: %w", is.Issuer, err)
		}
		if _, dup := v.issuers[is.Issuer]; dup {
			return nil, fmt.Errorf("credential: issuer %q configured twice", is.Issuer)
		}
		own := *is // the caller's Issuer is left as it is
		own.Algorithms = withAliases(is.Algorithms)
		v.issuers[is.Issuer] = &own
	}
	for i := range cfg.APIKeys {
		k := &cfg.APIKeys[i]
		if !strings.HasPrefix(k.Fingerprint, fingerprint.Prefix) {
			return nil, fmt.Errorf("credential: api key %q: fingerprint must start with %q (make one with `provost fingerprint`)", k.Name, fingerprint.Prefix)
		}
		v.apiKeys[k.Fingerprint] = k
	}
	return v, nil
}

func checkIssuer(is *Issuer) error {
	if is.Issuer == "" {
		return errors.New("issuer is empty")
	}
	if len(is.Audiences) == 0 {
		return errors.New("at least one audience is required")
	}
	if len(is.Algorithms) == 0 {
		return errors.New("at least one algorithm is required")
	}
	for _, a := range is.Algorithms {
		if !asymmetric[a] {
			return fmt.Errorf("algorithm %q is not allowed: Provost takes asymmetric JWS algorithms only (%s)", a, asymmetricList)
		}
	}
	if is.Keys == nil {
		return errors.New("a key source (jwks_file, jwks_url or discovery) is required")
	}
	return nil
}

var asymmetric = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	jws.AlgEdDSA: true, jws.AlgEd25519: true,
}

const asymmetricList = "ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519"

// withAliases returns a copy of algs in which each name of Ed25519 ("EdDSA",
// "Ed25519") brings the other: both name one algorithm (RFC 9864), so an
// issuer allowing one accepts a token whose header says the other.
func withAliases(algs []string) []string {
	out := slices.Clone(algs)
	for _, name := range []string{jws.AlgEdDSA, jws.AlgEd25519} {
		if jws.AlgAllowed(algs, name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Presented is what the caller presented, as a transport observed it.
type Presented struct {
	// Authorization is the Authorization header value ("Bearer ...", "DPoP ...").
	Authorization string
	// DPoP is the DPoP header value, if any.
	DPoP string
	// Method and Target of the request: the engine passes the path in the
	// one canonical form target.Parse gives the rules, so DPoP's htu is
	// compared with the same path the bindings judged.
	Method string
	Target string
	// ClientCert is the client certificate of the TLS connection, for
	// mTLS-bound tokens; nil when there is none.
	ClientCert *x509.Certificate
}

// Verify decides whether the presented credential is accepted. Failures of
// Provost's own parts (a store, an issuer that cannot be reached) reject the
// credential: Provost fails closed. The error is non-nil only for such
// internal failures, for logging; the Result is always complete.
func (v *Verifier) Verify(ctx context.Context, p Presented) (Result, error) {
	var res Result
	if err := single(p); err != nil {
		return reject(&res, err), nil
	}
	scheme, token, err := splitAuthorization(p.Authorization, v.cfg.MaxTokenBytes)
	if err != nil {
		return reject(&res, err), nil
	}
	// Fingerprint(token), keeping the canonical form to see below whether
	// the raw bytes need a fingerprint of their own.
	canonical := jws.Canonical(token)
	res.Fingerprint = v.cfg.Fingerprints.Of(canonical)
	now := v.cfg.Now()

	var fresh *verified // a JWT verified in full, to be cached once accepted
	if k, ok := v.apiKeys[res.Fingerprint]; ok {
		res.Kind = KindAPIKey
		res.Metadata.APIKey = k.Name
		res.Metadata.Subject = k.Subject
	} else if looksLikeJWS(token) {
		res.Kind = KindJWT
		if !v.fromCache(ctx, token, now, &res) {
			if fresh, err = v.verifyJWT(ctx, token, now, &res); err != nil {
				return reject(&res, err), internal(err)
			}
		}
	} else {
		return reject(&res, reason.New(reason.OpaqueUnknown, "the opaque token or API key is not known")), nil
	}

	if err := v.checkRevoked(ctx, &res); err != nil {
		return reject(&res, err), internal(err)
	}
	// Revocations written before fingerprints named the canonical form
	// name the exact bytes, which differ from it for half of all ECDSA
	// tokens.
	if canonical != token {
		if err := v.checkRevokedFingerprint(ctx, v.cfg.Fingerprints.Of(token), &res); err != nil {
			return reject(&res, err), internal(err)
		}
	}
	if err := v.checkPossession(ctx, scheme, token, p, &res); err != nil {
		if reason.Of(err) == reason.DPoPNonceRequired && v.cfg.DPoP != nil {
			res.DPoPNonce = v.cfg.DPoP.Nonce()
		}
		return reject(&res, err), internal(err)
	}
	if fresh != nil {
		v.remember(token, fresh, res.Fingerprint, now)
	}
	res.Verdict = Accepted
	res.Reason = reason.OK
	res.Message = "the credential was accepted"
	return res, nil
}

// internal returns err when it is a failure of Provost's own parts rather
// than a rejection of the credential.
func internal(err error) error {
	switch reason.Of(err) {
	case reason.InternalError, reason.IssuerKeysUnavailable, reason.ReplayCacheFull:
		return err
	}
	return nil
}

// single refuses a credential or proof field sent more than once. Every
// transport joins a field's lines with commas (RFC 9110 §5.3), and neither
// a Bearer or DPoP token (token68) nor a compact JWS proof ever holds one,
// so a comma means several fields: judging only one of them would let the
// others through unjudged (RFC 9449 §4.3 requires refusing a second DPoP
// field).
func single(p Presented) error {
	if strings.IndexByte(p.Authorization, ',') >= 0 {
		return reason.New(reason.AuthorizationRepeated, "the Authorization field was sent more than once, or holds a comma no single Bearer or DPoP token has")
	}
	if strings.IndexByte(p.DPoP, ',') >= 0 {
		return reason.New(reason.DPoPRepeated, "the DPoP field was sent more than once (RFC 9449 §4.3)")
	}
	return nil
}

// Token returns the credential of an Authorization header value ("Bearer X"
// or "DPoP X" gives X), read exactly as the verifier reads it. Hop
// attestations digest exactly this, so a proxy that signs hops and the
// engine that verifies them agree byte for byte. Never log what it returns.
func Token(h string) string {
	_, tok, _ := cutAuthorization(h)
	return tok
}

// cutAuthorization is the one reading of an Authorization value: the scheme,
// one or more spaces, the credential.
func cutAuthorization(h string) (scheme, token string, ok bool) {
	scheme, token, ok = strings.Cut(h, " ")
	return scheme, strings.TrimLeft(token, " "), ok
}

// splitAuthorization returns the scheme ("bearer" or "dpop") and the token.
func splitAuthorization(h string, maxBytes int) (string, string, error) {
	if h == "" {
		return "", "", reason.New(reason.TokenMissing, "no credential was presented")
	}
	if len(h) > maxBytes+len("Bearer ") {
		return "", "", reason.New(reason.TokenTooLarge, fmt.Sprintf("the credential is larger than %d bytes", maxBytes))
	}
	scheme, token, ok := cutAuthorization(h)
	if !ok || token == "" {
		return "", "", reason.New(reason.TokenMissing, "the Authorization header has no credential after the scheme")
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return "bearer", token, nil
	case strings.EqualFold(scheme, "DPoP"):
		return "dpop", token, nil
	}
	return "", "", reason.New(reason.TokenMissing, "the Authorization scheme is neither Bearer nor DPoP")
}

// looksLikeJWS reports whether token should be judged as a JWS: JSON
// serialization, or compact serialization (which has dots). Opaque tokens
// and API keys are judged by fingerprint only.
func looksLikeJWS(token string) bool {
	return strings.HasPrefix(token, "{") || strings.Contains(token, ".")
}

// Fingerprint is the name of a presented credential (the token of an
// Authorization value, an API key): the keyed fingerprint of its canonical
// form (jws.Canonical), so that an ECDSA-signed token and the twin anyone
// can make from it have one name. Every place that names a credential
// (verification, revocation by credential, provost fingerprint) uses it.
func Fingerprint(f *fingerprint.Fingerprinter, token string) string {
	return f.Of(jws.Canonical(token))
}

// checkRevokedFingerprint rejects when fp alone is revoked.
func (v *Verifier) checkRevokedFingerprint(ctx context.Context, fp string, res *Result) error {
	if v.cfg.Revocations == nil {
		return nil
	}
	rev, err := v.cfg.Revocations.Match(ctx, revocation.Query{Fingerprint: fp})
	if err != nil {
		return reason.Wrap(reason.InternalError, "the revocation store could not be read", err)
	}
	if rev != nil {
		res.RevocationID = rev.ID
		return reason.New(reason.Revoked, fmt.Sprintf("the credential is revoked (%s %s)", rev.Kind, rev.ID))
	}
	return nil
}

func (v *Verifier) checkRevoked(ctx context.Context, res *Result) error {
	if v.cfg.Revocations == nil {
		return nil
	}
	m := &res.Metadata
	rev, err := v.cfg.Revocations.Match(ctx, revocation.Query{
		Fingerprint: res.Fingerprint,
		Issuer:      m.Issuer,
		Subject:     m.Subject,
		JTI:         m.JTI,
		IssuedAt:    m.IssuedAt,
	})
	if err != nil {
		return reason.Wrap(reason.InternalError, "the revocation store could not be read", err)
	}
	if rev != nil {
		res.RevocationID = rev.ID
		return reason.New(reason.Revoked, fmt.Sprintf("the credential is revoked (%s %s)", rev.Kind, rev.ID))
	}
	return nil
}
