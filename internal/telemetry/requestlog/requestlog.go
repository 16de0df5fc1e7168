package requestlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/provost-dev/provost/verdict"
)

// Message is the message of every request line.
const Message = "request"

// Attribute names of a request line.
const (
	KeyRequestID   = "request_id"
	KeyTransport   = "transport"
	KeyMethod      = "method"
	KeyPath        = "path" // never the query
	KeyStatus      = "status"
	KeyLatency     = "latency_seconds"
	KeyPeer        = "peer"
	KeyOutcome     = "outcome"
	KeyVerdict     = "credential_verdict"
	KeyProvenance  = "provenance"
	KeyReasons     = "reasons" // an array of reason codes
	KeyFingerprint = "fingerprint"
	KeyBinding     = "binding"
	KeyRevocation  = "revocation_id"
	KeyProblem     = "problem"
	KeyField       = "field"
	KeyError       = "error"
	KeyRoute       = "route"  // admin API: the route pattern
	KeyClient      = "client" // admin API: the authenticated client
)

// Transport values beyond the decision transports of package transport
// (check_api, forward_auth, proxy), which name the lines of requests that
// were judged.
const (
	// TransportServe is provost serve's routes that judge nothing:
	// /healthz, /readyz, /v1/log/*, /ui.
	TransportServe = "serve"
	// TransportAdmin is the admin API.
	TransportAdmin = "admin"
)

// Line is the part of a request line every transport writes.
type Line struct {
	RequestID string
	Transport string
	Method    string
	Path      string // the path only, never the query
	Status    int
	Latency   time.Duration
	Peer      string // the immediate peer's address
}

// Attrs returns l's attributes followed by more.
func (l Line) Attrs(more ...slog.Attr) []slog.Attr {
	return append([]slog.Attr{
		slog.String(KeyRequestID, l.RequestID),
		slog.String(KeyTransport, l.Transport),
		slog.String(KeyMethod, l.Method),
		slog.String(KeyPath, l.Path),
		slog.Int(KeyStatus, l.Status),
		slog.Float64(KeyLatency, l.Latency.Seconds()),
		slog.String(KeyPeer, l.Peer),
	}, more...)
}

// Decision returns the attributes describing d: outcome,
// credential_verdict, provenance, reasons (always an array), fingerprint,
// and binding and revocation_id when set.
func Decision(d *verdict.Decision) []slog.Attr {
	codes := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		codes = append(codes, string(r.Code))
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.String(KeyOutcome, string(d.Outcome)),
		slog.String(KeyVerdict, string(d.Credential.Verdict)),
		slog.String(KeyProvenance, string(d.Provenance)),
		slog.Any(KeyReasons, codes),
		slog.String(KeyFingerprint, d.Credential.Fingerprint),
	)
	if d.Binding != "" {
		attrs = append(attrs, slog.String(KeyBinding, d.Binding))
	}
	if d.RevocationID != "" {
		attrs = append(attrs, slog.String(KeyRevocation, d.RevocationID))
	}
	return attrs
}

// HeaderRequestID is the HTTP header that carries a request id.
const HeaderRequestID = "X-Request-Id"

// maxIDBytes bounds a request id taken from a caller.
const maxIDBytes = 64

// ValidID reports whether a caller's request id may be kept: 1 to 64
// characters from [A-Za-z0-9._:-].
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDBytes {
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

// NewID returns a fresh random request id (32 hex digits).
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// IDOf returns the caller's id when ValidID, else a fresh one.
func IDOf(caller string) string {
	if ValidID(caller) {
		return caller
	}
	return NewID()
}

type idKey struct{}

// WithID returns ctx carrying the request id.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// IDFrom returns the request id ctx carries, or "".
func IDFrom(ctx context.Context) string {
	id, _ := ctx.Value(idKey{}).(string)
	return id
}
