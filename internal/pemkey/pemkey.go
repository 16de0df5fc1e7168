// Package pemkey reads the private keys Provost signs with (hop
// attestations, SSF events, the demo's keys): one PEM PRIVATE KEY
// (PKCS #8) block holding an ECDSA P-256 or an Ed25519 key. Its errors
// never quote the key.
package pemkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// Errors of Parse, for callers that branch or wrap.
var (
	ErrNoBlock  = errors.New("no PEM PRIVATE KEY (PKCS #8) block")
	ErrNotPKCS8 = errors.New("not a PKCS #8 private key")
	ErrKeyType  = errors.New("the key must be ECDSA P-256 or Ed25519")
)

// Parse returns the signer of the first PEM block of data, which must be a
// PRIVATE KEY (PKCS #8) block of an ECDSA P-256 or Ed25519 key.
func Parse(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, ErrNoBlock
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, ErrNotPKCS8
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, ErrKeyType
}
