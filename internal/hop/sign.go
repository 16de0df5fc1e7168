package hop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/jws"
)

// Signer adds this hop's attestation to a request's Provost-Hop header.
type Signer struct {
	Name string // the hop name Provost knows this proxy's key by
	// Key is a P-256 *ecdsa.PrivateKey (ES256) or an ed25519.PrivateKey (EdDSA).
	Key crypto.Signer
	Now func() time.Time // defaults to time.Now
}

// Sign returns the header value with this hop's attestation appended to prior,
// the incoming header value ("" when this is the first hop). Only the last
// attestation of prior is read, to link to its signature; prior is not
// verified, since a proxy does not hold the other hops' keys.
func (s *Signer) Sign(prior string, r Request) (string, error) {
	if s.Name == "" {
		return "", errors.New("hop: signer name is empty")
	}
	alg, err := signingAlg(s.Key)
	if err != nil {
		return "", err
	}
	if r.Method == "" || r.Target == "" {
		return "", errors.New("hop: request method and target are required")
	}
	req, err := requestDigest(r)
	if err != nil {
		return "", fmt.Errorf("hop: %w", err)
	}
	if len(prior) > DefaultMaxHeaderBytes {
		return "", fmt.Errorf("hop: prior header value is larger than %d bytes", DefaultMaxHeaderBytes)
	}
	atts, err := splitValues([]string{prior})
	if err != nil {
		return "", fmt.Errorf("hop: prior header value: %w", err)
	}
	p := payload{V: Version, Hop: s.Name, IAT: s.now().Unix(), Req: req}
	if len(atts) > 0 {
		last, err := jws.Parse(atts[len(atts)-1], DefaultMaxHeaderBytes)
		if err != nil {
			return "", fmt.Errorf("hop: last attestation of prior header value: %w", err)
		}
		prev := prevDigest(last.Signature)
		p.Prev = &prev
	}
	att, err := s.sign(alg, p)
	if err != nil {
		return "", err
	}
	return joinAttestations(atts, att), nil
}

func (s *Signer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Signer) sign(alg string, p payload) (string, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("hop: encode payload: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType(Type).WithHeader("kid", s.Name)
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: s.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("hop: signer: %w", err)
	}
	obj, err := js.Sign(body)
	if err != nil {
		return "", fmt.Errorf("hop: sign: %w", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("hop: serialize: %w", err)
	}
	return compact, nil
}

// signingAlg accepts exactly the key types go-jose signs with directly.
func signingAlg(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) == ed25519.PrivateKeySize {
			return AlgEdDSA, nil
		}
	case *ecdsa.PrivateKey:
		if k != nil && algFor(&k.PublicKey) == AlgES256 {
			return AlgES256, nil
		}
	}
	return "", errors.New("hop: signer key must be a P-256 *ecdsa.PrivateKey or an ed25519.PrivateKey")
}

func joinAttestations(prior []string, att string) string {
	return strings.Join(append(prior, att), ",")
}
