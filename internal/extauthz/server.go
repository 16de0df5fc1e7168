package extauthz

import (
	"context"
	"github.com/provost-dev/provost/internal/telemetry"
	"go.opentelemetry.io/otel/propagation"
	"log/slog"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/reason"
)

// Limits bound what Envoy may report about one request.
type Limits struct {
	// MaxHeaders is the most header lines (pseudo-headers included).
	MaxHeaders int
	// MaxHeaderBytes bounds the method, the path and every header name
	// and value, summed.
	MaxHeaderBytes int
}

// DefaultLimits are config.GRPC's defaults.
var DefaultLimits = Limits{MaxHeaders: config.DefaultGRPCMaxHeaders, MaxHeaderBytes: config.DefaultGRPCMaxHeaderBytes}

// Option changes a Server.
type Option func(*Server)

// WithLimits sets the Server's limits; a zero field keeps its default.
func WithLimits(l Limits) Option {
	return func(s *Server) {
		if l.MaxHeaders > 0 {
			s.limits.MaxHeaders = l.MaxHeaders
		}
		if l.MaxHeaderBytes > 0 {
			s.limits.MaxHeaderBytes = l.MaxHeaderBytes
		}
	}
}

// Server implements envoy.service.auth.v3.Authorization over an Engine.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	eng    provost.Checker
	log    *slog.Logger
	limits Limits
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// New returns the ext_authz server for eng. logger receives one line per
// request Provost could not read or judge (never a credential); nil
// discards them.
func New(eng provost.Checker, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{eng: eng, log: logger, limits: DefaultLimits}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register registers the Authorization service on g.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// RegisterHealth registers the standard gRPC health service on g, SERVING
// for "" and for envoy.service.auth.v3.Authorization, and returns it so the
// caller can turn it NOT_SERVING (Shutdown) before stopping.
func RegisterHealth(g *grpc.Server) *health.Server {
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, h)
	return h
}

// Check judges the request Envoy describes. It always answers with a
// CheckResponse (never an RPC error) and answers OK only when the engine
// allowed.
func (s *Server) Check(ctx context.Context, cr *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "ext_authz check panicked; denied (fail closed)", slog.Any("panic", p))
			resp, err = failed(), nil
		}
	}()
	var r reported
	if err := s.request(cr, &r); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "ext_authz request denied unread", slog.String("request_id", r.id),
			slog.String("reason", string(reason.Of(err))), slog.String("error", err.Error()))
		return unread(err), nil
	}
	d, err := provost.Judge(transport.With(telemetry.RemoteParent(ctx, propagation.MapCarrier(cr.GetAttributes().GetRequest().GetHttp().GetHeaders())), transport.ExtAuthz), s.eng, &r.req)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "ext_authz check failed; denied (fail closed)", slog.String("request_id", r.id), slog.Any("error", err))
	}
	// With an error the decision is the fail-closed denial Judge made;
	// it is rendered like any other.
	return respond(d, r.sent), nil
}
