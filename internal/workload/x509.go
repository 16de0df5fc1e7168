package workload

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/provost-dev/provost/reason"
)

// MaxChainLength bounds the certificates accepted in one presented chain,
// leaf included.
const MaxChainLength = 8

// VerifyX509 verifies a client certificate chain (leaf first) as an X.509-SVID
// against the bundle of the leaf's trust domain at time now. Certificates after
// the leaf are used only as intermediates, never as roots. source is recorded
// in the Identity (SourceMTLS, SourceXFCC or SourceClientCert).
func (b *Bundles) VerifyX509(chain []*x509.Certificate, now time.Time, source string) (Identity, error) {
	id, err := checkLeaf(chain, now)
	if err != nil {
		return Identity{}, err
	}
	bundle, err := b.x509Bundle(id.TrustDomain())
	if err != nil {
		return Identity{}, err
	}
	var key digest
	if b.chains != nil {
		key = chainDigest(chain)
		if e, ok := b.chains.Get(key, now, func(e *chainEntry) bool { return e.holds(bundle, now) }); ok {
			return e.identity(source), nil
		}
	}
	// Verified against exactly these authorities, which the cache entry
	// records: a bundle changed meanwhile is noticed on the next use.
	authorities := bundle.X509Authorities()
	_, chains, err := x509svid.Verify(chain, x509bundle.FromX509Authorities(id.TrustDomain(), authorities), x509svid.WithTime(now))
	if err != nil {
		return Identity{}, chainError(err)
	}
	var notBefore, notAfter time.Time
	if len(chains) > 0 {
		notBefore, notAfter = validity(chains[0])
	}
	if b.chains != nil && !notAfter.IsZero() {
		e := &chainEntry{id: id, bundle: bundle, authorities: authorities, notBefore: notBefore, notAfter: notAfter}
		b.chains.Put(key, e, notAfter, now)
	}
	return Identity{
		ID:          id.String(),
		TrustDomain: id.TrustDomain().Name(),
		Source:      source,
		NotAfter:    notAfter,
	}, nil
}

// checkLeaf applies the X.509-SVID rules that concern the presented chain and
// its leaf alone, each with its own reason code.
func checkLeaf(chain []*x509.Certificate, now time.Time) (spiffeid.ID, error) {
	switch {
	case len(chain) == 0:
		return spiffeid.ID{}, reason.New(reason.WorkloadCertInvalid, "no client certificate")
	case len(chain) > MaxChainLength:
		return spiffeid.ID{}, reason.New(reason.WorkloadChainTooLong, "certificate chain longer than the limit")
	}
	for _, c := range chain {
		if c == nil {
			return spiffeid.ID{}, reason.New(reason.WorkloadCertInvalid, "nil certificate in chain")
		}
	}
	leaf := chain[0]
	switch {
	case len(leaf.URIs) == 0:
		return spiffeid.ID{}, reason.New(reason.WorkloadNoURISAN, "leaf certificate has no URI SAN")
	case len(leaf.URIs) > 1:
		return spiffeid.ID{}, reason.New(reason.WorkloadManyURISANs, "leaf certificate has more than one URI SAN")
	}
	id, err := spiffeid.FromURI(leaf.URIs[0])
	if err != nil {
		return spiffeid.ID{}, reason.Wrap(reason.WorkloadNotSPIFFEID, "leaf URI SAN is not a SPIFFE ID", err)
	}
	switch {
	case leaf.IsCA:
		return spiffeid.ID{}, reason.New(reason.WorkloadCALeaf, "leaf certificate is a CA")
	case leaf.KeyUsage&x509.KeyUsageCertSign != 0:
		return spiffeid.ID{}, reason.New(reason.WorkloadKeyUsage, "leaf certificate has keyCertSign key usage")
	case leaf.KeyUsage&x509.KeyUsageCRLSign != 0:
		return spiffeid.ID{}, reason.New(reason.WorkloadKeyUsage, "leaf certificate has cRLSign key usage")
	case now.Before(leaf.NotBefore):
		return spiffeid.ID{}, reason.New(reason.WorkloadNotYetValid, "leaf certificate is not yet valid")
	case now.After(leaf.NotAfter):
		return spiffeid.ID{}, reason.New(reason.WorkloadExpired, "leaf certificate has expired")
	}
	return id, nil
}

// chainError maps a chain-building failure to a reason code. The leaf's own
// validity was checked before, so an expiry here is an intermediate's.
func chainError(err error) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return reason.Wrap(reason.WorkloadExpired, "a certificate in the chain is outside its validity period", err)
	}
	return reason.Wrap(reason.WorkloadUntrusted, "certificate chain does not lead to the trust domain's bundle", err)
}
