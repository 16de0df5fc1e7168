package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

// maxKeysTried bounds how many keys one token may be tried against when it
// names no kid.
const maxKeysTried = 4

// foreignTypes are `typ` values of other token kinds: never access tokens.
var foreignTypes = map[string]bool{
	"dpop+jwt": true, "secevent+jwt": true, "logout+jwt": true,
	"posture+jwt": true, "provost-hop+jwt": true, "token-introspection+jwt": true,
}

// verifyJWT verifies a JWT access token in full at now and fills res's
// metadata. On success it returns what the verified-token cache keeps of it
// (nil when there is no cache).
func (v *Verifier) verifyJWT(ctx context.Context, token string, now time.Time, res *Result) (*verified, error) {
	tok, err := jws.Parse(token, v.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	h := &tok.Header
	m := &res.Metadata
	m.KeyID, m.Algorithm, m.Type = h.Kid, h.Alg, h.Typ
	if km := h.KeyMaterial(); km != "" {
		return nil, reason.New(reason.JWSHeaderKeyMaterial, fmt.Sprintf("the token carries key material in its %q header; keys come from the issuer's configuration only", km))
	}
	var claims map[string]any
	if err := jws.DecodeObject(tok.Payload, &claims); err != nil {
		return nil, err
	}
	iss, ok := claims["iss"].(string)
	if !ok {
		return nil, reason.New(reason.IssuerUnknown, "the token has no string iss claim")
	}
	m.Issuer = iss
	is, ok := v.issuers[iss]
	if !ok {
		return nil, reason.New(reason.IssuerUnknown, fmt.Sprintf("the issuer %q is not configured", iss))
	}
	if err := checkType(is, h.Typ); err != nil {
		return nil, err
	}
	key, err := v.verifySignature(ctx, is, tok)
	if err != nil {
		return nil, err
	}
	valid, err := v.checkClaims(is, claims, m, now)
	if err != nil || v.cache == nil {
		return nil, err
	}
	return &verified{md: *m, valid: valid, is: is, kid: h.Kid, key: *key}, nil
}

func checkType(is *Issuer, typ string) error {
	t := strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "application/"))
	if foreignTypes[t] {
		return reason.New(reason.TokenTypeNotAccepted, fmt.Sprintf("a %q token is not an access token", typ))
	}
	accepted := is.TokenTypes
	if len(accepted) == 0 {
		accepted = []string{"at+jwt", "jwt", ""}
	}
	for _, a := range accepted {
		if strings.ToLower(strings.TrimPrefix(strings.ToLower(a), "application/")) == t {
			return nil
		}
	}
	return reason.New(reason.TokenTypeNotAccepted, fmt.Sprintf("token type %q is not accepted for issuer %q", typ, is.Issuer))
}

// verifySignature verifies tok's signature with the issuer's current keys
// and returns the key that verified it.
func (v *Verifier) verifySignature(ctx context.Context, is *Issuer, tok *jws.Token) (*jose.JSONWebKey, error) {
	alg := tok.Header.Alg
	if !slices.Contains(is.Algorithms, alg) {
		if strings.HasPrefix(strings.ToUpper(alg), "HS") {
			return nil, reason.New(reason.JWSSymmetricAlg, fmt.Sprintf("algorithm %q is symmetric; issuer %q has asymmetric keys", alg, is.Issuer))
		}
		return nil, reason.New(reason.JWSAlgNotAllowed, fmt.Sprintf("algorithm %q is not allowed for issuer %q", alg, is.Issuer))
	}
	set, err := is.Keys.Keys(ctx, tok.Header.Kid)
	if err != nil {
		if reason.Of(err) == reason.IssuerKeysUnavailable {
			return nil, err
		}
		return nil, reason.Wrap(reason.IssuerKeysUnavailable, fmt.Sprintf("the keys of issuer %q are unavailable", is.Issuer), err)
	}
	candidates := candidateKeys(set, tok.Header.Kid)
	if len(candidates) == 0 {
		return nil, reason.New(reason.JWSKeyNotFound, fmt.Sprintf("issuer %q has no key with kid %q", is.Issuer, clipKid(tok.Header.Kid)))
	}
	// The answer must not depend on the order of the issuer's keys: a
	// signature that failed under a key fit for the algorithm is a bad
	// signature, whatever the other keys said.
	var first, bad error
	for _, k := range candidates {
		err := jws.Verify(tok, is.Algorithms, k)
		if err == nil {
			return k, nil
		}
		switch reason.Of(err) {
		case reason.JWSECDSAForm, reason.JWSECDSARange:
			return nil, err // a malformed signature is malformed for every key
		case reason.JWSBadSignature:
			if bad == nil {
				bad = err
			}
		}
		if first == nil {
			first = err
		}
	}
	if bad != nil {
		return nil, bad
	}
	return nil, first
}

func candidateKeys(set *jose.JSONWebKeySet, kid string) []*jose.JSONWebKey {
	var out []*jose.JSONWebKey
	for i := range set.Keys {
		k := &set.Keys[i]
		if kid != "" && k.KeyID != kid {
			continue
		}
		out = append(out, k)
		if len(out) == maxKeysTried {
			break
		}
	}
	return out
}

// validity is a token's time claims; zero times are absent claims (exp is
// never absent).
type validity struct {
	exp, nbf, iat time.Time
}

// check judges the time claims at now, allowing skew either way.
func (t validity) check(now time.Time, skew time.Duration) error {
	if !now.Before(t.exp.Add(skew)) {
		return reason.New(reason.Expired, fmt.Sprintf("the token expired at %s", t.exp.UTC().Format(time.RFC3339)))
	}
	if !t.nbf.IsZero() && now.Add(skew).Before(t.nbf) {
		return reason.New(reason.NotYetValid, fmt.Sprintf("the token is not valid before %s", t.nbf.UTC().Format(time.RFC3339)))
	}
	if !t.iat.IsZero() && now.Add(skew).Before(t.iat) {
		return reason.New(reason.IssuedInFuture, fmt.Sprintf("the token claims to be issued at %s, in the future", t.iat.UTC().Format(time.RFC3339)))
	}
	return nil
}

// ageSeconds is how old a token issued at iat is at now; 0 when it has no iat.
func ageSeconds(iat, now time.Time) int64 {
	if iat.IsZero() {
		return 0
	}
	return int64(now.Sub(iat) / time.Second)
}

// checkClaims validates the registered claims at now and fills the
// metadata; it returns the time claims.
func (v *Verifier) checkClaims(is *Issuer, c map[string]any, m *Metadata, now time.Time) (validity, error) {
	var t validity
	var err error
	if t.exp, err = numericDate(c, "exp", true); err != nil {
		return t, err
	}
	if t.nbf, err = numericDate(c, "nbf", false); err != nil {
		return t, err
	}
	if t.iat, err = numericDate(c, "iat", false); err != nil {
		return t, err
	}
	if err := t.check(now, v.cfg.Leeway); err != nil {
		return t, err
	}
	aud, err := stringOrList(c, "aud")
	if err != nil {
		return t, err
	}
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(is.Audiences, a) }) {
		return t, reason.New(reason.AudienceMismatch, fmt.Sprintf("the token's audience %q does not include %q", aud, is.Audiences))
	}
	m.Audience, m.ExpiresAt, m.IssuedAt = aud, t.exp, t.iat
	m.AgeSeconds = ageSeconds(t.iat, now)
	if m.Subject, err = optString(c, "sub"); err != nil {
		return t, err
	}
	if m.JTI, err = optString(c, "jti"); err != nil {
		return t, err
	}
	if m.AZP, err = optString(c, "azp"); err != nil {
		return t, err
	}
	if m.ClientID, err = optString(c, "client_id"); err != nil {
		return t, err
	}
	if m.Act, err = actChain(c["act"], v.cfg.MaxActDepth); err != nil {
		return t, err
	}
	if m.Cnf, err = confirmation(c["cnf"]); err != nil {
		return t, err
	}
	m.Claims = c
	return t, nil
}

func numericDate(c map[string]any, name string, required bool) (time.Time, error) {
	raw, ok := c[name]
	if !ok {
		if required {
			return time.Time{}, reason.New(reason.ExpMissing, fmt.Sprintf("the token has no %s claim", name))
		}
		return time.Time{}, nil
	}
	var f float64
	switch n := raw.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim is not a valid number", name))
		}
	case float64:
		f = n
	default:
		return time.Time{}, reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim must be a number of seconds", name))
	}
	if f < 0 || f > 1<<40 {
		return time.Time{}, reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim is not a valid date", name))
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

func optString(c map[string]any, name string) (string, error) {
	raw, ok := c[name]
	if !ok {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim must be a string", name))
	}
	return s, nil
}

func stringOrList(c map[string]any, name string) ([]string, error) {
	switch a := c[name].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{a}, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim must hold strings only", name))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, reason.New(reason.ClaimWrongType, fmt.Sprintf("the %s claim must be a string or a list of strings", name))
}

// actChain flattens the RFC 8693 `act` claim, current actor first.
func actChain(raw any, maxDepth int) ([]Actor, error) {
	var out []Actor
	for raw != nil {
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, reason.New(reason.ClaimWrongType, "the act claim must be an object")
		}
		if len(out) == maxDepth {
			return nil, reason.New(reason.ActChainTooDeep, fmt.Sprintf("the act delegation chain is deeper than %d", maxDepth))
		}
		var a Actor
		var err error
		if a.Subject, err = optString(obj, "sub"); err != nil {
			return nil, err
		}
		if a.Issuer, err = optString(obj, "iss"); err != nil {
			return nil, err
		}
		if a.ClientID, err = optString(obj, "client_id"); err != nil {
			return nil, err
		}
		out = append(out, a)
		raw = obj["act"]
	}
	return out, nil
}

func confirmation(raw any) (*Confirmation, error) {
	if raw == nil {
		return nil, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, reason.New(reason.ClaimWrongType, "the cnf claim must be an object")
	}
	var c Confirmation
	var err error
	if c.JKT, err = optString(obj, "jkt"); err != nil {
		return nil, err
	}
	if c.X5TS256, err = optString(obj, "x5t#S256"); err != nil {
		return nil, err
	}
	if c.JKT == "" && c.X5TS256 == "" {
		// Bound to something Provost cannot check: treating it as a bearer
		// token would drop the binding, so fail closed.
		return nil, reason.New(reason.CnfUnsupported, "the cnf claim names no confirmation method Provost supports (jkt, x5t#S256)")
	}
	return &c, nil
}

// clipKid bounds a kid quoted in a message to 64 bytes: the kid is the
// client's, and messages reach evidence, logs and the WWW-Authenticate
// challenge.
func clipKid(kid string) string {
	const maxLen = 64
	if len(kid) <= maxLen {
		return kid
	}
	return strings.ToValidUTF8(kid[:maxLen], "") + "..."
}
