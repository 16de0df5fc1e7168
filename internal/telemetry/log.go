package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// KeyRequestID is the log attribute and HeaderRequestID the HTTP header
// that carry a request id.
const (
	KeyRequestID    = "request_id"
	HeaderRequestID = "X-Request-Id"
)

// maxRequestIDBytes bounds a request id taken from a caller.
const maxRequestIDBytes = 64

// secretKeys are attribute keys whose values NewLogger never writes, in
// case a caller passes a credential by mistake.
var secretKeys = map[string]bool{
	"authorization": true, "credential": true, "token": true, "access_token": true,
	"dpop": true, "password": true, "secret": true, "api_key": true, "cookie": true,
}

// NewLogger returns a JSON logger writing to w at level (nil: info). Each
// record carries the request id of its context (see WithRequestID), and
// attributes named like secrets (authorization, credential, token, ...)
// are written as "[redacted]".
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redact})
	return slog.New(requestIDHandler{h})
}

func redact(_ []string, a slog.Attr) slog.Attr {
	if secretKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// requestIDHandler adds the context's request id to every record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(RequestID(id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID is the log attribute of a request id.
func RequestID(id string) slog.Attr { return slog.String(KeyRequestID, id) }

// NewRequestID returns a fresh random request id (32 hex digits).
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// ValidRequestID reports whether a caller's request id may be kept: 1 to 64
// characters from [A-Za-z0-9._:-].
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDBytes {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// RequestIDMiddleware gives each request an id: the caller's X-Request-Id
// when ValidRequestID, else a fresh one. It sets the id on the response
// header and in the request's context.
func RequestIDMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !ValidRequestID(id) {
			id = NewRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}
