// Package pemfile reads the PEM files a configuration names, bounded in
// size: CA bundles for verifying TLS peers.
package pemfile

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// MaxBytes bounds a PEM file.
const MaxBytes = 1 << 20

// Read reads a whole key or certificate file, refusing one larger than
// MaxBytes. The error names the file.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxBytes)
	}
	return data, nil
}

// CertPool reads a PEM file of CA certificates into a pool. The error
// names the file and what is wrong with it.
func CertPool(path string) (*x509.CertPool, error) {
	data, err := Read(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
