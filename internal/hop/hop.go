package hop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Header is the HTTP header that carries the hop attestations.
const Header = "Provost-Hop"

// Type is the JWS "typ" of a hop attestation.
const Type = "provost-hop+jwt"

// Version is the payload format version ("v").
const Version = 1

// Signature algorithms a hop may use.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Key is a hop's public key, from configuration.
type Key struct {
	Name   string // the hop name; equal to the attestation's kid and payload hop
	Public crypto.PublicKey
}

// Keys maps a hop name to its key.
type Keys map[string]Key

// Request is what an attestation is bound to.
type Request struct {
	Method string // HTTP method, exactly as sent ("GET")
	Target string // request target in origin form, exactly as sent to Provost ("/v1/orders?id=7")
	// CredentialDigest is CredentialDigest(raw credential), or "" when the
	// request carries no credential.
	CredentialDigest string
}

// payload is the JWS payload of one attestation. Field order is the wire order.
type payload struct {
	V    int     `json:"v"`
	Hop  string  `json:"hop"`
	IAT  int64   `json:"iat"`
	Req  string  `json:"req"`
	Prev *string `json:"prev,omitempty"`
}

var b64 = base64.RawURLEncoding

// CredentialDigest returns base64url(SHA-256(raw)) without padding, the same
// value as DPoP's "ath"; "" when raw is "".
func CredentialDigest(raw string) string {
	if raw == "" {
		return ""
	}
	return digest([]byte(raw))
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:])
}

var errRequestNewline = errors.New("method, target and credential digest must not contain a newline")

// requestDigest returns base64url(SHA-256(method "\n" target "\n" cred)).
func requestDigest(r Request) (string, error) {
	if strings.ContainsAny(r.Method, "\r\n") || strings.ContainsAny(r.Target, "\r\n") ||
		strings.ContainsAny(r.CredentialDigest, "\r\n") {
		return "", errRequestNewline
	}
	return digest([]byte(r.Method + "\n" + r.Target + "\n" + r.CredentialDigest)), nil
}

// prevDigest links an attestation to the previous one.
func prevDigest(sig []byte) string { return digest(sig) }

// algFor returns the only algorithm a key may sign with, or "".
func algFor(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return AlgEdDSA
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return AlgES256
		}
	}
	return ""
}

// splitValues joins header lines in order and splits them into attestations.
// Optional whitespace around each element is removed and empty elements are
// rejected; no values, or one blank value, mean no hops.
func splitValues(values []string) ([]string, error) {
	joined := strings.Join(values, ",")
	if strings.Trim(joined, " \t") == "" {
		return nil, nil
	}
	parts := strings.Split(joined, ",")
	for i, p := range parts {
		p = strings.Trim(p, " \t")
		if p == "" {
			return nil, errEmptyElement
		}
		parts[i] = p
	}
	return parts, nil
}

var errEmptyElement = errors.New("empty attestation in header list")
