package extauthz

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
)

// Bounds of the peer certificate Envoy reports.
const (
	// MaxCertificateBytes bounds attributes.source.certificate (URL-encoded).
	MaxCertificateBytes = 64 << 10
	// MaxCertificates bounds the certificates in it.
	MaxCertificates = 16
)

// Header names as Envoy reports them (lower case). Each equals
// strings.ToLower of the name Provost reads elsewhere.
const (
	hAuthorization   = "authorization"
	hDPoP            = "dpop"
	hXFF             = "x-forwarded-for"
	hForwarded       = "forwarded"
	hXFCC            = "x-forwarded-client-cert"
	hClientCert      = "client-cert"
	hClientCertChain = "client-cert-chain"
	hHop             = "provost-hop"
	hPosture         = "provost-posture"
	hWorkloadJWT     = "provost-workload-jwt"
	hRequestID       = "x-request-id"
	hMethod          = ":method"
	hPath            = ":path"
	identityPrefix   = "x-provost-"
)

// reported is what Envoy reported about one request.
type reported struct {
	req provost.Request
	// sent are the X-Provost-* header names the client sent (lower case).
	sent []string
	// id is Envoy's request id, for logs.
	id string
}

// builder reads headers into a reported value within the limits.
type builder struct {
	r       *reported
	lim     Limits
	n, size int
}

// request builds the Request from a CheckRequest. Its errors are
// *reason.Error with code ExtAuthzTooLarge or ExtAuthzMalformed.
func (s *Server) request(cr *authv3.CheckRequest, r *reported) error {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return reason.New(reason.ExtAuthzMalformed, "the CheckRequest has no attributes.request.http")
	}
	b := builder{r: r, lim: s.limits}
	var method, path string
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		for _, hv := range hm {
			v := hv.GetValue()
			if len(hv.GetRawValue()) > 0 {
				v = string(hv.GetRawValue())
			}
			if err := b.add(strings.ToLower(hv.GetKey()), v, &method, &path); err != nil {
				return err
			}
		}
	} else {
		for k, v := range h.GetHeaders() {
			// Envoy sends lower-case keys; ToLower then costs nothing.
			if err := b.add(strings.ToLower(k), v, &method, &path); err != nil {
				return err
			}
		}
	}
	if h.GetMethod() != "" {
		method = h.GetMethod()
	}
	if h.GetPath() != "" {
		path = h.GetPath()
	}
	if method == "" {
		return reason.New(reason.ExtAuthzMalformed, "the CheckRequest names no HTTP method")
	}
	if err := b.count(len(method) + len(path)); err != nil {
		return err
	}
	r.req.Method, r.req.Target = method, path
	r.req.Peer = peerAddr(attrs.GetSource())
	certs, err := peerCerts(attrs.GetSource().GetCertificate())
	if err != nil {
		return err
	}
	r.req.ClientCerts = certs
	return nil
}

// add reads one header line.
func (b *builder) add(key, v string, method, path *string) error {
	b.n++
	if err := b.count(len(key) + len(v)); err != nil {
		return err
	}
	if b.n > b.lim.MaxHeaders {
		return reason.New(reason.ExtAuthzTooLarge, fmt.Sprintf("the request has more than %d headers", b.lim.MaxHeaders))
	}
	req := &b.r.req
	switch key {
	case hAuthorization:
		join(&req.Authorization, v)
	case hDPoP:
		join(&req.DPoP, v)
	case hXFF:
		req.XForwardedFor = append(req.XForwardedFor, v)
	case hForwarded:
		req.Forwarded = append(req.Forwarded, v)
	case hXFCC:
		join(&req.XFCC, v)
	case hClientCert:
		join(&req.ClientCertHeader, v)
	case hClientCertChain:
		join(&req.ClientCertChainHeader, v)
	case hHop:
		req.Hops = append(req.Hops, v)
	case hPosture:
		join(&req.Posture, v)
	case hWorkloadJWT:
		join(&req.JWTSVID, v)
	case hRequestID:
		b.r.id = v
	case hMethod:
		*method = v
	case hPath:
		*path = v
	default:
		if strings.HasPrefix(key, identityPrefix) {
			b.r.sent = append(b.r.sent, key)
		}
	}
	return nil
}

func (b *builder) count(n int) error {
	b.size += n
	if b.size > b.lim.MaxHeaderBytes {
		return reason.New(reason.ExtAuthzTooLarge, fmt.Sprintf("the request's method, path and headers exceed %d bytes", b.lim.MaxHeaderBytes))
	}
	return nil
}

// join merges a repeated header the way Envoy's headers map does: with a
// comma. A credential header sent twice then fails its own parser.
func join(dst *string, v string) {
	if *dst == "" {
		*dst = v
		return
	}
	*dst += "," + v
}

// peerAddr is the downstream address Envoy reports; the zero Addr (the
// network signal is then absent) for a pipe or anything not an IP.
func peerAddr(p *authv3.AttributeContext_Peer) netip.Addr {
	a, err := netip.ParseAddr(p.GetAddress().GetSocketAddress().GetAddress())
	if err != nil {
		return netip.Addr{}
	}
	return a.WithZone("").Unmap()
}

// peerCerts decodes attributes.source.certificate: URL-encoded PEM, leaf
// first. "" means no client certificate.
func peerCerts(enc string) ([]*x509.Certificate, error) {
	if enc == "" {
		return nil, nil
	}
	if len(enc) > MaxCertificateBytes {
		return nil, reason.New(reason.ExtAuthzTooLarge, fmt.Sprintf("attributes.source.certificate exceeds %d bytes", MaxCertificateBytes))
	}
	// PathUnescape, not QueryUnescape: a '+' of base64 stays a '+'.
	text, err := url.PathUnescape(enc)
	if err != nil {
		return nil, reason.Wrap(reason.ExtAuthzMalformed, "attributes.source.certificate is not URL-encoded", err)
	}
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		// pem.Decode skips text before a block; allow only whitespace.
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		var b *pem.Block
		if bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			b, rest = pem.Decode(rest)
		}
		if b == nil || b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			return nil, reason.New(reason.ExtAuthzMalformed, "attributes.source.certificate is not PEM CERTIFICATE blocks only")
		}
		if len(certs) == MaxCertificates {
			return nil, reason.New(reason.ExtAuthzTooLarge, fmt.Sprintf("attributes.source.certificate holds more than %d certificates", MaxCertificates))
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, reason.Wrap(reason.ExtAuthzMalformed, "attributes.source.certificate is not an X.509 certificate", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, reason.New(reason.ExtAuthzMalformed, "attributes.source.certificate holds no PEM certificate")
	}
	return certs, nil
}
