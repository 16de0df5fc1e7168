package admin

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/internal/telemetry/requestlog"
)

// routes builds the handler: request id, access log, rate limit,
// authentication, then the routes.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.register(mux) // table.go
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no admin route "+r.Method+" "+clip(r.URL.Path, 128))
	})
	var requests *prometheus.CounterVec
	if s.metrics != nil {
		requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provost_admin_requests_total",
			Help: "Admin API requests by route and status code.",
		}, []string{"route", "code"})
		if err := s.metrics.Registry().Register(requests); err != nil {
			requests = nil // a second Server on the same Metrics: counted by the first
		}
	}
	return telemetry.RequestIDMiddleware(s.observe(requests, s.guard(mux)))
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here (allowed: "+allow+")")
	}
}

// guard authenticates, then rate limits. A request that fails
// authentication (401 or 403) is limited by its source address in a
// limiter of its own, so a flood of missing or wrong credentials is
// answered 429 without spending anyone else's budget; an authenticated
// request is limited by its client (how it authenticated and its name),
// whatever address it comes from.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, status, why := s.auth.authenticate(r)
		if status != 0 {
			if ok, wait := s.failLimit.allow(clientAddr(r.RemoteAddr)); !ok {
				rateLimited(w, r, wait, "too many failed admin authentications from this address; retry later")
				return
			}
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="provost-admin"`)
				writeProblem(w, r, status, CodeUnauthenticated, why)
			} else {
				writeProblem(w, r, http.StatusForbidden, CodeForbidden, why)
			}
			return
		}
		if ok, wait := s.clientLimit.allow(c.Method + ":" + c.Name); !ok {
			rateLimited(w, r, wait, "too many admin requests from this client; retry later")
			return
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), clientKey{}, c), requestTimeout)
		defer cancel()
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// rateLimited answers 429 with Retry-After in whole seconds (at least 1).
func rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration, why string) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeProblem(w, r, http.StatusTooManyRequests, CodeRateLimited, why)
}

// observe logs each request and counts it by route and status.
func (s *Server) observe(requests *prometheus.CounterVec, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		info := &requestInfo{}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		route := info.route
		if route == "" {
			route = "other"
		}
		if requests != nil {
			requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		}
		line := requestlog.Line{RequestID: telemetry.RequestIDFrom(r.Context()), Transport: requestlog.TransportAdmin,
			Method: r.Method, Path: r.URL.Path, Status: rec.status, Latency: s.now().Sub(start), Peer: r.RemoteAddr}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, requestlog.Message,
			line.Attrs(slog.String(requestlog.KeyRoute, route), slog.String(requestlog.KeyClient, info.client))...)
	})
}

// requestInfo carries what inner handlers learn back to observe.
type requestInfo struct {
	route  string
	client string
}

type infoKey struct{}

// note records the route and client of a request for its log line.
func note(r *http.Request) {
	if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
		info.route = r.Pattern
		if c, ok := ClientFrom(r.Context()); ok {
			info.client = c.Name
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientAddr is the rate limit key of a peer that failed to
// authenticate: its IP address.
func clientAddr(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
