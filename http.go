package provost

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
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
//
// The target is the request line's own bytes, so that rules judge what the
// client sent; an absolute-form target (RFC 9112 §3.2.2, "GET http://h/x")
// is judged by its path and query, and a request built in process (no
// request line) by its URL.
func FromHTTP(r *http.Request) *Request {
	req := &Request{
		Method:                r.Method,
		Target:                requestTarget(r),
		Authorization:         JoinLines(r.Header.Values("Authorization")),
		DPoP:                  JoinLines(r.Header.Values("DPoP")),
		Peer:                  remoteAddr(r.RemoteAddr),
		XForwardedFor:         r.Header.Values("X-Forwarded-For"),
		Forwarded:             r.Header.Values("Forwarded"),
		XFCC:                  JoinLines(r.Header.Values(HeaderXFCC)),
		ClientCertHeader:      JoinLines(r.Header.Values(HeaderClientCert)),
		ClientCertChainHeader: JoinLines(r.Header.Values(HeaderClientCertChain)),
		JWTSVID:               JoinLines(r.Header.Values(HeaderWorkloadJWT)),
		Hops:                  r.Header.Values(HeaderHop),
		Posture:               JoinLines(r.Header.Values(HeaderPosture)),
	}
	if r.TLS != nil {
		req.ClientCerts = r.TLS.PeerCertificates
	}
	return req
}

// JoinLines combines the lines of one header field the way RFC 9110 §5.3
// does: in order, separated by commas. A field Provost reads as one value
// and that was sent twice then holds a comma, which its parser refuses (a
// second Authorization or DPoP field is refused outright), instead of
// having only its first line judged. Every transport fills Request with it.
func JoinLines(lines []string) string {
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	return strings.Join(lines, ", ")
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

// requestTarget is r's target in origin form.
func requestTarget(r *http.Request) string {
	if t := r.RequestURI; t != "" && (t[0] == '/' || t == "*") {
		return t
	}
	return r.URL.RequestURI()
}
