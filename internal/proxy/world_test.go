package proxy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
)

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
)

// proxyBindings are the bindings the proxies judge with.
const proxyBindings = `version: 1
mode: enforce
bindings:
  - name: payments
    match: {subject: "svc:payments"}
    require:
      workloads: ["spiffe://acme.test/payments/*"]
    on_violation: deny
  - name: helpdesk
    match: {subject: "integration:helpdesk"}
    require: {}
  - name: reports
    match: {subject: "svc:reports"}
    require: {}
`

// judgeBindings are the bindings of the Provost behind the proxies.
const judgeBindings = `version: 1
mode: enforce
bindings:
  - name: helpdesk-via-proxies
    match: {subject: "integration:helpdesk"}
    require:
      proxy_chain: [edge, gw]
    on_violation: deny
`

// fixture is the shared test world (internal/provosttest) as the proxy
// tests use it: hop keys for edge and gw, and a server certificate for
// 127.0.0.1 from the world's CA that the proxies terminate TLS with.
type fixture struct {
	*provosttest.T
	t      testing.TB
	srvCrt string // PEM files of the proxies' server certificate
	srvKey string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	w := provosttest.New(t, provosttest.Options{Issuer: wIssuer, Audience: wAudience, Origin: wAudience,
		TrustDomain: "acme.test", Bindings: proxyBindings, Hops: []string{"edge", "gw"},
		// gw signs with P-256 (ES256), edge with Ed25519: both key types
		// are loaded by the proxy and verified through one chain.
		P256Hops: []string{"gw"}})
	// The proxies sign hop attestations on the real clock, so the world's
	// credentials and engines run on it too.
	w.Now = time.Now
	f := &fixture{T: w, t: t}
	f.serverCert()
	return f
}

// engine opens Provost over the world with its own data directory, judging
// with bindings.
func (w *fixture) engine(name, bindings string) *provost.Engine {
	w.t.Helper()
	w.Write("bindings.yaml", bindings)
	return w.App(name + "-data").Engine
}

// settings is a proxy configuration in front of upstream, terminating TLS
// with the world's server certificate; hopName "" makes no hop.
func (w *fixture) settings(upstream, hopName, clientAuth string) config.Proxy {
	w.t.Helper()
	c := config.Proxy{
		Listen:   "127.0.0.1:0",
		Upstream: upstream,
		TLS:      config.ProxyTLS{Cert: w.srvCrt, Key: w.srvKey, ClientAuth: clientAuth},
	}
	if hopName != "" {
		c.Hop = config.ProxyHop{Name: hopName, Key: w.MustHopKeyFile(hopName)}
	}
	return c
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProxy runs a proxy for cfg on a loopback port and returns its URL.
func (w *fixture) startProxy(eng *provost.Engine, cfg config.Proxy, logs io.Writer) string {
	w.t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	p, err := New(eng, cfg, logger)
	if err != nil {
		w.t.Fatal(err)
	}
	srv, err := NewServer(cfg, p, logger)
	if err != nil {
		w.t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			w.t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			w.t.Errorf("serve: %v", err)
		}
		p.Close()
	})
	scheme := "http"
	if srv.TLS() {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String()
}

// upstream is a real HTTP server that records what reached it.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	calls []*http.Request
	judge func(*http.Request) // optional: runs on every request
}

func newUpstream(t testing.TB, judge func(*http.Request)) *upstream {
	u := &upstream{judge: judge}
	u.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if u.judge != nil {
			u.judge(r)
		}
		u.mu.Lock()
		u.calls = append(u.calls, r.Clone(context.Background()))
		u.mu.Unlock()
		rw.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(rw, "hello from upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.calls) == 0 {
		return nil
	}
	return u.calls[len(u.calls)-1]
}

// client is an HTTPS client trusting the proxies' certificate, presenting
// the SVID chain when given. maxVersion 0 means the default.
func (w *fixture) client(svid []*x509.Certificate, key crypto.Signer, maxVersion uint16) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(w.CA())
	cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
	if maxVersion != 0 && maxVersion < tls.VersionTLS12 {
		cfg.MinVersion = maxVersion
	}
	if svid != nil {
		raw := make([][]byte, len(svid))
		for i, c := range svid {
			raw[i] = c.Raw
		}
		cfg.Certificates = []tls.Certificate{{Certificate: raw, PrivateKey: key, Leaf: svid[0]}}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	w.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// svidClient presents an SVID the world issues for path.
func (w *fixture) svidClient(path string) *http.Client {
	cert, key := w.MustSVID(path)
	return w.client([]*x509.Certificate{cert}, key, 0)
}

// serverCert issues the proxies' certificate for 127.0.0.1 (again).
func (w *fixture) serverCert() {
	w.t.Helper()
	w.srvCrt, w.srvKey = w.WriteLeaf("tls", provosttest.Leaf{CommonName: "provost proxy test", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
}

func get(t testing.TB, c *http.Client, url, token string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}
