package server

import (
	"crypto/rand"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/telemetry/requestlog"
)

// reply is the ResponseWriter every handler writes to: it remembers the
// status and the attributes of the request's one log line.
type reply struct {
	http.ResponseWriter
	id     string
	status int
	attrs  []slog.Attr
	// transport names the transport that judged the request (decide
	// sets it); "" for routes that judge nothing.
	transport string
	// debug logs the request at debug level (health probes).
	debug bool
}

func (w *reply) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *reply) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveHTTP names the request, routes it, and writes its log line.
func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &reply{ResponseWriter: rw, id: requestID(r.Header.Get(HeaderRequestID))}
	rw.Header().Set(HeaderRequestID, w.id)
	r = r.WithContext(requestlog.WithID(r.Context(), w.id)) // every line about the request names it
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// A bug of Provost's own, never the caller's input: log it
			// and fail closed.
			s.log.LogAttrs(r.Context(), slog.LevelError, "handler panic", slog.String("request_id", w.id), slog.Any("panic", v))
			if w.status == 0 {
				s.problem(w, problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
					Detail: "Provost failed; the request is not allowed"})
			}
		}
		s.logRequest(r, w, time.Since(start))
	}()
	if p := r.URL.Path; s.deps.UI != nil && (p == "/ui" || strings.HasPrefix(p, "/ui/")) {
		s.deps.UI.ServeHTTP(w, r)
		return
	}
	s.route(w, r)
}

// Unwrap lets http.ResponseController reach the connection (the
// dashboard's live stream flushes and extends its write deadline).
func (w *reply) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequest writes the request's one line, as serve.request_log says: a
// 5xx always at error; health probes at debug; the rest at the configured
// level (or not at all), sampled.
func (s *Server) logRequest(r *http.Request, w *reply, took time.Duration) {
	level := slog.LevelInfo
	rl := s.cfg.RequestLog
	switch {
	case w.status >= 500:
		level = slog.LevelError
	case rl.Level == config.RequestLogOff:
		return
	case w.debug || rl.Level == config.RequestLogDebug:
		level = slog.LevelDebug
	}
	if level != slog.LevelError && rl.Sample > 0 && rl.Sample < 1 && mrand.Float64() >= rl.Sample {
		return
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	tr := w.transport
	if tr == "" {
		tr = requestlog.TransportServe
	}
	line := requestlog.Line{RequestID: w.id, Transport: tr, Method: r.Method,
		Path:   r.URL.Path, // never the query: it may carry a token
		Status: w.status, Latency: took, Peer: r.RemoteAddr}
	attrs := line.Attrs(w.attrs...)
	s.log.LogAttrs(ctx, level, requestlog.Message, attrs...)
}

// requestID returns the caller's X-Request-Id when it is a short token
// (RFC 9110 tchar), else a fresh random one.
func requestID(in string) string {
	if validRequestID(in) {
		return in
	}
	return rand.Text()
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTChar(s[i]) {
			return false
		}
	}
	return true
}

func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
