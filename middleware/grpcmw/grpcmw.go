package grpcmw

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/verdict"
)

// An Option configures the interceptors.
type Option func(*options)

type options struct {
	log        *slog.Logger
	onDecision func(ctx context.Context, fullMethod string, d *provost.Decision)
}

// WithLogger sets where the interceptors log their own failures (an engine
// error that made them fail closed) and, at debug level, each refusal. Logs
// name credentials by fingerprint only. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithOnDecision sets a hook called with every decision, allowed or not,
// before the interceptor calls the handler or refuses the call. ctx is the
// call's incoming context. The hook must not keep or modify the decision
// after it returns.
func WithOnDecision(f func(ctx context.Context, fullMethod string, d *provost.Decision)) Option {
	return func(o *options) { o.onDecision = f }
}

// decisionKey is the context key of the decision.
type decisionKey struct{}

// DecisionFrom returns the decision the interceptor made for the call whose
// context is ctx; ok is false outside the interceptors.
func DecisionFrom(ctx context.Context) (d *provost.Decision, ok bool) {
	d, ok = ctx.Value(decisionKey{}).(*provost.Decision)
	return d, ok && d != nil
}

// UnaryServerInterceptor judges every unary call with eng before its
// handler runs. It panics when eng is nil.
func UnaryServerInterceptor(eng provost.Checker, opts ...Option) grpc.UnaryServerInterceptor {
	c := newChecker(eng, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, trailer, err := c.check(ctx, info.FullMethod)
		if err != nil {
			if trailer.Len() > 0 {
				_ = grpc.SetTrailer(ctx, trailer) // best effort: the status is the answer
			}
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor judges every streaming call with eng before its
// handler runs. It panics when eng is nil.
func StreamServerInterceptor(eng provost.Checker, opts ...Option) grpc.StreamServerInterceptor {
	c := newChecker(eng, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, trailer, err := c.check(ss.Context(), info.FullMethod)
		if err != nil {
			if trailer.Len() > 0 {
				ss.SetTrailer(trailer)
			}
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// stream is a ServerStream whose context carries the decision.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

type checker struct {
	eng provost.Checker
	o   options
}

func newChecker(eng provost.Checker, opts []Option) *checker {
	if eng == nil {
		panic("grpcmw: interceptor built with a nil provost.Checker")
	}
	c := &checker{eng: eng, o: options{log: slog.New(slog.DiscardHandler)}}
	for _, opt := range opts {
		opt(&c.o)
	}
	return c
}

// check judges one call. On allow it returns the handler's context: the
// decision in it, client-typed x-provost-* metadata removed. Otherwise it
// returns the status error and the trailer to send with it.
func (c *checker) check(ctx context.Context, method string) (context.Context, metadata.MD, error) {
	d, err := provost.Judge(ctx, c.eng, FromIncoming(ctx, method))
	if err != nil {
		c.o.log.LogAttrs(ctx, slog.LevelError, "provost check failed closed",
			slog.String("method", method), slog.String("fingerprint", d.Credential.Fingerprint), slog.Any("error", err))
	}
	if c.o.onDecision != nil {
		c.o.onDecision(ctx, method, d)
	}
	if err != nil || d.Outcome != verdict.Allow {
		return ctx, trailerOf(d), c.refusal(ctx, method, d)
	}
	ctx = context.WithValue(ctx, decisionKey{}, d)
	if md, ok := metadata.FromIncomingContext(ctx); ok && hasIdentity(md) {
		ctx = metadata.NewIncomingContext(ctx, stripIdentity(md))
	}
	return ctx, nil, nil
}

// refusal is the status of a refused call: answer.Status 401 becomes
// Unauthenticated, anything else PermissionDenied. The message is the
// decision and its reason codes, never a credential.
func (c *checker) refusal(ctx context.Context, method string, d *provost.Decision) error {
	code := codes.PermissionDenied
	if answer.Status(d) == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	var b strings.Builder
	b.WriteString("provost: ")
	b.WriteString(string(d.Outcome))
	for i, r := range d.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(",")
		}
		b.WriteString(string(r.Code))
	}
	if c.o.log.Enabled(ctx, slog.LevelDebug) {
		c.o.log.LogAttrs(ctx, slog.LevelDebug, "provost refused a call", slog.String("method", method),
			slog.String("code", code.String()), slog.String("fingerprint", d.Credential.Fingerprint), slog.String("status", b.String()))
	}
	return status.Error(code, b.String())
}

// trailerOf renders the answer's headers (WWW-Authenticate and DPoP-Nonce
// of a 401, X-Provost-Decision and X-Provost-Reasons) as trailer metadata.
func trailerOf(d *provost.Decision) metadata.MD {
	h := http.Header{}
	answer.Headers(h, d)
	md := make(metadata.MD, len(h))
	for k, v := range h {
		md[strings.ToLower(k)] = v
	}
	return md
}

// Metadata keys Provost reads: the lower-case forms of provost.Header*
// (gRPC metadata keys are lower case).
const (
	keyHop             = "provost-hop"
	keyPosture         = "provost-posture"
	keyWorkloadJWT     = "provost-workload-jwt"
	keyXFCC            = "x-forwarded-client-cert"
	keyClientCert      = "client-cert"
	keyClientCertChain = "client-cert-chain"
)

// FromIncoming builds the request value for a gRPC call that reached this
// process directly: Method is "POST" (every gRPC call is an HTTP/2 POST),
// Target the full method name ("/pkg.Service/Method"), the peer the
// connection's remote address, the client certificates the TLS
// connection's, and the credential, DPoP proof, forwarding and attestation
// headers come from the incoming metadata. It is what the interceptors
// judge.
func FromIncoming(ctx context.Context, fullMethod string) *provost.Request {
	md, _ := metadata.FromIncomingContext(ctx)
	req := &provost.Request{
		Method:                http.MethodPost,
		Target:                fullMethod,
		Authorization:         provost.JoinLines(md["authorization"]),
		DPoP:                  provost.JoinLines(md["dpop"]),
		XForwardedFor:         md["x-forwarded-for"],
		Forwarded:             md["forwarded"],
		XFCC:                  provost.JoinLines(md[keyXFCC]),
		ClientCertHeader:      provost.JoinLines(md[keyClientCert]),
		ClientCertChainHeader: provost.JoinLines(md[keyClientCertChain]),
		JWTSVID:               provost.JoinLines(md[keyWorkloadJWT]),
		Hops:                  md[keyHop],
		Posture:               provost.JoinLines(md[keyPosture]),
	}
	if p, ok := peer.FromContext(ctx); ok {
		req.Peer = addrOf(p.Addr)
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			req.ClientCerts = ti.State.PeerCertificates
		}
	}
	return req
}

// addrOf is the IP address of a peer; the zero Addr (no network signal)
// when the peer is not an IP peer, such as a Unix socket.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

const identityPrefix = "x-provost-"

func hasIdentity(md metadata.MD) bool {
	for k := range md {
		if strings.HasPrefix(strings.ToLower(k), identityPrefix) {
			return true
		}
	}
	return false
}

// stripIdentity copies md without the x-provost-* keys a client may have
// typed, so the handler only ever sees Provost's decision.
func stripIdentity(md metadata.MD) metadata.MD {
	out := make(metadata.MD, len(md))
	for k, v := range md {
		if !strings.HasPrefix(strings.ToLower(k), identityPrefix) {
			out[k] = v
		}
	}
	return out
}
