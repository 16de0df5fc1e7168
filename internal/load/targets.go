package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// HTTPPost returns an Op that POSTs body to url with keep-alive
// connections, one per worker, and requires the status want.
func HTTPPost(url string, body []byte, contentType string, concurrency, want int) Op {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: time.Minute,
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		return err
	}
}

// ExtAuthz returns an Op that calls Envoy's Authorization/Check on conn
// with req and requires the gRPC status code want in the answer.
func ExtAuthz(conn *grpc.ClientConn, req *authv3.CheckRequest, want code.Code) Op {
	client := authv3.NewAuthorizationClient(conn)
	return func(ctx context.Context) error {
		resp, err := client.Check(ctx, req)
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

// BareHTTP starts the baseline: a plain net/http server on loopback that
// reads the body and answers a small JSON document, nothing else.
func BareHTTP() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"decision":"allow"}`)
	})}
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

// BareGRPC starts the baseline: a plain grpc-go server on loopback with an
// Authorization service that allows everything.
func BareGRPC() (addr string, stop func(), err error) {
	return ServeGRPC(func(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, bareAuthz{}) })
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
