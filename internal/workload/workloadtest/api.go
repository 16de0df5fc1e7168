package workloadtest

import (
	"crypto"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Bundle is what a fake Workload API serves for one trust domain.
type Bundle struct {
	TrustDomain string
	X509        []*x509.Certificate         // X.509 authorities (CA certificates)
	JWT         map[string]crypto.PublicKey // JWT authorities by kid
}

// APIBundle is the CA's bundle as a Workload API serves it.
func (ca *CA) APIBundle() Bundle {
	return Bundle{TrustDomain: ca.td.Name(), X509: ca.Certificates(),
		JWT: map[string]crypto.PublicKey{ca.kid: ca.jwtKey.Public()}}
}

// WorkloadAPI is a fake SPIFFE Workload API on a unix socket: it serves
// X.509 and JWT bundles on the FetchX509Bundles and FetchJWTBundles
// streams, sends every stream the new bundles when SetBundles is called,
// and can be stopped and started again on the same socket, as a SPIRE
// agent restarts. It refuses calls without the workload.spiffe.io: true
// header, as the real API does. Its other methods are unimplemented.
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	t    testing.TB
	path string

	mu      sync.Mutex
	x509    map[string][]byte // trust domain ID -> concatenated DER
	jwt     map[string][]byte // trust domain ID -> JWKS
	changed chan struct{}     // closed and replaced by SetBundles
	srv     *grpc.Server
	done    chan struct{}
}

// NewWorkloadAPI starts a fake Workload API serving bundles, in a fresh
// folder; it stops when the test ends.
func NewWorkloadAPI(t testing.TB, bundles ...Bundle) *WorkloadAPI {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 80 { // a unix socket path is at most 107 bytes
		d, err := os.MkdirTemp("", "wlapi")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	f := &WorkloadAPI{t: t, path: filepath.Join(dir, "agent.sock"), changed: make(chan struct{})}
	f.SetBundles(bundles...)
	f.Start()
	t.Cleanup(f.Stop)
	return f
}

// Addr is the address clients dial: unix:///.../agent.sock.
func (f *WorkloadAPI) Addr() string { return "unix://" + f.path }

// SetBundles replaces every bundle served and sends the new set on every
// open stream.
func (f *WorkloadAPI) SetBundles(bundles ...Bundle) {
	f.t.Helper()
	x, j := map[string][]byte{}, map[string][]byte{}
	for _, b := range bundles {
		td, err := spiffeid.TrustDomainFromString(b.TrustDomain)
		if err != nil {
			f.t.Fatalf("workloadtest: %v", err)
		}
		if len(b.X509) > 0 {
			var der []byte
			for _, c := range b.X509 {
				der = append(der, c.Raw...)
			}
			x[td.IDString()] = der
		}
		if len(b.JWT) > 0 {
			doc, err := jwtbundle.FromJWTAuthorities(td, b.JWT).Marshal()
			if err != nil {
				f.t.Fatalf("workloadtest: JWT bundle: %v", err)
			}
			j[td.IDString()] = doc
		}
	}
	f.mu.Lock()
	f.x509, f.jwt = x, j
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Start listens on the socket again after Stop.
func (f *WorkloadAPI) Start() {
	f.t.Helper()
	_ = os.Remove(f.path)
	l, err := net.Listen("unix", f.path)
	if err != nil {
		f.t.Fatalf("workloadtest: listen on %s: %v", f.path, err)
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, f)
	done := make(chan struct{})
	f.mu.Lock()
	f.srv, f.done = srv, done
	f.mu.Unlock()
	go func() { defer close(done); _ = srv.Serve(l) }()
}

// Stop closes the socket and every stream, as a SPIRE agent that goes
// away. Stopping a stopped fake does nothing.
func (f *WorkloadAPI) Stop() {
	f.mu.Lock()
	srv, done := f.srv, f.done
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Stop()
		<-done
	}
}

// FetchX509Bundles implements the Workload API.
func (f *WorkloadAPI) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	return f.serve(stream, func() error {
		f.mu.Lock()
		resp := &workload.X509BundlesResponse{Bundles: f.x509}
		f.mu.Unlock()
		return stream.Send(resp)
	})
}

// FetchJWTBundles implements the Workload API.
func (f *WorkloadAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	return f.serve(stream, func() error {
		f.mu.Lock()
		resp := &workload.JWTBundlesResponse{Bundles: f.jwt}
		f.mu.Unlock()
		return stream.Send(resp)
	})
}

// serve sends the current bundles, then again after every change, until
// the stream ends.
func (f *WorkloadAPI) serve(stream grpc.ServerStream, send func() error) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	for {
		f.mu.Lock()
		changed := f.changed
		f.mu.Unlock()
		if err := send(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return nil
		}
	}
}
