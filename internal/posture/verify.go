package posture

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

// Verify checks a posture attestation, and that it is bound to want, and
// returns what it states. Errors are *reason.Error with a posture_* code.
func (v *Verifier) Verify(token string, want Binding) (Posture, error) {
	tok, err := jws.Parse(token, v.maxBytes())
	if err != nil {
		return Posture{}, reason.Wrap(reason.PostureMalformed, "not a compact JWS", err)
	}
	if !typeMatches(tok.Header.Typ) {
		return Posture{}, reason.New(reason.PostureWrongType, "typ is not "+Type)
	}
	if m := tok.Header.KeyMaterial(); m != "" {
		return Posture{}, reason.New(reason.PostureMalformed, "header carries key material ("+m+")")
	}
	var claims map[string]any
	if err := jws.DecodeObject(tok.Payload, &claims); err != nil {
		return Posture{}, reason.Wrap(reason.PostureMalformed, "claims", err)
	}
	iss, err := stringClaim(claims, "iss")
	if err != nil || iss == "" {
		return Posture{}, reason.New(reason.PostureMalformed, "iss is missing or not a string")
	}
	att, key, err := v.selectKey(iss, tok.Header.Kid)
	if err != nil {
		return Posture{}, err
	}
	algs := att.algorithms()
	if !jws.AlgAllowed(algs, tok.Header.Alg) {
		return Posture{}, reason.New(reason.PostureBadSignature, "alg "+quote(tok.Header.Alg)+" is not allowed for attestor "+quote(att.Name))
	}
	if err := jws.Verify(tok, algs, key); err != nil {
		return Posture{}, reason.Wrap(reason.PostureBadSignature, "signature", err)
	}
	return v.posture(att, claims, want)
}

// selectKey finds the attestor for iss and its key named kid.
func (v *Verifier) selectKey(iss, kid string) (*Attestor, *jose.JSONWebKey, error) {
	var att *Attestor
	for i := range v.Attestors {
		if v.Attestors[i].Issuer == iss {
			att = &v.Attestors[i]
			break
		}
	}
	if att == nil {
		return nil, nil, reason.New(reason.PostureUnknownAttestor, "no attestor has issuer "+quote(iss))
	}
	if kid == "" || att.Keys == nil {
		return nil, nil, reason.New(reason.PostureUnknownAttestor, "no kid, or attestor "+quote(att.Name)+" has no keys")
	}
	for _, k := range att.Keys.Key(kid) {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := k.Public() // a private key in the set by mistake is used only as its public half
		if !pub.Valid() {
			continue
		}
		return att, &pub, nil
	}
	return nil, nil, reason.New(reason.PostureUnknownAttestor, "attestor "+quote(att.Name)+" has no signing key "+quote(kid))
}

// posture checks the verified claims' times and binding and extracts the
// posture.
func (v *Verifier) posture(att *Attestor, claims map[string]any, want Binding) (Posture, error) {
	now := v.now()
	iat, ok, err := numericDate(claims, "iat")
	if err != nil || !ok {
		return Posture{}, reason.New(reason.PostureMalformed, "iat is missing or not a NumericDate")
	}
	exp, hasExp, err := numericDate(claims, "exp")
	if err != nil {
		return Posture{}, reason.Wrap(reason.PostureMalformed, "exp", err)
	}
	nbf, hasNbf, err := numericDate(claims, "nbf")
	if err != nil {
		return Posture{}, reason.Wrap(reason.PostureMalformed, "nbf", err)
	}
	switch {
	case iat.After(now.Add(v.Leeway)):
		return Posture{}, reason.New(reason.PostureNotYetValid, "issued in the future")
	case hasNbf && nbf.After(now.Add(v.Leeway)):
		return Posture{}, reason.New(reason.PostureNotYetValid, "not valid before "+nbf.UTC().Format(time.RFC3339))
	case hasExp && !now.Before(exp.Add(v.Leeway)):
		return Posture{}, reason.New(reason.PostureExpired, "expired at "+exp.UTC().Format(time.RFC3339))
	case iat.Before(now.Add(-att.maxAge() - v.Leeway)):
		return Posture{}, reason.New(reason.PostureStale, "issued more than "+att.maxAge().String()+" ago")
	}
	p := Posture{Attestor: att.Name, IssuedAt: iat.UTC(), Claims: claims}
	fields := []struct {
		name string
		dst  *string
	}{
		{"sub", &p.Subject}, {"host_id", &p.HostID}, {"image_digest", &p.ImageDigest},
		{"runner_type", &p.RunnerType}, {"os", &p.OS},
	}
	for _, f := range fields {
		if *f.dst, err = stringClaim(claims, f.name); err != nil {
			return Posture{}, reason.Wrap(reason.PostureMalformed, f.name, err)
		}
	}
	if p.Audience, err = bound(claims, want); err != nil {
		return Posture{}, err
	}
	delete(claims, ClaimCredential)
	p.Class = classPart(att.Name) + "/" + classPart(p.RunnerType) + "/" + classPart(p.OS)
	return p, nil
}

// bound checks that the claims bind the attestation to want: "aud" names
// one of want.Audiences and "cred" is want.CredentialDigest. It returns the
// audience that matched. Neither digest is ever put in a message.
func bound(claims map[string]any, want Binding) (string, error) {
	auds, err := audiences(claims)
	if err != nil {
		return "", reason.Wrap(reason.PostureMalformed, ClaimAudience, err)
	}
	cred, err := stringClaim(claims, ClaimCredential)
	if err != nil {
		return "", reason.Wrap(reason.PostureMalformed, ClaimCredential, err)
	}
	if cred != "" && !isDigest(cred) {
		return "", reason.New(reason.PostureMalformed, "cred is not base64url(SHA-256(credential)), 43 characters")
	}
	switch {
	case len(auds) == 0 && cred == "":
		return "", reason.New(reason.PostureUnbound, "the attestation has no aud and no cred claim: its attestor does not bind attestations to a request")
	case len(auds) == 0:
		return "", reason.New(reason.PostureUnbound, "the attestation has no aud claim")
	case cred == "":
		return "", reason.New(reason.PostureUnbound, "the attestation has no cred claim")
	case len(want.Audiences) == 0:
		return "", reason.New(reason.PostureAudienceMismatch, "no audience is configured (external_origins or issuers[].audiences), so no attestation is for this Provost")
	}
	matched := ""
	for _, a := range auds {
		if slices.Contains(want.Audiences, a) {
			matched = a
			break
		}
	}
	if matched == "" {
		return "", reason.New(reason.PostureAudienceMismatch, "the attestation's audience "+quote(strings.Join(auds, ", "))+" is none of this Provost's audiences")
	}
	if want.CredentialDigest == "" {
		return "", reason.New(reason.PostureCredentialMismatch, "the request presents no credential for the attestation to be bound to")
	}
	if subtle.ConstantTimeCompare([]byte(cred), []byte(want.CredentialDigest)) != 1 {
		return "", reason.New(reason.PostureCredentialMismatch, "the attestation was made for another credential")
	}
	return matched, nil
}

// isDigest reports whether s is an unpadded base64url SHA-256 digest.
func isDigest(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}

// audiences reads "aud": a string or an array of strings (RFC 7519 section
// 4.1.3). Empty strings are ignored; nil when absent or empty.
func audiences(claims map[string]any) ([]string, error) {
	var out []string
	switch v := claims[ClaimAudience].(type) {
	case nil:
		if _, ok := claims[ClaimAudience]; ok {
			return nil, fmt.Errorf("claim %s is null", ClaimAudience)
		}
	case string:
		if v != "" {
			out = append(out, v)
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s has a member that is not a string", ClaimAudience)
			}
			if s != "" {
				out = append(out, s)
			}
		}
	default:
		return nil, fmt.Errorf("claim %s is neither a string nor an array of strings", ClaimAudience)
	}
	return out, nil
}

// typeMatches compares typ case-insensitively, allowing the optional
// "application/" prefix (RFC 7515 section 4.1.9).
func typeMatches(typ string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, Type)
}

// stringClaim returns claim name as a string; "" when absent.
func stringClaim(claims map[string]any, name string) (string, error) {
	raw, ok := claims[name]
	if !ok {
		return "", nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("claim %s is not a string", name)
	}
	return s, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

// numericDate returns claim name as a time (RFC 7519 NumericDate).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	raw, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	switch n := raw.(type) {
	case float64:
		f = n
	case interface{ Float64() (float64, error) }:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false, fmt.Errorf("claim %s is not a number", name)
		}
	default:
		return time.Time{}, false, fmt.Errorf("claim %s is not a number", name)
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, fmt.Errorf("claim %s is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func classPart(s string) string {
	if s == "" {
		return "-"
	}
	return url.PathEscape(s)
}

func (a *Attestor) algorithms() []string {
	if len(a.Algorithms) == 0 {
		return DefaultAlgorithms
	}
	return a.Algorithms
}

func (a *Attestor) maxAge() time.Duration {
	if a.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return a.MaxAge
}

func (v *Verifier) maxBytes() int {
	if v.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return v.MaxBytes
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// quote renders untrusted text for an error message, shortened.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", s)
}
