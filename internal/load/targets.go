package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The targets `provost bench` measures.
const (
	TargetCheckAPI    = "check-api"    // Provost's POST /v1/check
	TargetForwardAuth = "forward-auth" // Provost's GET /v1/forward-auth, as nginx auth_request calls it
	TargetExtAuthz    = "ext-authz"    // Provost's Envoy ext_authz gRPC Check
	TargetBareHTTP    = "bare-http"    // baseline: net/http reading the body and answering a constant
	TargetBareGRPC    = "bare-grpc"    // baseline: grpc-go ext_authz Check answering OK
)

// Targets are every target, in their default order.
var Targets = []string{TargetCheckAPI, TargetForwardAuth, TargetExtAuthz, TargetBareHTTP, TargetBareGRPC}

// Baseline is the baseline a target is compared with: bare-http for the
// check API and forward-auth, bare-grpc for ext_authz, "" for a baseline.
func Baseline(target string) string {
	switch target {
	case TargetCheckAPI, TargetForwardAuth:
		return TargetBareHTTP
	case TargetExtAuthz:
		return TargetBareGRPC
	}
	return ""
}

// provostTarget reports whether target is one of Provost's servers (which
// need a configuration and a data directory).
func provostTarget(target string) bool { return Baseline(target) != "" }

func known(target string) bool {
	for _, t := range Targets {
		if t == target {
			return true
		}
	}
	return false
}

// HTTPRequest is one prepared HTTP request. Its Header is shared by every
// send and must not be changed once an Op uses it.
type HTTPRequest struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// NewHTTPClient is a keep-alive client with one idle connection per
// worker, for HTTP.
func NewHTTPClient(concurrency int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: time.Minute,
		DisableCompression: true,
	}}
}

// HTTP returns an Op that sends reqs in turn (one after the other across
// all workers, so every request is sent as often as the others) with
// client, and requires the status want and, when want is not empty, the
// bytes wantBody within the first 64 bytes of the answer.
func HTTP(client *http.Client, reqs []HTTPRequest, want int, wantBody []byte) Op {
	var next atomic.Uint64
	return func(ctx context.Context) error {
		r := &reqs[(next.Add(1)-1)%uint64(len(reqs))]
		var body io.Reader
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
		if err != nil {
			return err
		}
		req.Header = r.Header
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		var head [64]byte
		n, _ := io.ReadFull(resp.Body, head[:])
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: status %d, want %d", r.Method, req.URL.Path, resp.StatusCode, want)
		}
		if len(wantBody) > 0 && !bytes.Contains(head[:n], wantBody) {
			return fmt.Errorf("%s %s: the answer does not start with %s: %q", r.Method, req.URL.Path, wantBody, head[:n])
		}
		return err
	}
}

// ExtAuthz returns an Op that calls Envoy's Authorization/Check on conn
// with reqs in turn and requires the gRPC status code want in the answer.
func ExtAuthz(conn *grpc.ClientConn, reqs []*authv3.CheckRequest, want code.Code) Op {
	client := authv3.NewAuthorizationClient(conn)
	var next atomic.Uint64
	return func(ctx context.Context) error {
		resp, err := client.Check(ctx, reqs[(next.Add(1)-1)%uint64(len(reqs))])
		if err != nil {
			return err
		}
		if got := code.Code(resp.GetStatus().GetCode()); got != want {
			return fmt.Errorf("ext_authz status %v, want %v", got, want)
		}
		return nil
	}
}

// DialLoopback opens a gRPC connection to a loopback address.
func DialLoopback(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// bareBody is what the bare HTTP server answers: a constant that passes
// the check-api target's check of the answer.
const bareBody = `{"decision":"allow"}`

// BareHandler is the baseline HTTP handler: it reads the body and answers
// a small constant JSON document, nothing else.
func BareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, bareBody)
	})
}

// BareHTTP starts the baseline HTTP server (BareHandler) on loopback.
func BareHTTP() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: BareHandler()}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// bareAuthz answers every Check with OK: the baseline gRPC server.
type bareAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (bareAuthz) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code.Code_OK)}}, nil
}

// RegisterBareAuthz registers the baseline Authorization service, which
// allows everything, on g.
func RegisterBareAuthz(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, bareAuthz{}) }

// BareGRPC starts the baseline: a plain grpc-go server on loopback with an
// Authorization service that allows everything.
func BareGRPC() (addr string, stop func(), err error) {
	return ServeGRPC(RegisterBareAuthz)
}

// ServeGRPC starts a grpc-go server on loopback with the services register adds.
func ServeGRPC(register func(*grpc.Server)) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	g := grpc.NewServer()
	register(g)
	go g.Serve(ln)
	return ln.Addr().String(), g.Stop, nil
}
