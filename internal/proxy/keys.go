package proxy

import (
	"crypto"
	"fmt"

	"github.com/provost-dev/provost/internal/pemkey"
	"github.com/provost-dev/provost/internal/smallfile"
)

// loadHopKey reads a PEM PRIVATE KEY (PKCS #8) file holding an Ed25519 or
// P-256 key. Errors never quote the file's content.
func loadHopKey(path string) (crypto.Signer, error) {
	data, err := smallfile.Read(path, smallfile.DefaultLimit)
	if err != nil {
		return nil, err
	}
	k, err := pemkey.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
