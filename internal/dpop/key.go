package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

// parseJWK parses the jwk header of a proof: present, strict JSON, no
// private member, no certificate, a supported public key type.
func parseJWK(raw json.RawMessage) (*jose.JSONWebKey, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, reason.New(reason.DPoPKeyMissing, "proof has no jwk header")
	}
	var members map[string]json.RawMessage
	if err := jws.DecodeObject(raw, &members); err != nil {
		return nil, reason.Wrap(reason.DPoPMalformed, "proof jwk is not a strict JSON object", err)
	}
	private, cert := false, false
	for m := range members {
		switch m {
		// Private or symmetric key material (RFC 7518 section 6; "priv" of AKP keys).
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv":
			private = true
		// Certificates: a proof key is the bare jwk.
		case "x5c", "x5u":
			cert = true
		}
	}
	if private {
		return nil, reason.New(reason.DPoPPrivateKey, "proof jwk contains private key material")
	}
	if cert {
		return nil, reason.New(reason.DPoPMalformed, "proof jwk carries a certificate reference")
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		// go-jose's message may quote a member of the untrusted jwk.
		return nil, reason.Wrap(reason.DPoPMalformed, "proof jwk is not a usable key", jsonerr.Describe(err, raw))
	}
	if !k.IsPublic() {
		return nil, reason.New(reason.DPoPPrivateKey, "proof jwk is not a public key")
	}
	switch k.Key.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, reason.New(reason.DPoPMalformed, "proof jwk has an unsupported key type")
	}
	if !k.Valid() {
		return nil, reason.New(reason.DPoPMalformed, "proof jwk is not a valid key")
	}
	return &k, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of k: base64url (no
// padding) of the SHA-256 of its canonical required members.
func Thumbprint(k *jose.JSONWebKey) (string, error) {
	if k == nil || k.Key == nil {
		return "", errors.New("dpop: thumbprint of an empty key")
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
