package provost_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/checkreq"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/extauthz"
	"github.com/provost-dev/provost/internal/load"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/proxy"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/middleware"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// The loopback addresses stand for hosts: the clients of the proxy and the
// middleware really connect from them (Linux accepts any 127/8 source).
const (
	trustedProxy = "127.0.0.1"  // nginx in front of forward-auth
	buildHost    = "127.0.0.20" // the approved network
	elsewhere    = "127.0.0.66" // anywhere else
	apiOrigin    = "https://api.transports.test"
)

const transportBindings = `version: 1
mode: enforce
networks:
  build-hosts: [127.0.0.20/32]
bindings:
  - name: deploy
    match: {subject: "ci:deploy"}
    require: {networks: [build-hosts]}
  - name: export
    match: {subject: "svc:export"}
    require: {networks: [build-hosts]}
    require_evidence: [posture]
  - name: tools
    match: {subject: "agent:tools"}
    require: {possession: dpop}
`

// transportCase is one request as its client sends it, and what the engine
// is expected to decide about it.
type transportCase struct {
	name           string
	method, target string
	sub            string        // token subject; "" sends no token (or auth)
	ttl            time.Duration // token lifetime, 0 = an hour
	auth           string        // a fixed Authorization instead of a token
	dpop           bool          // a DPoP-bound token with a fresh proof
	posture        bool          // a Provost-Posture attestation
	from           string        // the client's address
	typedXFF       string        // an X-Forwarded-For the client typed itself
	// The reference decision must be this, with this code among its
	// reasons and this answer status.
	want   decision.Outcome
	code   reason.Code
	status int
}

var transportCases = []transportCase{
	{name: "approved network", method: "POST", target: "/v1/deploy?env=prod", sub: "ci:deploy", from: buildHost,
		want: verdict.Allow, code: reason.ProvenanceVerified, status: http.StatusOK},
	{name: "unapproved network", method: "POST", target: "/v1/deploy", sub: "ci:deploy", from: elsewhere,
		want: verdict.Deny, code: reason.NetworkNotApproved, status: http.StatusForbidden},
	{name: "forged X-Forwarded-For", method: "POST", target: "/v1/deploy", sub: "ci:deploy", from: elsewhere, typedXFF: buildHost,
		want: verdict.Deny, code: reason.NetworkNotApproved, status: http.StatusForbidden},
	{name: "evidence missing", method: "GET", target: "/v1/export", sub: "svc:export", from: buildHost,
		want: verdict.StepUp, code: reason.EvidenceMissing, status: http.StatusUnauthorized},
	{name: "evidence present", method: "GET", target: "/v1/export", sub: "svc:export", posture: true, from: buildHost,
		want: verdict.Allow, code: reason.ProvenanceVerified, status: http.StatusOK},
	{name: "DPoP proof", method: "PUT", target: "/v1/tools/run", sub: "agent:tools", dpop: true, from: elsewhere,
		want: verdict.Allow, code: reason.ProvenanceVerified, status: http.StatusOK},
	{name: "expired token", method: "POST", target: "/v1/deploy", sub: "ci:deploy", ttl: -time.Hour, from: buildHost,
		want: verdict.Deny, code: reason.Expired, status: http.StatusUnauthorized},
	{name: "no credential", method: "GET", target: "/v1/deploy", from: buildHost,
		want: verdict.Deny, code: reason.TokenMissing, status: http.StatusUnauthorized},
	{name: "garbage token", method: "GET", target: "/v1/deploy", auth: "Bearer aaa.bbb.ccc", from: buildHost,
		want: verdict.Deny, code: reason.JWSBase64, status: http.StatusUnauthorized},
	{name: "shadow automation", method: "GET", target: "/v1/things", sub: "svc:nightly-cron", from: buildHost,
		want: verdict.Deny, code: reason.ShadowAutomation, status: http.StatusForbidden},
}

// seen is what a transport answered, reduced to what every transport
// carries: the decision, both verdicts, the reason codes (sorted, joined)
// and the HTTP status it answers (or has Envoy answer).
type seen struct {
	Decision, Credential, Provenance, Reasons string
	Status                                    int
}

func verdictOf(d *provost.Decision) seen {
	codes := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		codes = append(codes, string(r.Code))
	}
	return seen{Decision: string(d.Outcome), Credential: string(d.Credential.Verdict),
		Provenance: string(d.Provenance), Reasons: sortedCodes(codes), Status: answer.Status(d)}
}

func sortedCodes(codes []string) string {
	slices.Sort(codes)
	return strings.Join(codes, ",")
}

// sent is one request with its credential, as the client sends it.
type sent struct {
	transportCase
	authorization, dpopProof, posture string
}

// request is the engine's view of the request had it reached Provost
// directly: the reference every transport must agree with.
func (s *sent) request() *provost.Request {
	r := &provost.Request{Method: s.method, Target: s.target, Authorization: s.authorization, DPoP: s.dpopProof,
		Peer: netip.MustParseAddr(s.from), Posture: s.posture}
	if s.typedXFF != "" {
		r.XForwardedFor = []string{s.typedXFF}
	}
	return r
}

// mint makes the credentials of one request: a fresh token (a new jti, so
// a new fingerprint) each time, so the origin history of one request never
// affects another.
func (c transportCase) mint(t *testing.T, w *provosttest.World) *sent {
	t.Helper()
	s := &sent{transportCase: c, authorization: c.auth}
	if c.sub != "" {
		ttl, extra, scheme := c.ttl, map[string]any{}, "Bearer "
		if ttl == 0 {
			ttl = time.Hour
		}
		var key *ecdsa.PrivateKey
		if c.dpop {
			var err error
			if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				t.Fatal(err)
			}
			jkt, err := provosttest.JKT(key)
			if err != nil {
				t.Fatal(err)
			}
			extra["cnf"], scheme = map[string]any{"jkt": jkt}, "DPoP "
		}
		tok, err := w.Token(c.sub, ttl, extra)
		if err != nil {
			t.Fatal(err)
		}
		s.authorization = scheme + tok
		if key != nil {
			if s.dpopProof, err = w.DPoPProof(key, c.method, c.target, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.posture {
		_, tok, _ := strings.Cut(s.authorization, " ") // bound to the credential it is sent with
		var err error
		if s.posture, err = w.Posture("build-7", "hardened", tok); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// transport sends one request through one transport and reads its answer.
type transport struct {
	name string
	send func(ctx context.Context, s *sent) (seen, error)
}

// transportRig is the engine behind all five transports, on loopback, and
// a reference engine with the same configuration and its own data.
type transportRig struct {
	world *provosttest.World
	ref   *provost.Engine
	// Where each transport listens.
	api, proxy, mw string
	authz          authv3.AuthorizationClient
	// reached counts the requests the proxy's upstream and the
	// middleware's handler received.
	reached atomic.Int64
}

func TestTransportsAgreeWithEngine(t *testing.T) {
	rig := startTransports(t)
	for _, c := range transportCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range rig.transports() {
				s := c.mint(t, rig.world)
				ref, err := rig.ref.Check(t.Context(), s.request())
				if err != nil {
					t.Fatalf("reference engine: %v", err)
				}
				want := verdictOf(ref)
				if want.Decision != string(c.want) || want.Status != c.status || !slices.Contains(ref.Codes(), c.code) {
					t.Fatalf("the reference decided %+v; the case expects %s, %d, with %s", want, c.want, c.status, c.code)
				}
				got, err := tr.send(t.Context(), s)
				if err != nil {
					t.Errorf("%s: %v", tr.name, err)
					continue
				}
				if got != want {
					t.Errorf("%s disagrees with Engine.Check on %s %s from %s (typed X-Forwarded-For %q):\n got %+v\nwant %+v",
						tr.name, c.method, c.target, c.from, c.typedXFF, got, want)
				}
			}
		})
	}
}

func (rig *transportRig) transports() []transport {
	return []transport{
		{"check API", rig.viaCheckAPI},
		{"forward-auth", rig.viaForwardAuth},
		{"ext_authz", rig.viaExtAuthz},
		{"proxy", rig.viaProxy},
		{"middleware", rig.viaMiddleware},
	}
}

// startTransports generates the deployment and serves one engine through
// every transport on 127.0.0.1 listeners.
func startTransports(t *testing.T) *transportRig {
	t.Helper()
	w, err := provosttest.NewWorld(t.TempDir(), apiOrigin, []string{trustedProxy}, transportBindings)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, w, "")
	eng := a.Engine
	rig := &transportRig{world: w, ref: newApp(t, w, t.TempDir()).Engine}

	// The check API and forward-auth.
	apiLn := listen(t)
	rig.api = "http://" + apiLn.Addr().String()
	done := make(chan error, 1)
	go func() { done <- server.New(server.ForApp(a), config.Serve{}, nil).Serve(t.Context(), apiLn) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})

	// Envoy ext_authz.
	g := grpc.NewServer()
	extauthz.New(eng, nil).Register(g)
	grpcLn := listen(t)
	go g.Serve(grpcLn)
	t.Cleanup(g.Stop)
	conn, err := load.DialLoopback(grpcLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rig.authz = authv3.NewAuthorizationClient(conn)

	// The reverse proxy in front of an upstream that echoes the identity
	// headers it received.
	upstream := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.reached.Add(1)
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Provost-") {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	prx, err := proxy.New(eng, config.Proxy{Upstream: upstream}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prx.Close)
	rig.proxy = serveHTTP(t, prx)

	// The Go middleware around a handler that answers with the decision
	// it was given.
	rig.mw = serveHTTP(t, middleware.New(eng)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.reached.Add(1)
		d, ok := middleware.DecisionFrom(r.Context())
		if !ok {
			http.Error(w, "no decision in the request context", http.StatusInternalServerError)
			return
		}
		answer.Headers(w.Header(), d)
		w.WriteHeader(http.StatusOK)
	})))
	return rig
}

// newApp builds Provost from w's configuration; dataDir "" keeps the
// configured one.
func newApp(t *testing.T, w *provosttest.World, dataDir string) *app.App {
	t.Helper()
	a, err := app.Open(t.Context(), app.Options{ConfigFile: w.ConfigFile(), DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveHTTP serves h on a loopback listener and returns its URL.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln := listen(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// clientFrom is an HTTP client whose connections come from the loopback
// address from.
func clientFrom(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// viaCheckAPI describes the request to POST /v1/check. The API answers
// 200 with the decision in the body; the status compared is the one that
// decision renders to.
func (rig *transportRig) viaCheckAPI(ctx context.Context, s *sent) (seen, error) {
	resp, err := rig.postCheck(ctx, s)
	if err != nil {
		return seen{}, err
	}
	defer resp.Body.Close()
	return checkAnswerSeen(resp)
}

// postCheck sends s's description to the check API from the trusted proxy.
func (rig *transportRig) postCheck(ctx context.Context, s *sent) (*http.Response, error) {
	doc := checkreq.Request{Method: s.method, Target: s.target, Authorization: s.authorization, DPoP: s.dpopProof,
		Peer: s.from, Posture: s.posture}
	if s.typedXFF != "" {
		doc.XForwardedFor = []string{s.typedXFF}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rig.api+server.PathCheck, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return clientFrom(trustedProxy).Do(req)
}

// checkAnswerSeen reads a check API answer: the decision in its body.
func checkAnswerSeen(resp *http.Response) (seen, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return seen{}, fmt.Errorf("answered %s (%v): %s", resp.Status, err, data)
	}
	var d provost.Decision
	if err := json.Unmarshal(data, &d); err != nil {
		return seen{}, fmt.Errorf("decoding the answer: %w", err)
	}
	return verdictOf(&d), nil
}

// viaForwardAuth asks /v1/forward-auth as nginx's auth_request does: from
// the trusted proxy, with the client's headers, the original method and
// URI, and X-Forwarded-For as `$proxy_add_x_forwarded_for` makes it (what
// the client typed, then the client's real address).
func (rig *transportRig) viaForwardAuth(ctx context.Context, s *sent) (seen, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rig.api+server.PathForwardAuth, nil)
	if err != nil {
		return seen{}, err
	}
	clientHeaders(req.Header, s)
	req.Header.Set(server.HeaderOriginalMethod, s.method)
	req.Header.Set(server.HeaderOriginalURI, s.target)
	req.Header.Set("X-Forwarded-For", appendXFF(s.typedXFF, s.from))
	return sendHTTP(clientFrom(trustedProxy), req)
}

// viaProxy sends the request itself through the reverse proxy, from the
// client's address.
func (rig *transportRig) viaProxy(ctx context.Context, s *sent) (seen, error) {
	return rig.direct(ctx, rig.proxy, s)
}

// viaMiddleware sends the request itself to the service behind the
// middleware, from the client's address.
func (rig *transportRig) viaMiddleware(ctx context.Context, s *sent) (seen, error) {
	return rig.direct(ctx, rig.mw, s)
}

func (rig *transportRig) direct(ctx context.Context, base string, s *sent) (seen, error) {
	req, err := http.NewRequestWithContext(ctx, s.method, base+s.target, nil)
	if err != nil {
		return seen{}, err
	}
	clientHeaders(req.Header, s)
	if s.typedXFF != "" {
		req.Header.Set("X-Forwarded-For", s.typedXFF)
	}
	return sendHTTP(clientFrom(s.from), req)
}

// clientHeaders sets the headers the client sends with its request.
func clientHeaders(h http.Header, s *sent) {
	for k, v := range map[string]string{"Authorization": s.authorization, "DPoP": s.dpopProof, provost.HeaderPosture: s.posture} {
		if v != "" {
			h.Set(k, v)
		}
	}
}

// appendXFF is X-Forwarded-For with addr appended, as a proxy adds it.
func appendXFF(xff, addr string) string {
	if xff == "" {
		return addr
	}
	return xff + ", " + addr
}

// sendHTTP sends req and reads the verdict from the X-Provost-* headers of
// the answer.
func sendHTTP(c *http.Client, req *http.Request) (seen, error) {
	resp, err := c.Do(req)
	if err != nil {
		return seen{}, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return seen{}, err
	}
	h := resp.Header
	v := seen{Decision: h.Get(answer.HeaderDecision), Credential: h.Get(answer.HeaderCredential),
		Provenance: h.Get(answer.HeaderProvenance), Status: resp.StatusCode}
	if r := h.Get(answer.HeaderReasons); r != "" {
		v.Reasons = sortedCodes(strings.Split(r, ","))
	}
	return v, nil
}

// viaExtAuthz calls Authorization/Check with the CheckRequest Envoy sends
// for the request: the downstream socket address as the source, and the
// method, path and headers (lower case, pseudo-headers included, and
// X-Forwarded-For with the client's address appended, as Envoy's
// use_remote_address does). The verdict comes from the dynamic metadata
// and the status from the HTTP answer Envoy is told to give; the gRPC
// status must be OK exactly when that answer is the 200 of an
// OkHttpResponse.
func (rig *transportRig) viaExtAuthz(ctx context.Context, s *sent) (seen, error) {
	host := strings.TrimPrefix(apiOrigin, "https://")
	headers := map[string]string{":method": s.method, ":path": s.target, ":authority": host, ":scheme": "https",
		"x-forwarded-for": appendXFF(s.typedXFF, s.from), "x-request-id": rand.Text()}
	for k, v := range map[string]string{"authorization": s.authorization, "dpop": s.dpopProof, "provost-posture": s.posture} {
		if v != "" {
			headers[k] = v
		}
	}
	resp, err := rig.authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddr(s.from, 51234)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddr("127.0.0.2", 443)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: headers["x-request-id"], Method: s.method, Path: s.target, Host: host, Scheme: "https",
			Protocol: "HTTP/1.1", Headers: headers,
		}},
	}})
	if err != nil {
		return seen{}, err
	}
	md := resp.GetDynamicMetadata().GetFields()
	v := seen{Decision: md["decision"].GetStringValue(), Credential: md["credential"].GetStringValue(),
		Provenance: md["provenance"].GetStringValue()}
	if r := md["reasons"].GetStringValue(); r != "" {
		v.Reasons = sortedCodes(strings.Split(r, ","))
	}
	switch hr := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		v.Status = http.StatusOK
	case *authv3.CheckResponse_DeniedResponse:
		v.Status = int(hr.DeniedResponse.GetStatus().GetCode())
	default:
		return v, fmt.Errorf("CheckResponse without an HTTP response: %v", resp)
	}
	if ok := codes.Code(resp.GetStatus().GetCode()) == codes.OK; ok != (v.Status == http.StatusOK) {
		return v, fmt.Errorf("gRPC status %v with an HTTP answer %d", codes.Code(resp.GetStatus().GetCode()), v.Status)
	}
	return v, nil
}

func socketAddr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
}
