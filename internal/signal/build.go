package signal

import (
	"crypto/x509"
	"net/netip"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/reason"
)

// Observed is one request as a transport observed it: the fields of
// provost.Request. Header values are as received; the Builder decides
// which to believe.
type Observed struct {
	Method, Target        string
	Authorization, DPoP   string
	Peer                  netip.Addr
	XForwardedFor         []string
	Forwarded             []string
	ClientCerts           []*x509.Certificate
	XFCC                  string
	ClientCertHeader      string
	ClientCertChainHeader string
	JWTSVID               string
	Hops                  []string
	Posture               string
}

// Builder turns what a transport observed into Signals: it verifies what
// was presented (client certificates and workload identity, signed hops,
// posture attestations) and resolves what was observed (the network path)
// under one policy's trust anchors. It is immutable and safe for
// concurrent use.
type Builder struct {
	Anchors *Anchors
	// Networks are the bindings' named CIDR sets.
	Networks network.Sets
	Hops     *hop.Verifier
	Posture  *posture.Verifier
}

// clientCert is the certificate chain that names the client, found once
// per request: it binds mTLS-bound tokens (RFC 8705) and carries the
// workload identity.
type ClientCert struct {
	chain  []*x509.Certificate // leaf first; nil when none
	source string              // workload.SourceMTLS, SourceXFCC, SourceClientCert
	err    error               // a forwarded certificate header that could not be read
}

// Leaf is the client's certificate, nil when none: what an mTLS-bound
// token (RFC 8705) is bound to.
func (c ClientCert) Leaf() *x509.Certificate {
	if len(c.chain) == 0 {
		return nil
	}
	return c.chain[0]
}

// ClientCert reads the client's certificate: the TLS connection's, or —
// only when the peer is a trusted proxy — the one it forwards.
func (b *Builder) ClientCert(r *Observed) ClientCert {
	trusted := b.Anchors.TrustsProxy(r.Peer)
	chain, source, err := clientChain(r, trusted)
	return ClientCert{chain: chain, source: source, err: err}
}

// Signals verifies and resolves everything observed about r.
func (b *Builder) Signals(r *Observed, line target.Canonical, cred credential.Result, client ClientCert, now time.Time) Signals {
	s := Signals{Now: now, Method: line.Method, Target: line.Target(), Path: line.Path, RawTarget: line.Raw, Credential: cred}
	b.network(r, &s.Network)
	b.workload(r, client, now, &s.Workload)
	// Hop and posture attestations are both bound to the credential's
	// digest: hash it once, and only when one of them is there.
	var digest string
	if len(r.Hops) > 0 || r.Posture != "" {
		digest = credentialDigest(r)
	}
	b.proxy(r, &s.Proxy, digest)
	b.postureSignal(r, &s.Posture, digest)
	if cred.Accepted() {
		s.CI.FromClaims(cred.Metadata.Claims)
		if !cred.Metadata.IssuedAt.IsZero() {
			s.Time.TokenAge = now.Sub(cred.Metadata.IssuedAt)
			s.Time.HasTokenAge = true
		}
	}
	return s
}

func (b *Builder) network(r *Observed, n *NetworkSignal) {
	if !r.Peer.IsValid() {
		return // not observed: the network signal is absent
	}
	p, err := network.ResolveUsing(b.Anchors.fwdHeader, r.Peer, r.XForwardedFor, r.Forwarded, b.Anchors.proxies)
	n.Peer = p.Peer
	if err != nil {
		n.Problem = ProblemOf(err)
		return
	}
	n.Client, n.FromHeader, n.Origin = p.Client, p.FromHeader, p.Origin
	if n.Client.IsValid() {
		n.Sets = b.Networks.Match(n.Client)
	}
}

// workload verifies the workload identity: the TLS client certificate; or,
// only when the peer is a trusted proxy, the certificate it forwards (XFCC,
// RFC 9440 Client-Cert); or a JWT-SVID.
func (b *Builder) workload(r *Observed, client ClientCert, now time.Time, w *WorkloadSignal) {
	chain, source, err := client.chain, client.source, client.err
	switch {
	case err != nil:
		w.Present = true
		w.Problem = ProblemOf(err)
		return
	case chain != nil && !claimsSPIFFE(chain[0]):
		// A certificate without a spiffe:// URI claims no workload
		// identity (it may still bind a token, RFC 8705).
		chain = nil
	}
	if chain == nil && r.JWTSVID == "" {
		return
	}
	w.Present = true
	if b.Anchors.bundles == nil {
		w.Problem = Problem{Code: reason.WorkloadTrustDomain, Message: "a workload identity was presented but no SPIFFE trust bundle is configured"}
		return
	}
	var id workload.Identity
	if chain != nil {
		id, err = b.Anchors.bundles.VerifyX509(chain, now, source)
	} else {
		id, err = b.Anchors.bundles.VerifyJWT(r.JWTSVID, b.Anchors.svidAud, now)
	}
	if err != nil {
		w.Problem = ProblemOf(err)
		return
	}
	w.ID, w.Source, w.NotAfter = id.ID, id.Source, id.NotAfter
}

// clientChain picks the certificate chain that names the client. A trusted
// proxy's own TLS certificate names the proxy, so behind one the forwarded
// certificate is used; from anyone else forwarded headers are ignored.
func clientChain(r *Observed, peerTrusted bool) ([]*x509.Certificate, string, error) {
	if peerTrusted {
		if r.XFCC != "" {
			elems, err := network.ParseXFCC(r.XFCC)
			if err != nil {
				return nil, "", err
			}
			// The last element is the one the nearest trusted proxy added:
			// the client it saw on its own TLS connection. Earlier elements
			// may have been typed by the client (a proxy that appends rather
			// than sanitizes), so they are never believed.
			last := elems[len(elems)-1]
			cert, err := last.Certificate()
			if err != nil || cert == nil {
				return nil, "", reason.New(reason.XFCCMalformed, "the x-forwarded-client-cert element carries no usable Cert")
			}
			if last.Chain == "" {
				return []*x509.Certificate{cert}, workload.SourceXFCC, nil
			}
			chain, err := last.ChainCertificates()
			if err != nil {
				return nil, "", err
			}
			return chain, workload.SourceXFCC, nil
		}
		if r.ClientCertHeader != "" {
			leaf, err := network.ParseClientCert(r.ClientCertHeader)
			if err != nil {
				return nil, "", err
			}
			chain := []*x509.Certificate{leaf}
			if r.ClientCertChainHeader != "" {
				rest, err := network.ParseClientCertChain(r.ClientCertChainHeader)
				if err != nil {
					return nil, "", err
				}
				chain = append(chain, rest...)
			}
			return chain, workload.SourceClientCert, nil
		}
	}
	if len(r.ClientCerts) > 0 {
		return r.ClientCerts, workload.SourceMTLS, nil
	}
	return nil, "", nil
}

// claimsSPIFFE reports whether a certificate names a SPIFFE ID.
func claimsSPIFFE(c *x509.Certificate) bool {
	for _, u := range c.URIs {
		if strings.EqualFold(u.Scheme, "spiffe") {
			return true
		}
	}
	return false
}

func (b *Builder) proxy(r *Observed, p *ProxySignal, digest string) {
	if len(r.Hops) == 0 || strings.TrimSpace(strings.Join(r.Hops, "")) == "" {
		return
	}
	p.Present = true
	v, err := b.Hops.Verify(r.Hops, hop.Request{Method: r.Method, Target: r.Target, CredentialDigest: digest})
	if err != nil {
		p.Problem = ProblemOf(err)
		return
	}
	p.Hops = v.Hops
}

func (b *Builder) postureSignal(r *Observed, p *PostureSignal, digest string) {
	if r.Posture == "" {
		return
	}
	p.Present = true
	// Bound like a hop attestation: to the credential presented with it,
	// and to this Provost (its external origins and issuer audiences).
	got, err := b.Posture.Verify(r.Posture, posture.Binding{Audiences: b.Anchors.PostureAudiences, CredentialDigest: digest})
	if err != nil {
		p.Problem = ProblemOf(err)
		return
	}
	p.Attestor, p.HostID, p.ImageDigest, p.RunnerType, p.OS = got.Attestor, got.HostID, got.ImageDigest, got.RunnerType, got.OS
	p.Class, p.IssuedAt, p.Claims = got.Class, got.IssuedAt, got.Claims
}

// credentialDigest is the unkeyed digest of the credential r presents, "" when
// none: what hop and posture attestations are bound to (hop.CredentialDigest).
func credentialDigest(r *Observed) string {
	return hop.CredentialDigest(credential.Token(r.Authorization))
}
