package hop

import (
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

// Defaults for a zero Verifier field.
const (
	DefaultMaxAge         = 30 * time.Second
	DefaultMaxHops        = 8
	DefaultMaxHeaderBytes = 16 << 10
)

// Verifier checks a request's hop attestations against the configured keys.
type Verifier struct {
	Keys           Keys
	MaxAge         time.Duration    // how old an attestation may be; default 30s
	Leeway         time.Duration    // clock skew allowed either way
	Now            func() time.Time // defaults to time.Now
	MaxHops        int              // default 8
	MaxHeaderBytes int              // all header values together; default 16 KiB
}

// Verified is the proven proxy chain, first hop (nearest the client) first.
type Verified struct {
	Hops     []string    // hop names in order
	IssuedAt []time.Time // each hop's iat, same order
}

// Verify checks every attestation in headerValues (the Provost-Hop header
// lines, in order) against r. No header, or one blank line, yields an empty
// chain and no error: whether a chain is required is the caller's decision.
// Errors are *reason.Error with a hop_* code.
func (v *Verifier) Verify(headerValues []string, r Request) (Verified, error) {
	atts, err := v.split(headerValues)
	if err != nil || len(atts) == 0 {
		return Verified{}, err
	}
	req, err := requestDigest(r)
	if err != nil {
		return Verified{}, reason.Wrap(reason.HopRequestMismatch, "request cannot have been attested", err)
	}
	now := v.now()
	out := Verified{Hops: make([]string, 0, len(atts)), IssuedAt: make([]time.Time, 0, len(atts))}
	var prevSig []byte
	for i, a := range atts {
		p, sig, err := v.verifyOne(a, i, req, prevSig, now)
		if err != nil {
			return Verified{}, err
		}
		out.Hops = append(out.Hops, p.Hop)
		out.IssuedAt = append(out.IssuedAt, time.Unix(p.IAT, 0).UTC())
		prevSig = sig
	}
	return out, nil
}

// MatchChain reports whether got is exactly the required chain: same names,
// same order, same length. It detects hops removed from the end, which leave
// a chain that verifies.
func MatchChain(required, got []string) bool { return slices.Equal(required, got) }

func (v *Verifier) split(values []string) ([]string, error) {
	maxBytes := orDefault(v.MaxHeaderBytes, DefaultMaxHeaderBytes)
	maxHops := orDefault(v.MaxHops, DefaultMaxHops)
	n := len(values) // the commas joining the lines
	for _, s := range values {
		n += len(s)
		if n > maxBytes {
			return nil, reason.New(reason.HopMalformed, fmt.Sprintf("header is larger than %d bytes", maxBytes))
		}
	}
	count := len(values)
	for _, s := range values {
		count += strings.Count(s, ",")
	}
	if count > maxHops {
		return nil, reason.New(reason.HopTooMany, fmt.Sprintf("more than %d hops", maxHops))
	}
	atts, err := splitValues(values)
	if err != nil {
		return nil, reason.Wrap(reason.HopMalformed, "header list", err)
	}
	return atts, nil
}

// verifyOne checks attestation i: shape, key, signature, payload, age, request
// binding and link to the previous signature, in that order.
func (v *Verifier) verifyOne(att string, i int, req string, prevSig []byte, now time.Time) (payload, []byte, error) {
	fail := func(code reason.Code, msg string, err error) (payload, []byte, error) {
		return payload{}, nil, reason.Wrap(code, fmt.Sprintf("hop %d: %s", i+1, msg), err)
	}
	tok, err := jws.Parse(att, orDefault(v.MaxHeaderBytes, DefaultMaxHeaderBytes))
	if err != nil {
		return fail(reason.HopMalformed, "not a compact JWS", err)
	}
	h := tok.Header
	switch {
	case !strings.EqualFold(h.Typ, Type):
		return fail(reason.HopMalformed, "typ is not "+Type, nil)
	case h.Alg != AlgES256 && !jws.SameAlg(h.Alg, AlgEdDSA): // EdDSA or RFC 9864's Ed25519
		return fail(reason.HopMalformed, "alg is not ES256, EdDSA or Ed25519", nil)
	case h.KeyMaterial() != "":
		return fail(reason.HopMalformed, "header carries key material", nil)
	}
	key, ok := v.Keys[h.Kid]
	if !ok || h.Kid == "" || (key.Name != "" && key.Name != h.Kid) {
		return fail(reason.HopUnknownKey, "no key for kid "+quote(h.Kid), nil)
	}
	alg := algFor(key.Public)
	if alg == "" {
		return fail(reason.HopUnknownKey, "key for kid "+quote(h.Kid)+" is not P-256 or Ed25519", nil)
	}
	if err := jws.Verify(tok, []string{alg}, key.Public); err != nil {
		return fail(reason.HopBadSignature, "signature", err)
	}
	var p payload
	if err := jws.DecodeObject(tok.Payload, &p); err != nil {
		return fail(reason.HopMalformed, "payload", err)
	}
	if err := p.check(); err != nil {
		return fail(reason.HopMalformed, err.Error(), nil)
	}
	if p.Hop != h.Kid {
		return fail(reason.HopUnknownKey, "payload hop "+quote(p.Hop)+" differs from kid "+quote(h.Kid), nil)
	}
	if msg := v.age(p.IAT, now); msg != "" {
		return fail(reason.HopStale, msg, nil)
	}
	if subtle.ConstantTimeCompare([]byte(p.Req), []byte(req)) != 1 {
		return fail(reason.HopRequestMismatch, "attested another request", nil)
	}
	if i == 0 && p.Prev != nil {
		return fail(reason.HopChainBroken, "first hop links to a previous hop", nil)
	}
	if i > 0 && (p.Prev == nil || *p.Prev != prevDigest(prevSig)) {
		return fail(reason.HopChainBroken, "does not link to hop "+fmt.Sprint(i), nil)
	}
	return p, tok.Signature, nil
}

// check validates the payload's shape; which hop links where is checked later.
func (p payload) check() error {
	switch {
	case p.V != Version:
		return fmt.Errorf("payload version is not %d", Version)
	case p.Hop == "":
		return fmt.Errorf("payload hop is empty")
	case p.IAT <= 0:
		return fmt.Errorf("payload iat is missing")
	case len(p.Req) != 43:
		return fmt.Errorf("payload req is not a SHA-256 digest")
	case p.Prev != nil && len(*p.Prev) != 43:
		return fmt.Errorf("payload prev is not a SHA-256 digest")
	}
	return nil
}

// age returns why iat is outside [now-MaxAge-Leeway, now+Leeway], or "".
func (v *Verifier) age(iat int64, now time.Time) string {
	t := time.Unix(iat, 0)
	maxAge := v.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case t.After(now.Add(v.Leeway)):
		return "issued in the future"
	case t.Before(now.Add(-maxAge - v.Leeway)):
		return "older than " + maxAge.String()
	}
	return ""
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// quote renders untrusted text for an error message, shortened.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", s)
}
