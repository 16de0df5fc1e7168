package posture

import (
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Type is the JWS "typ" a posture attestation must carry.
const Type = "posture+jwt"

// The claims that bind an attestation to its request (docs/posture-attestation.md).
const (
	// ClaimAudience ("aud", RFC 7519) names the Provost deployment the
	// attestation is for: one of its external origins or issuer audiences.
	ClaimAudience = "aud"
	// ClaimCredential ("cred") is base64url(SHA-256(raw credential)) of the
	// credential the attestation is presented with: hop.CredentialDigest, the
	// same value as a hop attestation's cred and DPoP's "ath".
	ClaimCredential = "cred"
)

// Binding is what an attestation must be bound to.
type Binding struct {
	// Audiences are the values "aud" may name; compared exactly. Provost
	// passes its external_origins and every issuer's audiences.
	Audiences []string
	// CredentialDigest is hop.CredentialDigest of the raw credential the
	// request presents ("" when it presents none): "cred" must equal it.
	CredentialDigest string
}

// Defaults for zero fields.
const (
	DefaultMaxAge   = 5 * time.Minute
	DefaultMaxBytes = 16 << 10
)

// DefaultAlgorithms is used when an Attestor lists none. "EdDSA" and
// "Ed25519" (RFC 9864) are one algorithm, an Ed25519 signature: an
// Algorithms list naming either admits attestations under both names.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "Ed25519"}

// Attestor is a trusted source of posture attestations.
type Attestor struct {
	Name       string              // short name used in Posture.Class
	Issuer     string              // the "iss" its tokens carry
	Keys       *jose.JSONWebKeySet // public keys, selected by "kid"
	Algorithms []string            // allowed "alg" values; default DefaultAlgorithms; EdDSA and Ed25519 admit each other
	MaxAge     time.Duration       // how old "iat" may be; default 5m
}

// Verifier checks posture attestations against the configured attestors.
type Verifier struct {
	Attestors []Attestor
	Leeway    time.Duration    // clock skew allowed for iat, nbf and exp
	Now       func() time.Time // defaults to time.Now
	MaxBytes  int              // token size limit; default 16 KiB
}

// Posture is a verified attestation.
type Posture struct {
	Attestor string // Attestor.Name
	Subject  string // "sub", may be empty
	Audience string // the "aud" value that named this Provost
	IssuedAt time.Time

	HostID      string // "host_id"
	ImageDigest string // "image_digest"
	RunnerType  string // "runner_type"
	OS          string // "os"

	// Claims holds every claim of the token but "cred": Provost names
	// credentials only by keyed fingerprints, so the unkeyed credential
	// digest is not passed on. Posture tokens carry no secrets.
	Claims map[string]any

	// Class is "<attestor>/<runner_type>/<os>", each part path-escaped and an
	// empty part written "-": the posture class kept in origin history.
	Class string
}
