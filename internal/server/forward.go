package server

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
)

// Headers a proxy sets to name the original request: Traefik sends the
// X-Forwarded-* pair, nginx is configured to send the X-Original-* pair.
// Envoy's HTTP ext_authz sends neither: it calls with the original method,
// and with the original path appended to its path_prefix.
const (
	HeaderForwardedMethod = "X-Forwarded-Method"
	HeaderForwardedURI    = "X-Forwarded-Uri"
	HeaderOriginalMethod  = "X-Original-Method"
	HeaderOriginalURI     = "X-Original-URI"
)

// forwardAuth answers /v1/forward-auth: it judges the request the proxy
// describes and answers with package answer's status and headers.
func (s *Server) forwardAuth(w *reply, r *http.Request) {
	req := provost.FromHTTP(r)
	req.Method, req.Target = originalRequest(r)
	// The TLS client certificate of this call names the proxy, not its
	// client: the client's certificate comes in XFCC or Client-Cert from
	// a trusted proxy.
	req.ClientCerts = nil
	if !validMethod(req.Method) {
		s.invalid(w, methodHeader(r), "must be an upper-case HTTP method token")
		return
	}
	if !strings.HasPrefix(req.Target, "/") {
		s.invalid(w, uriHeader(r), "must be the original request target: a path starting with / (and any query)")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.WriteTimeout.D())
	defer cancel()
	d := s.decide(ctx, w, req)
	h := w.Header()
	answer.Headers(h, d)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(answer.Status(d))
	io.WriteString(w, string(d.Decision.Decision)+"\n")
}

// originalRequest returns the method and target of the request the proxy
// asks about.
func originalRequest(r *http.Request) (method, target string) {
	method = firstHeader(r, HeaderForwardedMethod, HeaderOriginalMethod)
	if method == "" {
		method = r.Method
	}
	target = firstHeader(r, HeaderForwardedURI, HeaderOriginalURI)
	if target == "" {
		target = ownTarget(r)
	}
	return method, target
}

// ownTarget is this request's own target with the forward-auth prefix
// removed: what Envoy's HTTP ext_authz sends with path_prefix
// /v1/forward-auth.
func ownTarget(r *http.Request) string {
	t := r.RequestURI
	if !strings.HasPrefix(t, "/") {
		t = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			t += "?" + r.URL.RawQuery
		}
	}
	t = strings.TrimPrefix(t, PathForwardAuth)
	if t == "" || t[0] == '?' {
		t = "/" + t
	}
	return t
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// methodHeader and uriHeader name where a bad value came from.
func methodHeader(r *http.Request) string {
	for _, n := range []string{HeaderForwardedMethod, HeaderOriginalMethod} {
		if r.Header.Get(n) != "" {
			return n
		}
	}
	return "(method)"
}

func uriHeader(r *http.Request) string {
	for _, n := range []string{HeaderForwardedURI, HeaderOriginalURI} {
		if r.Header.Get(n) != "" {
			return n
		}
	}
	return "(target)"
}

// validMethod accepts what checkreq accepts: an upper-case method token.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}
