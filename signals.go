package provost

import (
	"crypto/x509"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/reason"
)

// clientCert is the certificate chain that names the client, found once
// per request: it binds mTLS-bound tokens (RFC 8705) and carries the
// workload identity.
type clientCert struct {
	chain  []*x509.Certificate // leaf first; nil when none
	source string              // workload.SourceMTLS, SourceXFCC, SourceClientCert
	err    error               // a forwarded certificate header that could not be read
}

// clientCert reads the client's certificate: the TLS connection's, or —
// only when the peer is a trusted proxy — the one it forwards.
func (st *state) clientCert(r *Request) clientCert {
	trusted := r.Peer.IsValid() && st.trusted.Contains(r.Peer.Unmap())
	chain, source, err := clientChain(r, trusted)
	return clientCert{chain: chain, source: source, err: err}
}

// signals verifies and resolves everything observed about r.
func (st *state) signals(r *Request, line target.Canonical, cred credential.Result, client clientCert, now time.Time) signal.Signals {
	s := signal.Signals{Now: now, Method: line.Method, Target: line.Target(), Path: line.Path, RawTarget: line.Raw, Credential: cred}
	st.network(r, &s.Network)
	st.workload(r, client, now, &s.Workload)
	st.proxy(r, &s.Proxy)
	st.postureSignal(r, &s.Posture)
	if cred.Accepted() {
		s.CI.FromClaims(cred.Metadata.Claims)
		if !cred.Metadata.IssuedAt.IsZero() {
			s.Time.TokenAge = now.Sub(cred.Metadata.IssuedAt)
			s.Time.HasTokenAge = true
		}
	}
	return s
}

func (st *state) network(r *Request, n *signal.NetworkSignal) {
	if !r.Peer.IsValid() {
		return // not observed: the network signal is absent
	}
	p, err := network.ResolveUsing(st.fwdHeader, r.Peer, r.XForwardedFor, r.Forwarded, st.trusted)
	n.Peer = p.Peer
	if err != nil {
		n.Problem = signal.ProblemOf(err)
		return
	}
	n.Client, n.FromHeader, n.Origin = p.Client, p.FromHeader, p.Origin
	if n.Client.IsValid() {
		n.Sets = st.bindings.Networks().Match(n.Client)
	}
}

// workload verifies the workload identity: the TLS client certificate; or,
// only when the peer is a trusted proxy, the certificate it forwards (XFCC,
// RFC 9440 Client-Cert); or a JWT-SVID.
func (st *state) workload(r *Request, client clientCert, now time.Time, w *signal.WorkloadSignal) {
	chain, source, err := client.chain, client.source, client.err
	switch {
	case err != nil:
		w.Present = true
		w.Problem = signal.ProblemOf(err)
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
	if st.bundles == nil {
		w.Problem = signal.Problem{Code: reason.WorkloadTrustDomain, Message: "a workload identity was presented but no SPIFFE trust bundle is configured"}
		return
	}
	var id workload.Identity
	if chain != nil {
		id, err = st.bundles.VerifyX509(chain, now, source)
	} else {
		id, err = st.bundles.VerifyJWT(r.JWTSVID, st.svidAud, now)
	}
	if err != nil {
		w.Problem = signal.ProblemOf(err)
		return
	}
	w.ID, w.Source, w.NotAfter = id.ID, id.Source, id.NotAfter
}

// clientChain picks the certificate chain that names the client. A trusted
// proxy's own TLS certificate names the proxy, so behind one the forwarded
// certificate is used; from anyone else forwarded headers are ignored.
func clientChain(r *Request, peerTrusted bool) ([]*x509.Certificate, string, error) {
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

func (st *state) proxy(r *Request, p *signal.ProxySignal) {
	if len(r.Hops) == 0 || strings.TrimSpace(strings.Join(r.Hops, "")) == "" {
		return
	}
	p.Present = true
	v, err := st.hops.Verify(r.Hops, hop.Request{Method: r.Method, Target: r.Target, CredentialDigest: hop.CredentialDigest(RawCredential(r.Authorization))})
	if err != nil {
		p.Problem = signal.ProblemOf(err)
		return
	}
	p.Hops = v.Hops
}

func (st *state) postureSignal(r *Request, p *signal.PostureSignal) {
	if r.Posture == "" {
		return
	}
	p.Present = true
	got, err := st.posture.Verify(r.Posture)
	if err != nil {
		p.Problem = signal.ProblemOf(err)
		return
	}
	p.Attestor, p.HostID, p.ImageDigest, p.RunnerType, p.OS = got.Attestor, got.HostID, got.ImageDigest, got.RunnerType, got.OS
	p.Class, p.IssuedAt, p.Claims = got.Class, got.IssuedAt, got.Claims
}

// RawCredential returns the credential of an Authorization header value
// ("Bearer X" or "DPoP X" gives X). Hop attestations digest exactly this, so
// a proxy that signs hops and the engine that verifies them must agree:
// both call this. Never log what it returns.
func RawCredential(h string) string {
	_, tok, _ := strings.Cut(h, " ")
	return strings.TrimLeft(tok, " ")
}
