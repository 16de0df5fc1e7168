package workload

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/reason"
)

// BundleSource is a live source of trust bundles, asked on every
// verification: an *APISource (the Workload API) or go-spiffe's
// *workloadapi.BundleSource. A source that answers with the same bundle
// object until the bundle changes keeps the verification caches useful;
// one that makes a new object on every call is still correct, only slower.
type BundleSource interface {
	x509bundle.Source
	jwtbundle.Source
}

// liveBundles are the trust domains whose bundles come from a source.
type liveBundles struct {
	src     BundleSource
	domains map[spiffeid.TrustDomain]bool
}

// WithSource returns Bundles that take the X.509 and JWT bundles of the
// trust domains in domains from src, asked on every verification, and those
// of every other trust domain from b. A trust domain that b already has a
// bundle for, or that is not a trust domain name, is an error: each trust
// domain has one source. The result shares b's caches.
func (b *Bundles) WithSource(src BundleSource, domains []string) (*Bundles, error) {
	if src == nil {
		return nil, errors.New("workload: no bundle source given")
	}
	live := &liveBundles{src: src, domains: make(map[spiffeid.TrustDomain]bool, len(domains))}
	for _, d := range domains {
		td, err := spiffeid.TrustDomainFromString(d)
		if err != nil {
			return nil, fmt.Errorf("workload: trust domain %q: %w", d, err)
		}
		if b.x509.Has(td) || b.jwt.Has(td) {
			return nil, fmt.Errorf("workload: trust domain %q has bundle files and a bundle source; it may have one", td.Name())
		}
		live.domains[td] = true
	}
	return &Bundles{x509: b.x509, jwt: b.jwt, live: live, caches: b.caches}, nil
}

// x509Bundle is the X.509 bundle of td, or the reason there is none.
func (b *Bundles) x509Bundle(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if b.live != nil && b.live.domains[td] {
		bundle, err := b.live.src.GetX509BundleForTrustDomain(td)
		if err != nil {
			return nil, reason.Wrap(reason.WorkloadTrustDomain,
				"no usable X.509 trust bundle from the Workload API for trust domain "+strconv.Quote(td.Name()), err)
		}
		return bundle, nil
	}
	bundle, ok := b.x509.Get(td)
	if !ok {
		return nil, reason.New(reason.WorkloadTrustDomain,
			"no X.509 trust bundle for trust domain "+strconv.Quote(td.Name()))
	}
	return bundle, nil
}

// jwtBundle is the JWT bundle of td, or the reason there is none.
func (b *Bundles) jwtBundle(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	if b.live != nil && b.live.domains[td] {
		bundle, err := b.live.src.GetJWTBundleForTrustDomain(td)
		if err != nil {
			return nil, reason.Wrap(reason.WorkloadTrustDomain,
				"no usable JWT trust bundle from the Workload API for trust domain "+strconv.Quote(td.Name()), err)
		}
		return bundle, nil
	}
	bundle, ok := b.jwt.Get(td)
	if !ok {
		return nil, reason.New(reason.WorkloadTrustDomain,
			"no JWT trust bundle for trust domain "+strconv.Quote(td.Name()))
	}
	return bundle, nil
}
