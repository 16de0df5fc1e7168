package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/provost-dev/provost/internal/telemetry/requestlog"
)

// KeyRequestID is the log attribute and HeaderRequestID the HTTP header
// that carry a request id.
const (
	KeyRequestID    = requestlog.KeyRequestID
	HeaderRequestID = requestlog.HeaderRequestID
)

// secretKeys are attribute keys whose values NewLogger never writes, in
// case a caller passes a credential by mistake.
var secretKeys = map[string]bool{
	"authorization": true, "credential": true, "token": true, "access_token": true,
	"dpop": true, "password": true, "secret": true, "api_key": true, "cookie": true,
}

// LogFormat is how a logger writes its records.
type LogFormat string

// The log formats: JSON lines (the default), or slog's key=value text.
const (
	LogJSON LogFormat = "json"
	LogText LogFormat = "text"
)

// ParseLogFormat reads a --log-format value: json or text.
func ParseLogFormat(s string) (LogFormat, error) {
	switch f := LogFormat(s); f {
	case LogJSON, LogText:
		return f, nil
	}
	return "", fmt.Errorf("log format %q: want json or text", s)
}

// NewLogger returns a JSON logger writing to w at level (nil: info). Each
// record carries the request id of its context (see WithRequestID), and
// attributes named like secrets (authorization, credential, token, ...)
// are written as "[redacted]".
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return NewLoggerFormat(w, LogJSON, level)
}

// NewLoggerFormat is NewLogger writing in format f (LogText: key=value
// lines; anything else: JSON).
func NewLoggerFormat(w io.Writer, f LogFormat, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if f == LogText {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

func redact(_ []string, a slog.Attr) slog.Attr {
	if secretKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// requestIDHandler adds the context's request id to every record that
// does not carry one already.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" && !hasRequestID(r) {
		r.AddAttrs(RequestID(id))
	}
	return h.Handler.Handle(ctx, r)
}

func hasRequestID(r slog.Record) (has bool) {
	r.Attrs(func(a slog.Attr) bool {
		has = a.Key == KeyRequestID
		return !has
	})
	return has
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return requestlog.WithID(ctx, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string { return requestlog.IDFrom(ctx) }

// RequestID is the log attribute of a request id.
func RequestID(id string) slog.Attr { return slog.String(KeyRequestID, id) }

// NewRequestID returns a fresh random request id (32 hex digits).
func NewRequestID() string { return requestlog.NewID() }

// ValidRequestID reports whether a caller's request id may be kept: 1 to 64
// characters from [A-Za-z0-9._:-].
func ValidRequestID(id string) bool { return requestlog.ValidID(id) }

// RequestIDMiddleware gives each request an id: the caller's X-Request-Id
// when ValidRequestID, else a fresh one. It sets the id on the response
// header and in the request's context.
func RequestIDMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestlog.IDOf(r.Header.Get(HeaderRequestID))
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}
