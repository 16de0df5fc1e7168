package workload

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// x509Watcher and jwtWatcher receive the two watches' updates and errors.
type x509Watcher struct{ s *APISource }

type jwtWatcher struct{ s *APISource }

func (w x509Watcher) OnX509BundlesUpdate(set *x509bundle.Set) {
	w.s.update("x509", &w.s.x5, func() changes { return w.s.applyX509(set) })
}

func (w x509Watcher) OnX509BundlesWatchError(err error) { w.s.failed("x509", &w.s.x5, err) }

func (w jwtWatcher) OnJWTBundlesUpdate(set *jwtbundle.Set) {
	w.s.update("jwt", &w.s.jw, func() changes { return w.s.applyJWT(set) })
}

func (w jwtWatcher) OnJWTBundlesWatchError(err error) { w.s.failed("jwt", &w.s.jw, err) }

// changes are what one update did, for the log.
type changes struct {
	changed []string // trust domains with a new or changed bundle
	removed []string // trust domains the Workload API no longer serves
	refused []string // trust domains whose bundle broke a rule: dropped
}

func (c changes) log(log *slog.Logger, kind string) {
	if len(c.changed)+len(c.removed) > 0 {
		log.Info("workload API: trust bundles updated", slog.String("bundles", kind),
			slog.Any("changed", c.changed), slog.Any("removed", c.removed))
	}
	if len(c.refused) > 0 {
		log.Error("workload API: trust bundles refused; SVIDs of these trust domains are refused until a valid bundle arrives",
			slog.String("bundles", kind), slog.Any("refused", c.refused))
	}
}

// applyX509 replaces the X.509 bundles with set's, keeping the object of
// every bundle that did not change (so cached verifications stay usable).
// Called with s.mu held.
func (s *APISource) applyX509(set *x509bundle.Set) changes {
	var c changes
	next := make(map[spiffeid.TrustDomain]*x509bundle.Bundle, set.Len())
	for _, b := range set.Bundles() {
		td := b.TrustDomain()
		if err := checkAuthorities(b.X509Authorities()); err != nil {
			c.refused = append(c.refused, td.Name()+": "+err.Error())
			continue
		}
		if old, ok := s.x509[td]; ok && old.Equal(b) {
			next[td] = old
			continue
		}
		next[td] = b
		c.changed = append(c.changed, td.Name())
	}
	c.removed = removed(s.x509, next)
	s.x509 = next
	return c
}

// applyJWT is applyX509 for the JWT bundles. Called with s.mu held.
func (s *APISource) applyJWT(set *jwtbundle.Set) changes {
	var c changes
	next := make(map[spiffeid.TrustDomain]*jwtbundle.Bundle, set.Len())
	for _, b := range set.Bundles() {
		td := b.TrustDomain()
		if err := checkJWTAuthorities(b); err != nil {
			c.refused = append(c.refused, td.Name()+": "+err.Error())
			continue
		}
		if old, ok := s.jwt[td]; ok && old.Equal(b) {
			next[td] = old
			continue
		}
		next[td] = b
		c.changed = append(c.changed, td.Name())
	}
	c.removed = removed(s.jwt, next)
	s.jwt = next
	return c
}

// removed names, in order, the trust domains of old that next has not.
func removed[T any](old, next map[spiffeid.TrustDomain]T) []string {
	var out []string
	for td := range old {
		if _, ok := next[td]; !ok {
			out = append(out, td.Name())
		}
	}
	slices.Sort(out)
	return out
}

// checkAuthorities applies the rules of a bundle file (parseCACerts) to
// authorities the Workload API served.
func checkAuthorities(certs []*x509.Certificate) error {
	switch {
	case len(certs) == 0:
		return errors.New("no CA certificate")
	case len(certs) > maxBundleKeys:
		return fmt.Errorf("%d CA certificates, more than %d", len(certs), maxBundleKeys)
	}
	for i, cert := range certs {
		if !cert.IsCA {
			return fmt.Errorf("certificate %d (%q) is not a CA", i+1, cert.Subject)
		}
	}
	return nil
}

// checkJWTAuthorities applies the rules of a JWT bundle file
// (parseJWTBundle) to a bundle the Workload API served.
func checkJWTAuthorities(b *jwtbundle.Bundle) error {
	keys := b.JWTAuthorities()
	if len(keys) > maxBundleKeys {
		return fmt.Errorf("%d keys, more than %d", len(keys), maxBundleKeys)
	}
	for kid, key := range keys {
		if err := checkJWTSVIDKey(jose.JSONWebKey{Key: key, KeyID: kid}); err != nil {
			return fmt.Errorf("key %q: %w", kid, err)
		}
	}
	return nil
}

// apiBackoff retries a lost watch after 200ms, doubling to at most 5s, so
// an agent restart is noticed quickly without a busy loop.
type apiBackoff struct{}

func (apiBackoff) NewBackoff() workloadapi.Backoff { return &doubling{} }

type doubling struct{ next time.Duration }

func (d *doubling) Next() time.Duration {
	if d.next == 0 {
		d.next = 200 * time.Millisecond
	}
	cur := d.next
	d.next = min(2*d.next, 5*time.Second)
	return cur
}

func (d *doubling) Reset() { d.next = 0 }
