package workload

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/reason"
)

const (
	// MaxJWTSVIDSize bounds the length of a presented JWT-SVID.
	MaxJWTSVIDSize = 8 << 10
	// JWTClockSkew is the leeway allowed on exp, nbf and iat.
	JWTClockSkew = 30 * time.Second
)

// jwtSVIDAlgs are the signature algorithms the JWT-SVID standard allows.
var jwtSVIDAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
}

// VerifyJWT verifies a JWT-SVID presented in a header for the given audience
// at time now. The signing key is looked up by "kid" only in the JWT bundle of
// the trust domain named by the token's own "sub".
func (b *Bundles) VerifyJWT(token string, audience string, now time.Time) (Identity, error) {
	if audience == "" {
		return Identity{}, reason.New(reason.InternalError, "no audience configured for JWT-SVIDs")
	}
	var sum digest
	if b.svids != nil && token != "" && len(token) <= MaxJWTSVIDSize {
		sum = sha256.Sum256([]byte(token))
		if e, ok := b.svids.Get(sum, now, b.svidHolds); ok {
			// The signature held with this key: only the claims are judged
			// again, against this audience and this moment.
			if err := checkJWTClaims(e.claims, e.id, audience, now); err != nil {
				return Identity{}, err
			}
			return jwtIdentity(e.id, e.claims), nil
		}
	}
	tok, id, err := parseJWTSVID(token)
	if err != nil {
		return Identity{}, err
	}
	bundle, err := b.jwtBundle(id.TrustDomain())
	if err != nil {
		return Identity{}, err
	}
	kid := tok.Headers[0].KeyID
	key, ok := bundle.FindJWTAuthority(kid)
	if !ok {
		return Identity{}, reason.New(reason.WorkloadJWTKeyUnknown,
			"JWT-SVID key id is not in the bundle of trust domain "+strconv.Quote(id.TrustDomain().Name()))
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		return Identity{}, reason.Wrap(reason.WorkloadJWTBadSignature, "JWT-SVID signature does not verify", err)
	}
	if err := checkJWTClaims(claims, id, audience, now); err != nil {
		return Identity{}, err
	}
	if b.svids != nil {
		e := &svidEntry{id: id, claims: claims, bundle: bundle, kid: kid, key: key}
		b.svids.Put(sum, e, claims.Expiry.Time().Add(JWTClockSkew), now)
	}
	return jwtIdentity(id, claims), nil
}

func jwtIdentity(id spiffeid.ID, claims jwt.Claims) Identity {
	return Identity{
		ID:          id.String(),
		TrustDomain: id.TrustDomain().Name(),
		Source:      SourceJWTSVID,
		NotAfter:    claims.Expiry.Time(),
	}
}

// parseJWTSVID parses the compact JWS and reads, unverified, the SPIFFE ID in
// "sub" that selects the trust bundle.
func parseJWTSVID(token string) (*jwt.JSONWebToken, spiffeid.ID, error) {
	switch {
	case token == "":
		return nil, spiffeid.ID{}, reason.New(reason.WorkloadJWTInvalid, "empty JWT-SVID")
	case len(token) > MaxJWTSVIDSize:
		return nil, spiffeid.ID{}, reason.New(reason.WorkloadJWTInvalid, "JWT-SVID larger than the limit")
	}
	// go-jose's messages may quote header and claim values: jsonerr drops them.
	tok, err := jwt.ParseSigned(token, jwtSVIDAlgs)
	if err != nil {
		return nil, spiffeid.ID{}, reason.Wrap(reason.WorkloadJWTInvalid, "JWT-SVID is not a compact JWS with an allowed algorithm", jsonerr.Describe(err, nil))
	}
	if len(tok.Headers) != 1 {
		return nil, spiffeid.ID{}, reason.New(reason.WorkloadJWTInvalid, "JWT-SVID must have exactly one signature")
	}
	h := tok.Headers[0]
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok && typ != "JWT" && typ != "JOSE" {
		return nil, spiffeid.ID{}, reason.New(reason.WorkloadJWTInvalid, "JWT-SVID typ is neither JWT nor JOSE")
	}
	if h.KeyID == "" {
		return nil, spiffeid.ID{}, reason.New(reason.WorkloadJWTInvalid, "JWT-SVID header has no kid")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, spiffeid.ID{}, reason.Wrap(reason.WorkloadJWTInvalid, "JWT-SVID claims are malformed", jsonerr.Describe(err, nil))
	}
	id, err := spiffeid.FromString(unverified.Subject)
	if err != nil {
		return nil, spiffeid.ID{}, reason.Wrap(reason.WorkloadNotSPIFFEID, "JWT-SVID sub is not a SPIFFE ID", err)
	}
	return tok, id, nil
}

// checkJWTClaims checks the verified claims: same subject, exp and aud
// present, audience, and time.
func checkJWTClaims(c jwt.Claims, id spiffeid.ID, audience string, now time.Time) error {
	switch {
	case c.Subject != id.String():
		return reason.New(reason.WorkloadJWTInvalid, "JWT-SVID sub changed between reads")
	case c.Expiry == nil:
		return reason.New(reason.WorkloadJWTInvalid, "JWT-SVID has no exp")
	case len(c.Audience) == 0:
		return reason.New(reason.WorkloadJWTInvalid, "JWT-SVID has no aud")
	}
	err := c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{audience}, Time: now}, JWTClockSkew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidAudience):
		return reason.New(reason.WorkloadJWTAudience, "JWT-SVID is not for this audience")
	case errors.Is(err, jwt.ErrExpired):
		return reason.New(reason.WorkloadExpired, "JWT-SVID has expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return reason.New(reason.WorkloadNotYetValid, "JWT-SVID is not yet valid")
	default:
		return reason.Wrap(reason.WorkloadJWTInvalid, "JWT-SVID claims do not validate", err)
	}
}
