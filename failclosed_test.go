package provost_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/extauthz"
	"github.com/provost-dev/provost/internal/proxy"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/middleware"
	"github.com/provost-dev/provost/middleware/grpcmw"
	"github.com/provost-dev/provost/reason"
)

// broken is a Checker that breaks its promise: no decision, or an allow
// with an error.
type broken struct{ allow bool }

func (b broken) Check(ctx context.Context, r *provost.Request) (*provost.Decision, error) {
	if b.allow {
		d := &provost.Decision{Outcome: "allow"}
		return d, errors.New("the store is gone")
	}
	return nil, nil
}

// When the checker fails, every transport answers the one fail-closed
// denial provost.Judge makes, with its documented status (docs/api.md,
// "When Provost itself fails"), and nothing reaches the application.
func TestTransportsFailClosedAlike(t *testing.T) {
	for _, chk := range []broken{{allow: false}, {allow: true}} {
		reached := 0
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
		upstream := httptest.NewServer(app)
		defer upstream.Close()

		// forward-auth: 401 with the reason.
		srv := server.New(server.Deps{Checker: chk, Policy: func() *provost.Policy { return nil }}, config.Serve{ForwardAuth: config.ForwardAuth{Headers: config.ForwardAuthEnvoy}}, nil)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", server.PathForwardAuth+"/v1/x", nil))
		wantHTTP(t, "forward-auth", rec.Code, rec.Header())

		// The check API: 200, the denial in the body.
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("POST", server.PathCheck, strings.NewReader(`{"method":"GET","target":"/v1/x"}`))
		req.Header.Set("Content-Type", "application/json")
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"decision":"deny"`) || !strings.Contains(rec.Body.String(), string(reason.InternalError)) {
			t.Errorf("check API: %d %s", rec.Code, rec.Body)
		}

		// The proxy and the middleware: 401, the application never runs.
		prx, err := proxy.New(chk, config.Proxy{Upstream: upstream.URL}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec = httptest.NewRecorder()
		prx.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/x", nil))
		prx.Close()
		wantHTTP(t, "proxy", rec.Code, rec.Header())
		rec = httptest.NewRecorder()
		middleware.New(chk)(app).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/x", nil))
		wantHTTP(t, "middleware", rec.Code, rec.Header())
		if reached != 0 {
			t.Errorf("the application was reached %d times", reached)
		}

		// ext_authz: denied with 401 and UNAUTHENTICATED.
		resp, err := extauthz.New(chk, nil).Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/v1/x"}}}})
		if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != http.StatusUnauthorized || codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated {
			t.Errorf("ext_authz: %v %v", resp, err)
		}

		// grpcmw: UNAUTHENTICATED, the handler never runs.
		code := grpcCall(t, grpcmw.UnaryServerInterceptor(chk))
		if code != codes.Unauthenticated {
			t.Errorf("grpcmw: %v", code)
		}
	}
}

func wantHTTP(t *testing.T, name string, code int, h http.Header) {
	t.Helper()
	if code != http.StatusUnauthorized || h.Get(answer.HeaderDecision) != "deny" || !strings.Contains(h.Get(answer.HeaderReasons), string(reason.InternalError)) {
		t.Errorf("%s: %d, decision %q, reasons %q; want 401 deny internal_error", name, code, h.Get(answer.HeaderDecision), h.Get(answer.HeaderReasons))
	}
}

// grpcCall serves one unary method behind ic on loopback, calls it and
// returns the status code.
func grpcCall(t *testing.T, ic grpc.UnaryServerInterceptor) codes.Code {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(ic))
	s.RegisterService(&grpc.ServiceDesc{ServiceName: "t.T", HandlerType: (*any)(nil), Methods: []grpc.MethodDesc{{
		MethodName: "M",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			var in emptypb.Empty
			_ = dec(&in)
			return ic(ctx, &in, &grpc.UnaryServerInfo{FullMethod: "/t.T/M"}, func(ctx context.Context, req any) (any, error) {
				t.Error("the handler ran")
				return &emptypb.Empty{}, nil
			})
		}}}}, struct{}{})
	go s.Serve(ln)
	defer s.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer x")
	err = conn.Invoke(ctx, "/t.T/M", &emptypb.Empty{}, &emptypb.Empty{})
	return status.Code(err)
}
