package grpcmw_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/middleware/grpcmw"
	"github.com/provost-dev/provost/verdict"
)

// textAddr is a peer address as some transport prints it.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// FuzzUnaryInterceptor sends arbitrary metadata, method names and peer
// addresses through the unary interceptor over a real engine: the handler
// runs exactly when the call is allowed, every refusal is Unauthenticated or
// PermissionDenied, and no status echoes the credential.
func FuzzUnaryInterceptor(f *testing.F) {
	w := provosttest.New(f, mw(provosttest.Options{}))
	ic := grpcmw.UnaryServerInterceptor(w.App("").Engine)
	f.Add("Bearer "+w.MustToken("svc:ok", nil), "", "", "", checkMethod, "127.0.0.1:5000")
	f.Add("Bearer "+w.MustToken("svc:remote", nil), "", "10.9.1.1", "", checkMethod, "[::ffff:127.0.0.1]:1")
	f.Add("Bearer "+w.MustToken("svc:vendor", nil), "eyJ9.e30.x", "", "eyJ9.e30.x", "/", "/tmp/socket")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, authz, proof, xff, hop, method, addr string) {
		md := metadata.MD{"authorization": {authz}, "dpop": {proof}, "x-forwarded-for": {xff},
			"provost-hop": {hop}, "x-provost-subject": {"typed"}}
		ctx := metadata.NewIncomingContext(t.Context(), md)
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: textAddr(addr)})
		reached := false
		_, err := ic(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			d, ok := grpcmw.DecisionFrom(ctx)
			if !ok || d.Outcome != verdict.Allow {
				t.Fatal("the handler ran without an allow decision")
			}
			in, _ := metadata.FromIncomingContext(ctx)
			if len(in["x-provost-subject"]) != 0 {
				t.Fatal("client-typed identity metadata reached the handler")
			}
			reached = true
			return nil, nil
		})
		if (err == nil) != reached {
			t.Fatalf("error %v, handler ran %v", err, reached)
		}
		if err == nil {
			return
		}
		if c := status.Code(err); c != codes.Unauthenticated && c != codes.PermissionDenied {
			t.Fatalf("code %v", c)
		}
		if _, cred, _ := strings.Cut(authz, " "); len(cred) >= 20 && strings.Contains(err.Error(), cred) {
			t.Fatal("the status echoes the credential")
		}
	})
}

// BenchmarkUnaryInterceptor measures the allow path of the unary
// interceptor over a real engine, without the network.
func BenchmarkUnaryInterceptor(b *testing.B) {
	w := provosttest.New(b, mw(provosttest.Options{}))
	ic := grpcmw.UnaryServerInterceptor(w.App("").Engine)
	md := metadata.MD{"authorization": {"Bearer " + w.MustToken("svc:ok", nil)}}
	ctx := metadata.NewIncomingContext(context.Background(), md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ic(ctx, nil, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}
