package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
)

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
	wOrigin   = "https://api.acme.test"
	agentPath = "/agents/bot"
	agentID   = "spiffe://acme.test" + agentPath
)

const worldBindings = `version: 1
mode: enforce
networks:
  datacenter: [10.40.0.0/16]
  partners: [192.0.2.0/24]
detectors:
  concurrent_window: 5m
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [datacenter]
  - name: vendor-sync
    match: {subject: "vendor:sync"}
    require:
      networks: [partners]
    on_violation: step_up
  - name: agent
    match: {subject: "agent:bot"}
    require:
      workloads: ["` + agentID + `"]
  - name: export
    match: {subject: "svc:export"}
    require:
      possession: dpop
`

// fixture is the shared test world (internal/provosttest) as the server
// tests use it: Provost opened over it on the world's clock, and the log
// the servers it starts write.
type fixture struct {
	*provosttest.T
	t    testing.TB
	app  *app.App
	logs *syncBuffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	w := provosttest.New(t, provosttest.Options{
		Issuer: wIssuer, Audience: wAudience, Origin: wOrigin, TrustDomain: "acme.test",
		Proxies: []string{"127.0.0.1/32"}, Bindings: worldBindings,
		Config: "dpop:\n  nonces: true\n",
	})
	return &fixture{T: w, t: t, app: w.App(""), logs: &syncBuffer{}}
}

func (w *fixture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// xfcc is the x-forwarded-client-cert value Envoy sends for an SVID
// issued for path. (Not provosttest.XFCC: that one query-escapes the PEM,
// turning its spaces into "+", which Envoy does not and the parser, rightly,
// does not undo.)
func (w *fixture) xfcc(path string) string {
	cert, _ := w.MustSVID(path)
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return `By=spiffe://acme.test/envoy;Cert="` + url.PathEscape(string(p)) + `";URI=` + cert.URIs[0].String()
}

// serverTLS issues the server a certificate for 127.0.0.1 from the world's
// CA: it returns the PEM files and a pool that trusts it.
func (w *fixture) serverTLS() (certFile, keyFile string, roots *x509.CertPool) {
	w.t.Helper()
	certFile, keyFile = w.WriteLeaf("server", provosttest.Leaf{CommonName: "provost", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	roots = x509.NewCertPool()
	roots.AddCert(w.CA())
	return certFile, keyFile, roots
}

// running is a Server answering on a real loopback listener.
type running struct {
	srv    *Server
	url    string
	cancel context.CancelFunc
	done   chan error
}

// start serves w's app on 127.0.0.1:0 until the test ends.
func (w *fixture) start(cfg config.Serve) *running {
	w.t.Helper()
	ln := mustListen(w.t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: New(ForApp(w.app), cfg, w.logger()), url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	if cfg.TLS.Cert != "" {
		r.url = "https://" + ln.Addr().String()
	}
	go func() { r.done <- r.srv.Serve(ctx, ln) }()
	w.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop cancels the server's context and returns what Serve returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
		return nil
	}
}

// clientFrom is an HTTP client whose connections come from the local
// address ip (any 127.0.0.0/8 address works on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(b.String())))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("log is not JSON lines: %v", err)
			}
			return out
		}
		out = append(out, m)
	}
}

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
