package provosttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"maps"
)

// Keys are a world's private keys and the names they sign under, for a
// program that keeps the world beyond its run (`provost demo --keep`).
type Keys struct {
	Issuer      *ecdsa.PrivateKey // signs access tokens, kid IssuerKeyID
	Attestor    *ecdsa.PrivateKey // signs posture attestations, kid AttestorKeyID
	CAKey       *ecdsa.PrivateKey // the SPIFFE CA's key
	CA          *x509.Certificate
	Hops        map[string]crypto.Signer // approved proxies' hop keys by name
	IssuerName  string                   // iss of its tokens
	Audience    string                   // aud of its tokens
	TrustDomain string
	AttestorIss string
}

// Key ids of a world's JWKS files.
const (
	IssuerKeyID   = "sts-1"
	AttestorKeyID = "att-1"
)

// Keys returns the world's private keys. They are the world's own: a
// caller that writes them anywhere must say they are for tests and demos
// only.
func (w *World) Keys() Keys {
	return Keys{Issuer: w.issuer, Attestor: w.attestor, CAKey: w.caKey, CA: w.ca, Hops: maps.Clone(w.hops),
		IssuerName: w.opts.Issuer, Audience: w.opts.Audience, TrustDomain: w.opts.TrustDomain, AttestorIss: w.opts.AttestorIss}
}
