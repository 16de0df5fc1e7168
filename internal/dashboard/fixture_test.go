package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Identities of the fixture's client certificates.
const (
	adminID    = "spiffe://demo.provost.test/ops/admin"
	readonlyCN = "auditor"
	strangerCN = "stranger"
)

// testBindings approve each kind of traffic the dashboard shows.
const testBindings = `version: 1
mode: enforce
networks:
  datacenter: [10.40.0.0/16]
  build-hosts: [10.50.0.20/32]
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require: {networks: [datacenter]}
  - name: ci-deploy
    match: {subject: "ci:deploy"}
    require: {networks: [build-hosts]}
    on_violation: revoke
  - name: canary
    match: {subject: "svc:canary"}
    honeytoken: true
  - name: trial
    mode: monitor
    match: {subject: "svc:trial"}
    require: {networks: [datacenter]}
  - name: newcomer
    mode: learn
    match: {subject: "svc:newcomer"}
`

// syncBuffer is a log sink goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a Provost over a generated world, with the dashboard served on
// the serve listener (TLS, client certificates requested) as `provost
// serve` mounts it.
type env struct {
	t        *testing.T
	w        *provosttest.T
	a        *app.App
	d        *Dashboard
	base     string // https://127.0.0.1:PORT
	pool     *x509.CertPool
	adminTok string
	roTok    string
	logs     *syncBuffer
	stop     context.CancelFunc
	served   chan error
}

func randomHex(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// newEnv builds the world, opens Provost on it and serves the dashboard.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, adminTok: "adm_" + randomHex(t), roTok: "ro_" + randomHex(t), logs: &syncBuffer{}}
	cfg := fmt.Sprintf(`admin:
  tls: {cert: server.crt, key: server.key}
  client_ca: ca.pem
  allowed_clients: [%q]
  readonly_clients: [%q]
  token_sha256: %s
  readonly_token_sha256: %s
serve:
  tls: {cert: server.crt, key: server.key, client_ca: ca.pem, client_auth: request}
ui: {enabled: true}
`, adminID, readonlyCN, sum(e.adminTok), sum(e.roTok))
	e.w = provosttest.New(t, provosttest.Options{Bindings: testBindings, Config: cfg})
	e.w.WriteLeaf("server", provosttest.Leaf{CommonName: "provost", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	e.pool = x509.NewCertPool()
	e.pool.AddCert(e.w.CA())
	e.a = e.w.App("")
	logger := telemetry.NewLogger(e.logs, slog.LevelDebug)
	d, err := New(Options{App: e.a, Logger: logger, Now: e.w.Now, Poll: 10 * time.Millisecond, IndexPeriod: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go d.Run(ctx)
	deps := server.ForApp(e.a)
	deps.UI = d.Handler()
	sc := e.a.Config.ServeConfig()
	sc.Listen = "127.0.0.1:0"
	srv := server.New(deps, sc, logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "https://" + ln.Addr().String()
	e.served = make(chan error, 1)
	go func() { e.served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-e.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// client is a browser: a cookie jar, the world's CA trusted, certs
// presented, redirects not followed (the tests look at them).
func (e *env) client(certs ...tls.Certificate) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: e.pool, Certificates: certs}}}
}

// cert is a client certificate from the world's CA (admin.client_ca).
func (e *env) cert(cn, uri string) tls.Certificate {
	return e.w.MustTLSLeaf(provosttest.Leaf{CommonName: cn, URI: uri})
}

// answer is one response, read whole.
type answer struct {
	*http.Response
	body string
}

// do sends a request; hdr are extra headers as name, value pairs.
func (e *env) do(c *http.Client, method, path string, form url.Values, hdr ...string) answer {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return answer{resp, string(b)}
}

func (e *env) get(c *http.Client, path string) answer {
	e.t.Helper()
	return e.do(c, http.MethodGet, path, nil)
}

var csrfMeta = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token a page's form carries.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", clip(page, 2000))
	}
	return m[1]
}

// login signs a new browser in with tok and returns it.
func (e *env) login(tok string) *http.Client {
	e.t.Helper()
	c := e.client()
	page := e.get(c, PathLogin)
	a := e.do(c, http.MethodPost, PathLogin, url.Values{"csrf": {csrfOf(e.t, page.body)}, "token": {tok}, "next": {"/ui/"}},
		"Origin", e.base, "Sec-Fetch-Site", "same-origin")
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/" {
		e.t.Fatalf("login: %d %s, want 303 to /ui/\n%s", a.StatusCode, a.Header.Get("Location"), clip(a.body, 1000))
	}
	return c
}

// token is a fresh bearer token for sub.
func (e *env) token(sub string) string { return e.w.MustToken(sub, nil) }

// check judges a request bearing tok from peer and returns the decision.
func (e *env) check(tok, peer string) *provost.Decision {
	e.t.Helper()
	d, err := e.a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/reports/q3",
		Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(peer)})
	if err != nil {
		e.t.Fatalf("Check: %v", err)
	}
	return d
}

// played are the raw credentials the scenario used and what they became.
type played struct {
	reports, ci, canary, shadow, trial, newcomer, opaque string
	reportsFP, ciFP                                      string
	copiedIndex, revokedIndex                            int64
}

// play makes decisions of every kind the dashboard shows, moving the
// world's clock between them, and waits for the feed and the index.
func (e *env) play() played {
	e.t.Helper()
	p := played{reports: e.token("svc:reports"), ci: e.token("ci:deploy"), canary: e.token("svc:canary"),
		shadow: e.token("svc:unknown"), trial: e.token("svc:trial"), newcomer: e.token("svc:newcomer"),
		opaque: "opq_" + randomHex(e.t)}
	step := func(tok, peer, want string) *provost.Decision {
		e.t.Helper()
		e.w.Clock.Advance(30 * time.Second)
		d := e.check(tok, peer)
		if string(d.Outcome) != want {
			e.t.Fatalf("decision from %s: %s %v, want %s", peer, d.Outcome, d.Codes(), want)
		}
		return d
	}
	d := step(p.reports, "10.40.0.5", "allow")
	p.reportsFP = d.Credential.Fingerprint
	d = step(p.reports, "10.40.1.7", "deny") // another /24 at once: copied
	p.copiedIndex = d.Evidence.Index
	step(p.reports, "203.0.113.9", "deny")
	d = step(p.ci, "10.50.0.20", "allow")
	p.ciFP = d.Credential.Fingerprint
	d = step(p.ci, "10.50.0.66", "deny") // on_violation: revoke
	p.revokedIndex = d.Evidence.Index
	step(p.ci, "10.50.0.20", "deny") // revoked
	step(p.canary, "10.40.0.9", "deny")
	step(p.shadow, "10.40.0.9", "deny")
	step(p.trial, "203.0.113.20", "allow") // monitor: enforce would deny
	step(p.newcomer, "10.60.0.1", "allow")
	step(p.opaque, "10.40.0.5", "deny")
	e.settle()
	return p
}

// settle waits until the feed and the index have read the whole log.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		fs, is := e.d.feed.status(), e.d.index.status()
		if fs.Read == e.a.Evidence.Size() && !is.Behind() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("the dashboard did not catch up with the log: feed %+v, index %+v", e.d.feed.status(), e.d.index.status())
}

// dataDir is the world's data directory.
func (e *env) dataDir() string { return filepath.Join(e.w.Dir, "data") }

var _ = config.UIListenerServe
