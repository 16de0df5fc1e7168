package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/provost-dev/provost/internal/smallfile"
)

// loadHopKey reads a PEM PRIVATE KEY (PKCS #8) file holding an Ed25519 or
// P-256 key. Errors never quote the file's content.
func loadHopKey(path string) (crypto.Signer, error) {
	data, err := smallfile.Read(path, smallfile.DefaultLimit)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PEM PRIVATE KEY (PKCS #8) block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS #8 private key", path)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s: the key must be Ed25519 or ECDSA P-256", path)
}
