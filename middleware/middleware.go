package middleware

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// An Option configures the middleware.
type Option func(*options)

type options struct {
	log        *slog.Logger
	target     func(*http.Request) string
	onDecision func(*http.Request, *provost.Decision)
}

// WithLogger sets where the middleware logs its own failures (an engine
// error that made it fail closed) and, at debug level, each refusal. Logs
// name credentials by fingerprint only. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithTarget sets how the request target (path and query, as the client
// sent it to the external origin) is derived from the request. The default
// is the request's RequestURI, which http.StripPrefix leaves unchanged; use
// this when something in front of the service rewrote the path, for example
// a gateway that strips "/orders":
//
//	middleware.WithTarget(func(r *http.Request) string { return "/orders" + r.URL.RequestURI() })
//
// The target is what DPoP proofs (htu) and hop attestations are checked
// against.
func WithTarget(f func(*http.Request) string) Option {
	return func(o *options) { o.target = f }
}

// WithOnDecision sets a hook called with every decision, allowed or not,
// before the middleware answers or calls the next handler. It must not keep
// or modify the decision after it returns.
func WithOnDecision(f func(*http.Request, *provost.Decision)) Option {
	return func(o *options) { o.onDecision = f }
}

// decisionKey is the context key of the decision.
type decisionKey struct{}

// DecisionFrom returns the decision the middleware made for the request
// whose context is ctx; ok is false outside the middleware.
func DecisionFrom(ctx context.Context) (d *provost.Decision, ok bool) {
	d, ok = ctx.Value(decisionKey{}).(*provost.Decision)
	return d, ok && d != nil
}

// New returns middleware that judges every request with eng before it
// reaches the next handler. It panics when eng is nil.
func New(eng provost.Checker, opts ...Option) func(http.Handler) http.Handler {
	if eng == nil {
		panic("middleware: New called with a nil provost.Checker")
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next http.Handler) http.Handler {
		return &handler{eng: eng, next: next, o: o}
	}
}

type handler struct {
	eng  provost.Checker
	next http.Handler
	o    options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req := provost.FromHTTP(r)
	if h.o.target != nil {
		req.Target = h.o.target(r)
	}
	d, err := provost.Judge(ctx, h.eng, req)
	if err != nil {
		h.o.log.LogAttrs(ctx, slog.LevelError, "provost check failed closed",
			slog.String("fingerprint", d.Credential.Fingerprint), slog.Any("error", err))
	}
	if h.o.onDecision != nil {
		h.o.onDecision(r, d)
	}
	if err != nil || d.Outcome != verdict.Allow {
		h.refuse(w, r, d)
		return
	}
	r2 := r.WithContext(context.WithValue(ctx, decisionKey{}, d))
	if hasIdentity(r.Header) {
		r2.Header = r.Header.Clone()
		stripIdentity(r2.Header)
	}
	h.next.ServeHTTP(w, r2)
}

// refuse answers a request that is not allowed, through internal/answer.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, d *provost.Decision) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// The checker's decision: a denial also when it failed closed (Judge).
	answer.Headers(hdr, d)
	status := answer.Status(d)
	b := body{Decision: string(d.Outcome), Reasons: d.Codes()}
	if h.o.log.Enabled(r.Context(), slog.LevelDebug) {
		h.o.log.LogAttrs(r.Context(), slog.LevelDebug, "provost refused a request",
			slog.String("decision", b.Decision), slog.Int("status", status),
			slog.String("fingerprint", d.Credential.Fingerprint), slog.Any("reasons", b.Reasons))
	}
	out, err := json.Marshal(b)
	if err != nil { // cannot happen: codes are plain strings
		out = []byte(`{"decision":"deny","reasons":[]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))
}

// body is the JSON answer of a refused request.
type body struct {
	Decision string        `json:"decision"`
	Reasons  []reason.Code `json:"reasons"`
}

const identityPrefix = "x-provost-"

func isIdentity(k string) bool {
	return len(k) >= len(identityPrefix) && strings.EqualFold(k[:len(identityPrefix)], identityPrefix)
}

func hasIdentity(h http.Header) bool {
	for k := range h {
		if isIdentity(k) {
			return true
		}
	}
	return false
}

// stripIdentity removes every X-Provost-* header a client may have typed:
// Provost's own identity headers and any other name under its prefix.
func stripIdentity(h http.Header) {
	answer.StripIdentity(h)
	for k := range h {
		if isIdentity(k) {
			delete(h, k)
		}
	}
}
