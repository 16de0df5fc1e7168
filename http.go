package provost

import (
	"net"
	"net/http"
	"net/netip"
)

// Header names Provost reads besides the standard ones.
const (
	// HeaderHop carries signed hop attestations (docs/hop-attestation.md).
	HeaderHop = "Provost-Hop"
	// HeaderPosture carries a posture attestation (a posture+jwt).
	HeaderPosture = "Provost-Posture"
	// HeaderWorkloadJWT carries a JWT-SVID.
	HeaderWorkloadJWT = "Provost-Workload-JWT"
	// HeaderXFCC is Envoy's forwarded client certificate.
	HeaderXFCC = "X-Forwarded-Client-Cert"
	// HeaderClientCert and HeaderClientCertChain are RFC 9440's.
	HeaderClientCert      = "Client-Cert"
	HeaderClientCertChain = "Client-Cert-Chain"
)

// FromHTTP builds the Request for an HTTP request that reached this process
// directly: the peer is the connection's remote address, the client
// certificates are the TLS connection's, and method and target are the
// request's own. Transports that judge a request on someone else's behalf
// (forward-auth, ext_authz) fill Method, Target and Peer from what their
// proxy reports instead.
func FromHTTP(r *http.Request) *Request {
	req := &Request{
		Method:                r.Method,
		Target:                r.URL.RequestURI(),
		Authorization:         r.Header.Get("Authorization"),
		DPoP:                  r.Header.Get("DPoP"),
		Peer:                  remoteAddr(r.RemoteAddr),
		XForwardedFor:         r.Header.Values("X-Forwarded-For"),
		Forwarded:             r.Header.Values("Forwarded"),
		XFCC:                  r.Header.Get(HeaderXFCC),
		ClientCertHeader:      r.Header.Get(HeaderClientCert),
		ClientCertChainHeader: r.Header.Get(HeaderClientCertChain),
		JWTSVID:               r.Header.Get(HeaderWorkloadJWT),
		Hops:                  r.Header.Values(HeaderHop),
		Posture:               r.Header.Get(HeaderPosture),
	}
	if r.RequestURI != "" {
		req.Target = r.RequestURI
	}
	if r.TLS != nil {
		req.ClientCerts = r.TLS.PeerCertificates
	}
	return req
}

// remoteAddr parses "ip:port" (or a bare IP) into an address; the zero
// Addr when it cannot.
func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
