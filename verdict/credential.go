package verdict

import (
	"time"

	"github.com/provost-dev/provost/reason"
)

// CredentialVerdict is the credential verdict: was the credential accepted?
type CredentialVerdict string

// The two credential verdicts.
const (
	Accepted CredentialVerdict = "accepted"
	Rejected CredentialVerdict = "rejected"
)

// CredentialKind says what sort of credential was presented.
type CredentialKind string

// Credential kinds.
const (
	KindJWT    CredentialKind = "jwt"
	KindAPIKey CredentialKind = "api_key"
)

// Credential is the answer to "was the credential accepted?". It never
// holds the raw credential.
type Credential struct {
	Verdict     CredentialVerdict `json:"verdict"`
	Reason      reason.Code       `json:"reason"`
	Message     string            `json:"message"`
	Kind        CredentialKind    `json:"kind,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Metadata    Metadata          `json:"metadata"`
	Possession  Possession        `json:"possession"`
	// RevocationID names the revocation that matched, when Reason is revoked.
	RevocationID string `json:"revocation_id,omitempty"`
	// DPoPNonce is a fresh server nonce to send when Reason is use_dpop_nonce.
	DPoPNonce string `json:"dpop_nonce,omitempty"`
}

// Accepted reports whether the credential was accepted.
func (r *Credential) Accepted() bool { return r.Verdict == Accepted }

// Metadata is the issuer metadata signal taken from a verified credential.
// For a rejected credential it holds what could be read safely before the
// rejection (for example the issuer), which is unverified.
type Metadata struct {
	Issuer    string    `json:"iss,omitempty"`
	Subject   string    `json:"sub,omitempty"`
	Audience  []string  `json:"aud,omitempty"`
	KeyID     string    `json:"kid,omitempty"`
	Algorithm string    `json:"alg,omitempty"`
	Type      string    `json:"typ,omitempty"`
	JTI       string    `json:"jti,omitempty"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	ExpiresAt time.Time `json:"exp,omitzero"`
	// AgeSeconds is how old the token was (now - iat) when it was verified.
	AgeSeconds int64         `json:"age_seconds,omitempty"`
	AZP        string        `json:"azp,omitempty"`
	ClientID   string        `json:"client_id,omitempty"`
	Act        []Actor       `json:"act,omitempty"`
	Cnf        *Confirmation `json:"cnf,omitempty"`
	// APIKey is the configured name of an API key or opaque token.
	APIKey string `json:"api_key,omitempty"`
	// Claims holds every claim of a verified JWT (for bindings and CEL
	// rules). Access-token claims are not secrets; the token itself is never kept.
	Claims map[string]any `json:"-"`
}

// Age is how old the token was when verified.
func (m *Metadata) Age() time.Duration { return time.Duration(m.AgeSeconds) * time.Second }

// Actor is one link of an RFC 8693 `act` delegation chain, outermost (the
// current actor) first.
type Actor struct {
	Subject  string `json:"sub,omitempty"`
	Issuer   string `json:"iss,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// Confirmation is the `cnf` claim (RFC 7800): the key the token is bound to.
type Confirmation struct {
	JKT     string `json:"jkt,omitempty"`      // RFC 9449 DPoP key thumbprint
	X5TS256 string `json:"x5t#S256,omitempty"` // RFC 8705 certificate thumbprint
}

// Possession records the proof of possession that was checked.
type Possession struct {
	Method string `json:"method,omitempty"` // "dpop", "mtls" or "" (bearer)
	// JKT is the DPoP proof key's thumbprint; it names the caller's key.
	JKT string `json:"jkt,omitempty"`
	// X5TS256 is the presented client certificate's thumbprint.
	X5TS256 string `json:"x5t_s256,omitempty"`
}
