package grpcmw_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/middleware/grpcmw"
	"github.com/provost-dev/provost/verdict"
)

const (
	checkMethod = "/grpc.health.v1.Health/Check"
	watchMethod = "/grpc.health.v1.Health/Watch"
)

// seen is what the service handler saw of one call.
type seen struct {
	decision *provost.Decision
	ok       bool
	md       metadata.MD
}

// health is the protected service: it records what each call saw.
type recorder struct {
	healthpb.UnimplementedHealthServer
	mu   sync.Mutex
	seen []seen
}

func (h *recorder) record(ctx context.Context) {
	d, ok := grpcmw.DecisionFrom(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	h.mu.Lock()
	h.seen = append(h.seen, seen{decision: d, ok: ok, md: md.Copy()})
	h.mu.Unlock()
}

func (h *recorder) take() []seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.seen
	h.seen = nil
	return out
}

func (h *recorder) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.record(ctx)
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h *recorder) Watch(_ *healthpb.HealthCheckRequest, s grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	h.record(s.Context())
	return s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

// The test world's workload, and the binding that approves it: the
// middleware world's bindings (provosttest.MiddlewareBindings) plus svc:workload.
const (
	workloadPath = "/svc/orders"
	workload     = "spiffe://mw.test" + workloadPath
	// extraBindings approve svc:workload from loopback with the workload.
	extraBindings = `  - name: workload
    match: {subject: "svc:workload"}
    require: {workloads: ["` + workload + `"], networks: [loopback]}
    on_violation: deny
`
)

// mw is o in the middleware tests' world, with extraBindings.
func mw(o provosttest.Options) provosttest.Options { return provosttest.Middleware(o, extraBindings) }

// service is a real gRPC server on a loopback port guarded by both
// interceptors over a real engine, and a real client connected to it.
type service struct {
	*provosttest.T
	app    *app.App
	origin string
	svc    *recorder
	client healthpb.HealthClient
}

type tlsSetup struct {
	server *tls.Config                        // nil: plaintext
	client func(w *provosttest.T) *tls.Config // called once the world exists
}

func newService(t *testing.T, o provosttest.Options, ts *tlsSetup, opts ...grpcmw.Option) *service {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{svc: &recorder{}, origin: "http://" + lis.Addr().String()}
	if ts != nil {
		s.origin = "https://" + lis.Addr().String()
	}
	o.Origin = s.origin
	s.T = provosttest.New(t, mw(o))
	s.app = s.App("")
	sopts := []grpc.ServerOption{
		grpc.UnaryInterceptor(grpcmw.UnaryServerInterceptor(s.app.Engine, opts...)),
		grpc.StreamInterceptor(grpcmw.StreamServerInterceptor(s.app.Engine, opts...)),
		grpc.ConnectionTimeout(5 * time.Second),
	}
	copts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if ts != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(ts.server)))
		copts = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(ts.client(s.T)))}
	}
	srv := grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(srv, s.svc)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), copts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s.client = healthpb.NewHealthClient(conn)
	return s
}

// call makes one unary or streaming call with the metadata pairs and
// returns its error and trailer.
func (s *service) call(t *testing.T, streaming bool, pairs ...string) (metadata.MD, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	var tr metadata.MD
	if !streaming {
		_, err := s.client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
		return tr, err
	}
	st, err := s.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return nil, err
	}
	_, err = st.Recv()
	return st.Trailer(), err
}

func TestInterceptors(t *testing.T) {
	s := newService(t, provosttest.Options{}, nil)
	key := s.NewKey()
	bound := s.MustBoundToken("svc:bound", key)
	expired := s.Now().Add(-2 * time.Hour)
	cases := []struct {
		name      string
		pairs     func(method string) []string
		code      codes.Code
		reason    string // a reason code the decision must carry
		challenge string // www-authenticate trailer prefix
	}{
		{name: "allow, client-typed identity metadata stripped", code: codes.OK, reason: "provenance_verified",
			pairs: func(string) []string {
				return []string{"authorization", "Bearer " + s.MustToken("svc:ok", nil), "x-provost-subject", "admin", "x-provost-made-up", "1"}
			}},
		{name: "no credential", code: codes.Unauthenticated, reason: "token_missing", challenge: `Bearer realm="provost"`,
			pairs: func(string) []string { return nil }},
		{name: "expired credential", code: codes.Unauthenticated, reason: "expired", challenge: `Bearer error="invalid_token"`,
			pairs: func(string) []string {
				return []string{"authorization", "Bearer " + s.MustToken("svc:ok", map[string]any{"iat": expired.Unix(), "exp": expired.Add(time.Hour).Unix()})}
			}},
		{name: "provenance deny from the peer address", code: codes.PermissionDenied, reason: "network_not_approved",
			pairs: func(string) []string { return []string{"authorization", "Bearer " + s.MustToken("svc:remote", nil)} }},
		{name: "typed x-forwarded-for gains nothing", code: codes.PermissionDenied, reason: "network_not_approved",
			pairs: func(string) []string {
				return []string{"authorization", "Bearer " + s.MustToken("svc:remote", nil), "x-forwarded-for", "10.9.1.1"}
			}},
		{name: "step up", code: codes.Unauthenticated, reason: "network_not_approved", challenge: `Bearer error="invalid_token", error_description="re-authenticate`,
			pairs: func(string) []string { return []string{"authorization", "Bearer " + s.MustToken("svc:vendor", nil)} }},
		{name: "DPoP proof over origin and method path", code: codes.OK,
			pairs: func(m string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", s.MustDPoPProof(key, "POST", m, bound)}
			}},
		{name: "DPoP proof for another method", code: codes.Unauthenticated, reason: "dpop_htu_mismatch", challenge: `DPoP error="invalid_dpop_proof"`,
			pairs: func(string) []string {
				return []string{"authorization", "DPoP " + bound, "dpop", s.MustDPoPProof(key, "POST", "/grpc.health.v1.Health/List", bound)}
			}},
	}
	for _, streaming := range []bool{false, true} {
		method := map[bool]string{false: checkMethod, true: watchMethod}[streaming]
		for _, c := range cases {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				tr, err := s.call(t, streaming, c.pairs(method)...)
				got := s.svc.take()
				if status.Code(err) != c.code {
					t.Fatalf("code %v, want %v (%v)", status.Code(err), c.code, err)
				}
				if c.code == codes.OK {
					checkReached(t, got, c.reason)
					return
				}
				if len(got) != 0 {
					t.Fatal("the handler ran for a refused call")
				}
				checkRefusal(t, err, tr, c.reason, c.challenge)
			})
		}
	}
}

func checkReached(t *testing.T, got []seen, reason string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("handler calls %d", len(got))
	}
	d := got[0].decision
	if !got[0].ok || d == nil || d.Outcome != verdict.Allow {
		t.Fatalf("the handler's context has no allow decision: %v %+v", got[0].ok, d)
	}
	if c := d.Signals.Network.Client.String(); c != "127.0.0.1" {
		t.Errorf("network client %s, want the loopback peer", c)
	}
	if reason != "" && !slices.Contains(codesOf(d), reason) {
		t.Errorf("reasons %v lack %s", codesOf(d), reason)
	}
	for k := range got[0].md {
		if strings.HasPrefix(k, "x-provost-") {
			t.Errorf("the handler saw client-typed metadata %s", k)
		}
	}
}

func checkRefusal(t *testing.T, err error, tr metadata.MD, reason, challenge string) {
	t.Helper()
	msg := status.Convert(err).Message()
	if !strings.HasPrefix(msg, "provost: ") || (reason != "" && !strings.Contains(msg, reason)) {
		t.Errorf("message %q lacks %s", msg, reason)
	}
	www := strings.Join(tr.Get("www-authenticate"), "|")
	if (challenge == "") != (www == "") || !strings.HasPrefix(www, challenge) {
		t.Errorf("www-authenticate trailer %q, want prefix %q", www, challenge)
	}
	if status.Code(err) == codes.Unauthenticated && www == "" {
		t.Error("Unauthenticated without a challenge")
	}
	if d := tr.Get("x-provost-decision"); len(d) != 1 || !strings.HasPrefix(msg, "provost: "+d[0]) {
		t.Errorf("x-provost-decision trailer %v, message %q", d, msg)
	}
}

func codesOf(d *provost.Decision) []string {
	var out []string
	for _, c := range d.Codes() {
		out = append(out, string(c))
	}
	return out
}

// The TLS client certificate of the connection is the workload identity.
func TestClientCertificate(t *testing.T) {
	serverCert, serverPool := provosttest.ServerCert(t)
	var world *provosttest.T
	caPool := x509.NewCertPool()
	withCert := true
	ts := &tlsSetup{
		server: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12,
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: caPool},
		client: func(w *provosttest.T) *tls.Config {
			world = w
			caPool.AddCert(w.CA())
			return &tls.Config{RootCAs: serverPool, MinVersion: tls.VersionTLS12,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if !withCert {
						return &tls.Certificate{}, nil
					}
					c := world.MustClientCert(workloadPath)
					return &c, nil
				}}
		},
	}
	s := newService(t, provosttest.Options{}, ts)
	_, err := s.call(t, false, "authorization", "Bearer "+s.MustToken("svc:workload", nil))
	got := s.svc.take()
	if err != nil || len(got) != 1 {
		t.Fatalf("with the SVID: %v, handler calls %d", err, len(got))
	}
	if id := got[0].decision.Signals.Workload.ID; id != workload {
		t.Fatalf("workload %q, want %q", id, workload)
	}

	// Same service, a new connection without a client certificate.
	withCert = false
	s2 := newService(t, provosttest.Options{}, ts)
	_, err = s2.call(t, false, "authorization", "Bearer "+s2.MustToken("svc:workload", nil))
	if status.Code(err) != codes.PermissionDenied || len(s2.svc.take()) != 0 {
		t.Fatalf("without a certificate: %v", err)
	}
}

// The same call through the interceptors and through Engine.Check on
// FromIncoming of it gives the same decision.
func TestSameDecisionAsEngine(t *testing.T) {
	var mu sync.Mutex
	var reqs []*provost.Request
	var decs []*provost.Decision
	hook := grpcmw.WithOnDecision(func(ctx context.Context, method string, d *provost.Decision) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, grpcmw.FromIncoming(ctx, method))
		decs = append(decs, d)
	})
	s := newService(t, provosttest.Options{}, nil, hook)
	calls := [][]string{
		{"authorization", "Bearer " + s.MustToken("svc:ok", nil)},
		{"authorization", "Bearer " + s.MustToken("svc:ok", nil), "x-forwarded-for", "10.9.1.1"},
		{"authorization", "Bearer " + s.MustToken("svc:remote", nil)},
		{"authorization", "Bearer " + s.MustToken("svc:vendor", nil)},
		{"authorization", "Bearer " + s.MustToken("svc:nobody", nil)},
		{"authorization", "Bearer " + s.MustToken("svc:ok", map[string]any{"aud": "https://other.test"})},
		{"authorization", "Basic dXNlcjpwYXNz"},
		{},
	}
	for i, pairs := range calls {
		for _, streaming := range []bool{false, true} {
			_, err := s.call(t, streaming, pairs...)
			mu.Lock()
			req, got := reqs[len(reqs)-1], decs[len(decs)-1]
			mu.Unlock()
			if req.Method != "POST" || !strings.HasPrefix(req.Target, "/grpc.health.v1.Health/") || req.Peer.String() != "127.0.0.1" {
				t.Fatalf("request value %s %s from %s", req.Method, req.Target, req.Peer)
			}
			want, cerr := s.app.Engine.Check(context.Background(), req)
			if cerr != nil {
				t.Fatal(cerr)
			}
			if got.Outcome != want.Outcome || got.Credential.Verdict != want.Credential.Verdict ||
				got.Provenance != want.Provenance || !slices.Equal(got.Codes(), want.Codes()) {
				t.Errorf("call %d: interceptor %s/%s/%s %v, engine %s/%s/%s %v", i,
					got.Outcome, got.Credential.Verdict, got.Provenance, got.Codes(),
					want.Outcome, want.Credential.Verdict, want.Provenance, want.Codes())
			}
			if (err == nil) != (got.Outcome == verdict.Allow) {
				t.Errorf("call %d: error %v for %s", i, err, got.Outcome)
			}
		}
	}
	s.svc.take()
}

// When the engine fails, the call is refused and the handler never runs.
func TestFailClosed(t *testing.T) {
	s := newService(t, provosttest.Options{}, nil)
	tok := s.MustToken("svc:ok", nil)
	if _, err := s.call(t, false, "authorization", "Bearer "+tok); err != nil {
		t.Fatalf("before the failure: %v", err)
	}
	s.svc.take()
	s.app.Close()
	for _, streaming := range []bool{false, true} {
		_, err := s.call(t, streaming, "authorization", "Bearer "+tok)
		if err == nil || len(s.svc.take()) != 0 {
			t.Fatalf("failed engine (streaming %v): %v", streaming, err)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatal("the status carries the credential")
		}
	}
}

func TestDecisionFromOutside(t *testing.T) {
	if d, ok := grpcmw.DecisionFrom(context.Background()); ok || d != nil {
		t.Fatal("a decision outside the interceptors")
	}
	if r := grpcmw.FromIncoming(context.Background(), "/a.B/C"); r.Peer.IsValid() || r.Authorization != "" || r.Target != "/a.B/C" {
		t.Fatalf("request value without a call: %+v", r)
	}
}
