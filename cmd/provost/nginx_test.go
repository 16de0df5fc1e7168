package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
)

// nginxBindings has one binding: the reports token may only read reports.
const nginxBindings = `version: 1
mode: enforce
bindings:
  - name: reports-read-only
    match: {subject: "svc:reports"}
    require:
      rule: 'signals.request.method == "GET" && signals.request.target.startsWith("/v1/reports")'
`

// TestNginxForwardAuth runs the nginx recipe of docs/nginx.md — the server
// block itself, with only ports, certificate paths and upstream addresses
// changed — in a real nginx, in front of a real `provost serve` and a small
// application that records what reaches it. A client that types the
// headers Provost reads (X-Forwarded-Method/-Uri, X-Original-Method/-URI,
// Forwarded, Client-Cert, ...) must not change what Provost judges, and a
// target nginx normalises (/v1/reports/../admin/users) must not pass as the
// target the rule allows. If the recipe loses a line that blanks a
// client's header, this test fails.
func TestNginxForwardAuth(t *testing.T) {
	nginx := findNginx(t)
	dir := t.TempDir()
	w, err := provosttest.NewWorld(dir, "https://api.example.com", []string{"127.0.0.1/32"}, nginxBindings)
	if err != nil {
		t.Fatal(err)
	}
	// serve.forward_auth.headers is left at its default, nginx: the
	// X-Original-* pair the recipe sets. trust.forwarded_header auto makes
	// Provost read a Forwarded header when there is one: the recipe must
	// not let the client's through.
	cfg, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("\ntrust:\n"), []byte("\ntrust:\n  forwarded_header: auto\n"), 1)
	if !bytes.Contains(cfg, []byte("forwarded_header: auto")) {
		t.Fatalf("no trust section in %s:\n%s", w.ConfigFile(), cfg)
	}
	if err := os.WriteFile(w.ConfigFile(), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	provostAddr, _ := serveCLI(t, "--config", w.ConfigFile())
	// nginx reaches Provost through a tap on loopback that records each
	// forward-auth call's headers and passes it on unchanged; Provost's
	// peer is 127.0.0.1 either way.
	tap := newTap(t, provostAddr)
	app := newRecordingApp(t)
	nx := startNginx(t, nginx, dir, tap.addr, app.addr, w)
	ev := &evidenceTail{base: "http://" + provostAddr}
	ev.read(t) // start from the log's end

	tok, err := w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + tok

	// fresh starts a subtest with nothing left over from an earlier one.
	fresh := func(t *testing.T) {
		t.Helper()
		ev.read(t)
		tap.take()
		app.take()
	}
	// One decision per request, naming the request nginx received.
	wantRecord := func(t *testing.T, method, path, decision string) nginxRecord {
		t.Helper()
		recs := ev.read(t)
		if len(recs) != 1 {
			t.Fatalf("%d new evidence records, want 1: %+v", len(recs), recs)
		}
		r := recs[0]
		if r.Request.Method != method || r.Request.Path != path || r.Decision != decision {
			t.Errorf("evidence names %s %s (%s), want %s %s (%s)", r.Request.Method, r.Request.Path, r.Decision, method, path, decision)
		}
		return r
	}

	// (a) Traefik's pair, typed by the client behind nginx: Provost must
	// judge the real DELETE (the recipe blanks the pair in /_provost).
	t.Run("client-typed X-Forwarded-Method/Uri", func(t *testing.T) {
		fresh(t)
		status, _ := nx.do(t, "DELETE", "/v1/admin/users/42", map[string]string{
			"Authorization":      bearer,
			"X-Forwarded-Method": "GET",
			"X-Forwarded-Uri":    "/v1/reports",
		})
		if status != http.StatusForbidden {
			t.Errorf("status %d, want 403", status)
		}
		tap.want(t, "DELETE", "/v1/admin/users/42")
		app.wantNothing(t)
		wantRecord(t, "DELETE", "/v1/admin/users/42", "deny")
	})

	// (b) nginx's own pair, typed by the client: nginx overwrites it.
	t.Run("client-typed X-Original-Method/URI", func(t *testing.T) {
		fresh(t)
		status, _ := nx.do(t, "DELETE", "/v1/admin/users/42", map[string]string{
			"Authorization":     bearer,
			"X-Original-Method": "GET",
			"X-Original-URI":    "/v1/reports",
		})
		if status != http.StatusForbidden {
			t.Errorf("status %d, want 403", status)
		}
		tap.want(t, "DELETE", "/v1/admin/users/42")
		app.wantNothing(t)
		wantRecord(t, "DELETE", "/v1/admin/users/42", "deny")
	})

	// (c) The control: what the binding allows is allowed and reaches the
	// application with Provost's identity headers.
	t.Run("allowed GET", func(t *testing.T) {
		fresh(t)
		status, body := nx.do(t, "GET", "/v1/reports?x=1", map[string]string{"Authorization": bearer})
		if status != http.StatusOK || body != "app\n" {
			t.Fatalf("status %d %q, want 200 from the application", status, body)
		}
		tap.want(t, "GET", "/v1/reports?x=1")
		got := app.take()
		if len(got) != 1 || got[0].method != "GET" || got[0].uri != "/v1/reports?x=1" {
			t.Fatalf("the application received %+v, want GET /v1/reports?x=1", got)
		}
		if h := got[0].header; h.Get("X-Provost-Decision") != "allow" || h.Get("X-Provost-Binding") != "reports-read-only" || h.Get("X-Provost-Subject") != "svc:reports" {
			t.Errorf("identity headers at the application: %v", h)
		}
		r := wantRecord(t, "GET", "/v1/reports", "allow")
		if r.Signals.Network.Peer != "127.0.0.1" || r.Signals.Network.Client != nginxClient {
			t.Errorf("evidence names peer %q, client %q; want nginx (127.0.0.1) and %s", r.Signals.Network.Peer, r.Signals.Network.Client, nginxClient)
		}
	})

	// Every other header Provost would believe from nginx, typed by the
	// client: none reaches Provost or the application. The SVID is real
	// (the trust bundle Provost has), so Provost would believe it as the
	// client's workload identity from a Client-Cert the recipe let through.
	t.Run("client-typed forwarding and certificate headers", func(t *testing.T) {
		fresh(t)
		svid, _, err := w.SVID("/payroll")
		if err != nil {
			t.Fatal(err)
		}
		sf := func(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }
		typed := map[string]string{
			"X-Forwarded-For":         "10.40.2.2",
			"Forwarded":               "for=10.40.2.2",
			"X-Forwarded-Host":        "evil.example",
			"X-Forwarded-Proto":       "http",
			"Client-Cert":             sf(svid.Raw),
			"Client-Cert-Chain":       sf(w.CA().Raw),
			"X-Forwarded-Client-Cert": "By=spiffe://demo.provost.test/app;URI=spiffe://demo.provost.test/payroll",
			"X-Forwarded-Method":      "GET",
			"X-Forwarded-Uri":         "/v1/reports?x=2",
			"X-Original-Method":       "GET",
			"X-Original-URI":          "/v1/reports?x=2",
			"X-Provost-Workload":      "spiffe://demo.provost.test/payroll",
		}
		for _, name := range provostIdentityHeaders {
			if _, ok := typed[name]; !ok {
				typed[name] = "typed-by-the-client"
			}
		}
		hdr := map[string]string{"Authorization": bearer}
		for k, v := range typed {
			hdr[k] = v
		}
		status, _ := nx.do(t, "GET", "/v1/reports?x=2", hdr)
		if status != http.StatusOK {
			t.Errorf("status %d, want 200", status)
		}
		tap.want(t, "GET", "/v1/reports?x=2")
		r := wantRecord(t, "GET", "/v1/reports", "allow")
		if r.Signals.Workload.Present || r.Signals.Workload.ID != "" {
			t.Errorf("Provost believed a client-typed certificate header: workload %+v, reasons %v", r.Signals.Workload, r.Reasons)
		}
		if r.Signals.Network.Client != nginxClient {
			t.Errorf("Provost resolved the client to %q, want %s", r.Signals.Network.Client, nginxClient)
		}
		got := app.take()
		if len(got) != 1 {
			t.Fatalf("the application received %d requests, want 1", len(got))
		}
		h := got[0].header
		for _, name := range []string{"Forwarded", "Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert",
			"X-Forwarded-Method", "X-Forwarded-Uri", "X-Original-Method", "X-Original-URI", "X-Provost-Workload"} {
			if v := h.Values(name); len(v) > 0 {
				t.Errorf("the application received the client's %s: %q", name, v)
			}
		}
		if h.Get("X-Forwarded-Host") != "api.example.com" || h.Get("X-Forwarded-Proto") != "https" {
			t.Errorf("the application received X-Forwarded-Host %q, X-Forwarded-Proto %q; want nginx's api.example.com, https",
				h.Values("X-Forwarded-Host"), h.Values("X-Forwarded-Proto"))
		}
		for _, name := range provostIdentityHeaders {
			if v := h.Values(name); len(v) > 1 || len(v) == 1 && v[0] == typed[name] {
				t.Errorf("the application received the client's %s: %q", name, v)
			}
		}
		if h.Get("X-Provost-Decision") != "allow" || h.Get("X-Provost-Subject") != "svc:reports" {
			t.Errorf("X-Provost-Decision, -Subject at the application: %q %q", h.Values("X-Provost-Decision"), h.Values("X-Provost-Subject"))
		}
		if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || !strings.HasSuffix(xff[0], ", "+nginxClient) {
			t.Errorf("X-Forwarded-For at the application: %q, want nginx's, ending in %s", xff, nginxClient)
		}
	})

	// (d) Targets nginx normalises before routing, but passes on raw in
	// $request_uri and to the application: not the /v1/reports the rule
	// allows.
	for _, target := range []string{
		"/v1/reports/../admin/users",
		"/v1/reports/%2e%2e/admin/users",
		"/v1/reports/..%2fadmin/users",
		"/v1/reports//../../v1/admin/users",
	} {
		t.Run("dot-segments "+target, func(t *testing.T) {
			fresh(t)
			status, _ := nx.raw(t, "GET "+target+" HTTP/1.1", map[string]string{"Authorization": bearer})
			if status != http.StatusForbidden {
				t.Errorf("status %d, want 403", status)
			}
			tap.want(t, "GET", target)
			app.wantNothing(t)
			recs := ev.read(t)
			if len(recs) != 1 {
				t.Fatalf("%d new evidence records, want 1: %+v", len(recs), recs)
			}
			if r := recs[0]; r.Decision != "deny" || r.Credential.Reason != "request_target_invalid" {
				t.Errorf("evidence records %s (%s), want deny (request_target_invalid): %+v", r.Decision, r.Credential.Reason, r)
			}
		})
	}

	// (e) A client that reaches Provost directly is not a trusted proxy:
	// both pairs are ignored and the call is judged as itself.
	for _, pair := range [][2]string{{"X-Forwarded-Method", "X-Forwarded-Uri"}, {"X-Original-Method", "X-Original-URI"}} {
		t.Run("untrusted peer with "+pair[0], func(t *testing.T) {
			fresh(t)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
			req, _ := http.NewRequest("DELETE", "http://"+provostAddr+"/v1/forward-auth/v1/admin/users/42", nil)
			req.Header.Set("Authorization", bearer)
			req.Header.Set(pair[0], "GET")
			req.Header.Set(pair[1], "/v1/reports")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("forward-auth from 127.0.0.2: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d (%s), want 403", resp.StatusCode, resp.Header.Get("X-Provost-Reasons"))
			}
			r := wantRecord(t, "DELETE", "/v1/admin/users/42", "deny")
			if r.Signals.Network.Peer != "127.0.0.2" {
				t.Errorf("evidence names the peer %q, want 127.0.0.2", r.Signals.Network.Peer)
			}
		})
	}

	// The provost.yaml snippets of the doc are valid configuration.
	t.Run("provost.yaml blocks", func(t *testing.T) {
		doc := mustRead(t, "../../docs/nginx.md")
		blocks := regexp.MustCompile("(?s)```yaml\n(# provost\\.yaml\n.*?)```").FindAllStringSubmatch(doc, -1)
		if len(blocks) != 3 {
			t.Fatalf("%d provost.yaml blocks in docs/nginx.md, want 3 (nginx, Traefik, Envoy)", len(blocks))
		}
		for i, want := range []string{"nginx", "traefik", "envoy"} {
			text := blocks[i][1]
			if !strings.Contains(text, "\nversion:") {
				text = "version: 1\n" + text
			}
			cfg, err := config.Parse("docs/nginx.md", []byte(text))
			if err != nil {
				t.Errorf("%v\n%s", err, blocks[i][1])
				continue
			}
			if got := cfg.Serve.ForwardAuth.Headers; got != want {
				t.Errorf("provost.yaml block %d sets serve.forward_auth.headers %q, want %q", i+1, got, want)
			}
		}
	})
}

// findNginx returns the nginx binary, which must have the auth_request
// module. Without one the test fails on CI and is skipped elsewhere.
func findNginx(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: CI must run the nginx test (scripts/test.sh installs Debian's nginx package)", why)
		}
		t.Skipf("%s: install Debian's nginx package (sudo apt-get install nginx), or run ./scripts/test.sh as root, which does", why)
	}
	path, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				path = p
				break
			}
		}
	}
	if path == "" {
		missing("nginx is not installed")
	}
	out, _ := exec.Command(path, "-V").CombinedOutput()
	if !bytes.Contains(out, []byte("--with-http_auth_request_module")) {
		missing(path + " lacks ngx_http_auth_request_module")
	}
	return path
}

// provostIdentityHeaders are the headers the recipe copies from Provost's
// answer to the application.
var provostIdentityHeaders = []string{"X-Provost-Decision", "X-Provost-Reasons", "X-Provost-Fingerprint", "X-Provost-Subject",
	"X-Provost-Issuer", "X-Provost-Workload", "X-Provost-Binding", "X-Provost-Client"}

// nginxClient is the address the test's client connects to nginx from: not
// a trusted proxy, as a real client would not be.
const nginxClient = "127.0.0.3"

// clientDialer dials from nginxClient.
var clientDialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(nginxClient)}, Timeout: 5 * time.Second}

// nginxProc is a running nginx serving the recipe on 127.0.0.1:port.
type nginxProc struct {
	port int
	tls  *tls.Config
}

// startNginx writes the recipe of docs/nginx.md, adapted, into dir and runs
// nginx on it until the test ends.
func startNginx(t *testing.T, bin, dir, provostAddr, appAddr string, w *provosttest.World) *nginxProc {
	t.Helper()
	ngx := filepath.Join(dir, "nginx")
	if err := os.Mkdir(ngx, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := serverTLS(t, ngx, "api.example.com")
	port := freePort(t)

	doc := mustRead(t, "../../docs/nginx.md")
	blocks := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("docs/nginx.md has %d nginx blocks, want 1", len(blocks))
	}
	block := blocks[0][1]
	// Only what a test must change: addresses, ports and files.
	for _, r := range [][2]string{
		{"server 127.0.0.1:8080;", "server " + provostAddr + ";"},
		{"server 127.0.0.1:9000;", "server " + appAddr + ";"},
		{"listen 443 ssl;", "listen 127.0.0.1:" + strconv.Itoa(port) + " ssl;"},
		{"/etc/nginx/tls/api.example.com.pem", cert},
		{"/etc/nginx/tls/api.example.com.key", key},
		{"/etc/nginx/tls/spiffe-ca.pem", filepath.Join(w.Dir, "ca.pem")},
	} {
		if n := strings.Count(block, r[0]); n != 1 {
			t.Fatalf("the nginx block of docs/nginx.md has %q %d times, want once: update this test with the doc", r[0], n)
		}
		block = strings.Replace(block, r[0], r[1], 1)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 128; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

%[2]s}
`, ngx, block)
	confFile := filepath.Join(ngx, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(ngx, "error.log"))
		return string(b)
	}

	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", ngx+"/", "-c", confFile, "-e", filepath.Join(ngx, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("nginx did not stop on SIGQUIT")
		}
		if t.Failed() {
			t.Logf("nginx configuration:\n%s\nnginx error log:\n%s", conf, errorLog())
		}
	})

	p := &nginxProc{port: port, tls: &tls.Config{RootCAs: pool, ServerName: "api.example.com", MinVersion: tls.VersionTLS12}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), errorLog())
		default:
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", p.addr(), p.tls)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not answer TLS on %s: %v\n%s\n%s", p.addr(), err, out.String(), errorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *nginxProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// do sends one request through nginx over TLS and returns the status and body.
func (p *nginxProc) do(t *testing.T, method, target string, hdr map[string]string) (int, string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: p.tls, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return clientDialer.DialContext(ctx, network, p.addr())
		}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://api.example.com:"+strconv.Itoa(p.port)+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s through nginx: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// raw writes requestLine as it is (Go's client would not send every target
// a client can) and returns the status.
func (p *nginxProc) raw(t *testing.T, requestLine string, hdr map[string]string) (int, string) {
	t.Helper()
	c, err := tls.DialWithDialer(clientDialer, "tcp", p.addr(), p.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	var b strings.Builder
	b.WriteString(requestLine + "\r\nHost: api.example.com\r\nConnection: close\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", requestLine, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// serverTLS makes a CA and a server certificate for name (and 127.0.0.1)
// in dir, and returns the certificate and key files and the CA pool.
func serverTLS(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nginx test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return certFile, keyFile, pool
}

// tap is a transparent HTTP proxy in front of Provost that keeps the
// headers of each call it passes on.
type tap struct {
	addr string
	mu   sync.Mutex
	got  []http.Header
}

func newTap(t *testing.T, provostAddr string) *tap {
	tp := &tap{}
	target := &url.URL{Scheme: "http", Host: provostAddr}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		// ReverseProxy drops these before Rewrite; pass on what nginx sent.
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := pr.In.Header.Values(h); len(v) > 0 {
				pr.Out.Header[h] = v
			}
		}
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		tp.got = append(tp.got, r.Header.Clone())
		tp.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tp.addr = srv.Listener.Addr().String()
	return tp
}

// take returns and forgets the headers of the calls passed on so far.
func (tp *tap) take() []http.Header {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	got := tp.got
	tp.got = nil
	return got
}

// want checks the one forward-auth call made since the last want: it
// describes method and target with nginx's pair, and carries no header
// Provost reads that only nginx may set but nginx did not set.
func (tp *tap) want(t *testing.T, method, target string) {
	t.Helper()
	got := tp.take()
	if len(got) != 1 {
		t.Errorf("%d forward-auth calls reached Provost, want 1", len(got))
		return
	}
	h := got[0]
	if m, u := h.Values("X-Original-Method"), h.Values("X-Original-URI"); len(m) != 1 || m[0] != method || len(u) != 1 || u[0] != target {
		t.Errorf("Provost was told X-Original-Method %q, X-Original-URI %q; want %s %s", m, u, method, target)
	}
	for _, name := range []string{"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Forwarded", "Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert"} {
		if v := h.Values(name); len(v) > 0 {
			t.Errorf("Provost received the client's %s: %q", name, v)
		}
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || !strings.HasSuffix(xff[0], nginxClient) {
		t.Errorf("Provost received X-Forwarded-For %q, want nginx's, ending in %s", xff, nginxClient)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// recordingApp is the application behind nginx: it answers "app" and
// keeps what it received.
type recordingApp struct {
	addr string
	mu   sync.Mutex
	got  []appRequest
}

type appRequest struct {
	method, uri string
	header      http.Header
}

func newRecordingApp(t *testing.T) *recordingApp {
	a := &recordingApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.got = append(a.got, appRequest{r.Method, r.RequestURI, r.Header.Clone()})
		a.mu.Unlock()
		io.WriteString(w, "app\n")
	}))
	t.Cleanup(srv.Close)
	a.addr = srv.Listener.Addr().String()
	return a
}

// take returns and forgets what the application received.
func (a *recordingApp) take() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

func (a *recordingApp) wantNothing(t *testing.T) {
	t.Helper()
	for _, r := range a.take() {
		t.Errorf("the application received %s %s", r.method, r.uri)
	}
}

// nginxRecord is what the test reads of an evidence record.
type nginxRecord struct {
	Request struct {
		Method string `json:"method"`
		Path   string `json:"path"`
	} `json:"request"`
	Decision   string `json:"decision"`
	Binding    string `json:"binding"`
	Credential struct {
		Reason string `json:"reason"`
	} `json:"credential"`
	Signals struct {
		Workload struct {
			Present bool   `json:"present"`
			ID      string `json:"id"`
		} `json:"workload"`
		Network struct {
			Peer   string `json:"peer"`
			Client string `json:"client"`
		} `json:"network"`
	} `json:"signals"`
	Reasons []struct {
		Code string `json:"code"`
	} `json:"reasons"`
}

// evidenceTail reads the evidence log through Provost's own log API
// (GET /v1/log/entries), from where it last stopped.
type evidenceTail struct {
	base string
	from int64
}

// read returns the records appended since the last read.
func (e *evidenceTail) read(t *testing.T) []nginxRecord {
	t.Helper()
	var out []nginxRecord
	for {
		resp, err := http.Get(fmt.Sprintf("%s/v1/log/entries?start=%d&end=%d", e.base, e.from, e.from+1000))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return out // start is the log's size: nothing more
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/log/entries: %d %s", resp.StatusCode, body)
		}
		var page struct{ Entries [][]byte }
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) == 0 {
			return out
		}
		for _, raw := range page.Entries {
			var r nginxRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("evidence record: %v: %s", err, raw)
			}
			out = append(out, r)
		}
		e.from += int64(len(page.Entries))
	}
}
