package dpop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/reason"
)

// Defaults and bounds of a Config.
const (
	DefaultMaxAge        = 60 * time.Second
	DefaultLeeway        = 5 * time.Second
	DefaultNonceLifetime = 5 * time.Minute
	DefaultMaxProofBytes = 8 << 10

	maxProofBytesLimit = 64 << 10 // the largest MaxProofBytes a Config may ask for
	maxJTILen          = 256      // bytes; RFC 9449 asks for >= 96 bits of randomness
	minNonceKeyLen     = 32
)

// Config configures a Verifier. The zero value of each optional field means
// its default.
type Config struct {
	// Algorithms are the allowed proof algs. Default ES256, ES384, ES512,
	// EdDSA, Ed25519, PS256, RS256. Only asymmetric JWS algs are accepted:
	// HS*, none or an unknown name is a configuration error. "EdDSA" and
	// RFC 9864's "Ed25519" name the same algorithm (an Ed25519 key): either
	// admits proofs under both names.
	Algorithms []string
	// Origins are the external origins the server is reached at, such as
	// "https://api.example.com" (scheme, host and optional port; no path).
	// Required.
	Origins []string
	// MaxAge is how old iat may be. Default 60s.
	MaxAge time.Duration
	// Leeway is how far in the future iat may be. Default 5s.
	Leeway time.Duration
	// NonceKey turns server nonces on when not nil: every proof must then
	// carry a nonce made by Nonce. At least 32 bytes.
	NonceKey []byte
	// NonceLifetime is the length of a nonce time step. Default 5m; a nonce
	// from the current or the previous step is accepted.
	NonceLifetime time.Duration
	// MaxProofBytes bounds the DPoP header value. Default 8 KiB, at most 64 KiB.
	MaxProofBytes int
}

// Verifier checks DPoP proofs. It is safe for concurrent use.
type Verifier struct {
	algs          []string
	origins       []string // normalized, without trailing slash
	maxAge        time.Duration
	leeway        time.Duration
	nonceKey      []byte // nil: nonces off
	nonceLifetime time.Duration
	maxBytes      int
	cache         replay.Cache
	now           func() time.Time
}

// Request is what Verify needs to know about one HTTP request.
type Request struct {
	Proof  string // the DPoP header value
	Method string // HTTP method of the request
	// Path is the request target as received: a path, maybe with ?query.
	// The URL is rebuilt from Config.Origins and Path, never from Host.
	Path string
	// AccessToken is the presented access token, or "" when there is none
	// (e.g. at a token endpoint). When set, the proof must carry its ath.
	AccessToken string
}

// Proof is a verified DPoP proof.
type Proof struct {
	JKT      string // RFC 7638 SHA-256 thumbprint of Key, base64url
	JTI      string
	IssuedAt time.Time
	HTM, HTU string
	Key      *jose.JSONWebKey // public key of the proof
}

// New returns a Verifier. cache is required: every accepted proof's jti is
// recorded there. now is the clock; nil means time.Now.
func New(cfg Config, cache replay.Cache, now func() time.Time) (*Verifier, error) {
	if cache == nil {
		return nil, errors.New("dpop: a replay cache is required")
	}
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		maxAge:        orDefault(cfg.MaxAge, DefaultMaxAge),
		leeway:        orDefault(cfg.Leeway, DefaultLeeway),
		nonceLifetime: orDefault(cfg.NonceLifetime, DefaultNonceLifetime),
		maxBytes:      cfg.MaxProofBytes,
		cache:         cache,
		now:           now,
	}
	if v.maxAge < 0 || v.leeway < 0 || v.nonceLifetime < time.Second {
		return nil, errors.New("dpop: MaxAge and Leeway must not be negative, NonceLifetime must be at least 1s")
	}
	if v.maxBytes == 0 {
		v.maxBytes = DefaultMaxProofBytes
	}
	if v.maxBytes < 0 || v.maxBytes > maxProofBytesLimit {
		return nil, fmt.Errorf("dpop: MaxProofBytes must be between 1 and %d", maxProofBytesLimit)
	}
	var err error
	if v.algs, err = checkAlgorithms(cfg.Algorithms); err != nil {
		return nil, err
	}
	if v.origins, err = checkOrigins(cfg.Origins); err != nil {
		return nil, err
	}
	if cfg.NonceKey != nil {
		if len(cfg.NonceKey) < minNonceKeyLen {
			return nil, fmt.Errorf("dpop: NonceKey must be at least %d bytes", minNonceKeyLen)
		}
		v.nonceKey = append([]byte(nil), cfg.NonceKey...)
	}
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func checkAlgorithms(algs []string) ([]string, error) {
	if len(algs) == 0 {
		return []string{"ES256", "ES384", "ES512", jws.AlgEdDSA, jws.AlgEd25519, "PS256", "RS256"}, nil
	}
	out := make([]string, 0, len(algs))
	for _, a := range algs {
		if !asymmetricAlg(a) {
			return nil, fmt.Errorf("dpop: algorithm %q is not an asymmetric JWS signature algorithm", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// asymmetricAlg reports whether alg is a JWS signature algorithm this
// package accepts for proofs. HS*, none and anything unknown are not.
func asymmetricAlg(alg string) bool {
	switch alg {
	case "ES256", "ES384", "ES512", jws.AlgEdDSA, jws.AlgEd25519,
		"RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return true
	}
	return false
}

func checkOrigins(origins []string) ([]string, error) {
	if len(origins) == 0 {
		return nil, errors.New("dpop: at least one origin is required")
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Verify checks one DPoP proof against the request it came with and, when
// every check passes, records its jti in the replay cache. Errors are
// *reason.Error values with a DPoP reason code (or ReplayCacheFull when the
// replay cache cannot answer: Verify fails closed).
func (v *Verifier) Verify(ctx context.Context, r Request) (*Proof, error) {
	tok, err := v.parse(r.Proof)
	if err != nil {
		return nil, err
	}
	key, err := v.checkHeader(tok)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(tok, v.algs, key); err != nil {
		return nil, err
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, reason.Wrap(reason.DPoPMalformed, "jwk thumbprint", err)
	}
	c, err := decodeClaims(tok.Payload)
	if err != nil {
		return nil, err
	}
	now := v.now()
	iat, err := v.checkClaims(c, r, now)
	if err != nil {
		return nil, err
	}
	if err := v.checkReplay(ctx, jkt, c.JTI, iat); err != nil {
		return nil, err
	}
	return &Proof{JKT: jkt, JTI: c.JTI, IssuedAt: iat, HTM: c.HTM, HTU: c.HTU, Key: key}, nil
}

// parse accepts exactly one compact JWS.
func (v *Verifier) parse(proof string) (*jws.Token, error) {
	if proof == "" {
		return nil, reason.New(reason.DPoPProofMissing, "no DPoP proof")
	}
	if strings.IndexByte(proof, ',') >= 0 {
		return nil, reason.New(reason.DPoPMalformed, "more than one DPoP proof")
	}
	tok, err := jws.Parse(proof, v.maxBytes)
	if err != nil {
		switch reason.Of(err) {
		case reason.JWSAlgNone, reason.JWSAlgNotAllowed, reason.JWSSymmetricAlg:
			return nil, reason.Wrap(reason.DPoPAlgNotAllowed, "proof alg not allowed", err)
		}
		return nil, reason.Wrap(reason.DPoPMalformed, "proof is not a well-formed compact JWS", err)
	}
	return tok, nil
}

// checkHeader checks typ, alg and the jwk, and returns the proof's public key.
func (v *Verifier) checkHeader(tok *jws.Token) (*jose.JSONWebKey, error) {
	h := &tok.Header
	if h.Typ != "dpop+jwt" {
		return nil, reason.New(reason.DPoPType, `proof typ is not "dpop+jwt"`)
	}
	if !v.allowedAlg(h.Alg) {
		return nil, reason.New(reason.DPoPAlgNotAllowed, "proof alg not allowed")
	}
	key, err := parseJWK(h.JWK)
	if err != nil {
		return nil, err
	}
	if h.HasJKU || h.HasX5U || h.HasX5C {
		return nil, reason.New(reason.DPoPMalformed, "proof header carries key material besides jwk")
	}
	return key, nil
}

// allowedAlg reports whether the allow-list admits alg; "EdDSA" and
// "Ed25519" admit each other (jws.SameAlg).
func (v *Verifier) allowedAlg(alg string) bool {
	return jws.AlgAllowed(v.algs, alg)
}

// verifySignature checks the proof signature with its own jwk (jws.Verify
// also checks that the key fits alg: curve, RSA size, the jwk's own alg and
// use). ECDSA form and range errors keep the jws package's code; any other
// failure is DPoPBadSignature.
func verifySignature(tok *jws.Token, algs []string, key *jose.JSONWebKey) error {
	err := jws.Verify(tok, algs, key)
	if err == nil {
		return nil
	}
	switch reason.Of(err) {
	case reason.JWSECDSAForm, reason.JWSECDSARange:
		return err
	}
	return reason.Wrap(reason.DPoPBadSignature, "proof signature does not verify with its jwk", err)
}

// checkClaims runs the claim checks in order and returns iat.
func (v *Verifier) checkClaims(c *claims, r Request, now time.Time) (time.Time, error) {
	if c.JTI == "" {
		return time.Time{}, reason.New(reason.DPoPJTIMissing, "proof has no jti")
	}
	if len(c.JTI) > maxJTILen {
		return time.Time{}, reason.New(reason.DPoPMalformed, fmt.Sprintf("proof jti longer than %d bytes", maxJTILen))
	}
	if c.HTM != r.Method {
		return time.Time{}, reason.New(reason.DPoPHTMMismatch, "proof htm does not match the request method")
	}
	if !v.htuMatches(c.HTU, r.Path) {
		return time.Time{}, reason.New(reason.DPoPHTUMismatch, "proof htu does not match the request URL")
	}
	iat, err := v.checkIAT(c.IAT, now)
	if err != nil {
		return time.Time{}, err
	}
	if r.AccessToken != "" {
		if err := checkATH(c.ATH, r.AccessToken); err != nil {
			return time.Time{}, err
		}
	}
	if v.nonceKey != nil {
		if err := v.checkNonce(c.Nonce, now); err != nil {
			return time.Time{}, err
		}
	}
	return iat, nil
}

func (v *Verifier) checkIAT(raw []byte, now time.Time) (time.Time, error) {
	iat, ok := numericDate(raw)
	if !ok {
		return time.Time{}, reason.New(reason.DPoPIATWindow, "proof iat missing or not a number")
	}
	if iat.Before(now.Add(-v.maxAge)) {
		return time.Time{}, reason.New(reason.DPoPIATWindow, "proof iat too old")
	}
	if iat.After(now.Add(v.leeway)) {
		return time.Time{}, reason.New(reason.DPoPIATWindow, "proof iat in the future")
	}
	return iat, nil
}

// checkReplay records the proof's jti; it runs last so a rejected proof does
// not use up its jti.
func (v *Verifier) checkReplay(ctx context.Context, jkt, jti string, iat time.Time) error {
	if h, ok := v.cache.(replay.Horizon); ok && iat.Before(h.Since()) {
		// A proof made before the cache's memory began (Provost restarted
		// with an in-memory cache) may have been used already: it cannot
		// be told from its replay, so a fresh proof is asked for.
		return reason.New(reason.DPoPIATWindow, "proof issued before this Provost's replay cache started: send a fresh proof")
	}
	key := "dpop:" + jkt + ":" + jti
	seen, err := v.cache.Seen(ctx, key, iat.Add(v.maxAge+v.leeway))
	if err != nil {
		return reason.Wrap(reason.ReplayCacheFull, "replay cache could not record the proof", err)
	}
	if seen {
		return reason.New(reason.DPoPReplayed, "proof jti already used")
	}
	return nil
}
