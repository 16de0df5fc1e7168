// Package tlscert serves a listener's certificate and key from files that
// can be read again while it runs (a certificate rotated by cert-manager
// or SPIRE).
package tlscert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
)

// Pair is a certificate and key file pair and the pair last loaded from
// them. The zero Pair (no files) serves nothing and reloads nothing.
type Pair struct {
	name, cert, key string
	cur             atomic.Pointer[tls.Certificate]
}

// New returns the Pair of files cert and key; name ("serve.tls") prefixes
// its errors. Nothing is read until Reload.
func New(name, cert, key string) *Pair {
	return &Pair{name: name, cert: cert, key: key}
}

// Reload reads the files again and serves the pair to new handshakes; on
// failure the pair loaded before stays and the error says why. Without
// files it does nothing.
func (p *Pair) Reload() error {
	if p == nil || p.cert == "" {
		return nil
	}
	c, err := tls.LoadX509KeyPair(p.cert, p.key)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.cur.Store(&c)
	return nil
}

// GetCertificate is a tls.Config.GetCertificate: the pair last loaded.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := p.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New(p.name + ": no certificate loaded")
}
