package server

import (
	"context"
	"fmt"
	"github.com/provost-dev/provost/internal/telemetry"
	"go.opentelemetry.io/otel/propagation"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/reason"
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

// headerPairs are the method and target headers of each serve.forward_auth.headers
// setting that names a pair.
var headerPairs = map[string][2]string{
	config.ForwardAuthNginx:   {HeaderOriginalMethod, HeaderOriginalURI},
	config.ForwardAuthTraefik: {HeaderForwardedMethod, HeaderForwardedURI},
}

// forwardAuth answers /v1/forward-auth: it judges the request the proxy
// describes and answers with package answer's status and headers.
func (s *Server) forwardAuth(w *reply, r *http.Request) {
	req := provost.FromHTTP(r)
	// The TLS client certificate of this call names the proxy, not its
	// client: the client's certificate comes in XFCC or Client-Cert from
	// a trusted proxy.
	req.ClientCerts = nil
	var herr *headerError
	req.Method, req.Target, herr = s.originalRequest(r, s.deps.Policy().TrustsProxy(req.Peer))
	if herr != nil {
		w.Header().Set(answer.HeaderDecision, "deny")
		w.Header().Set(answer.HeaderReasons, string(reason.ForwardAuthHeaderMismatch))
		s.problem(w, problem{Type: typeInvalidField, Title: "Bad Request", Status: http.StatusBadRequest,
			Field: herr.header, Detail: herr.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(transport.With(telemetry.RemoteParent(context.WithoutCancel(r.Context()), propagation.HeaderCarrier(r.Header)), transport.ForwardAuth), s.decisionTimeout())
	defer cancel()
	d := s.decide(ctx, w, req)
	h := w.Header()
	answer.Headers(h, d)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	status := answer.Status(d)
	if status == http.StatusBadRequest {
		// A refused method or target (request_*_invalid) is a denial: nginx
		// and Traefik know only 2xx, 401 and 403 from an auth service.
		status = http.StatusForbidden
	}
	w.WriteHeader(status)
	io.WriteString(w, string(d.Outcome)+"\n")
}

// headerError names the forward-auth header that could not be used.
type headerError struct {
	header, msg string
}

func (e *headerError) Error() string { return e.header + ": " + e.msg }

// originalRequest returns the method and target of the request the proxy
// asks about. They are read from the configured header pair only when the
// caller is a trusted proxy; from anyone else every pair is ignored and
// the call is judged as itself. From a trusted proxy, a call that carries
// another pair, lacks the configured one, or repeats a line is refused:
// a proxy set up as documented never sends one.
func (s *Server) originalRequest(r *http.Request, trusted bool) (method, target string, err *headerError) {
	method, target = r.Method, ownTarget(r)
	mode := s.cfg.ForwardAuth.Headers
	if !trusted {
		if pair, ok := headerPairs[mode]; ok && r.Header.Get(pair[0]) != "" && !s.untrustedPair.Swap(true) {
			// A proxy set up as documented but missing from trust.proxies
			// has every request judged as GET of the subrequest: say so once.
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "forward-auth: a peer not in trust.proxies sent "+pair[0]+"; it is ignored and the call is judged as itself (add the proxy to trust.proxies)",
				slog.String("peer", r.RemoteAddr))
		}
		return method, target, nil
	}
	for name, pair := range headerPairs {
		if name == mode {
			continue
		}
		for _, h := range pair {
			if len(r.Header.Values(h)) > 0 {
				return "", "", &headerError{h, fmt.Sprintf("this Provost reads the original request from the %s headers (serve.forward_auth.headers); a call carrying %s is refused, since a client may have typed it", mode, h)}
			}
		}
	}
	pair, ok := headerPairs[mode]
	if !ok {
		return method, target, nil // envoy: the call is the original request
	}
	vals := [2]string{}
	for i, h := range pair {
		switch v := r.Header.Values(h); len(v) {
		case 0:
			return "", "", &headerError{h, fmt.Sprintf("is missing: the %s set-up (serve.forward_auth.headers) names the original request with %s and %s", mode, pair[0], pair[1])}
		case 1:
			vals[i] = v[0]
		default:
			return "", "", &headerError{h, "was sent more than once"}
		}
	}
	return vals[0], vals[1], nil
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
