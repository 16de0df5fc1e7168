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
)

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

// nginxClient is the address the test's client connects to nginx from: not
// a trusted proxy, as a real client would not be.
const nginxClient = "127.0.0.3"

// clientDialer dials from nginxClient.
var clientDialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(nginxClient)}, Timeout: 5 * time.Second}

// nginxProc is a running nginx serving the recipe on 127.0.0.1:port.
type nginxProc struct {
	port      int
	tls       *tls.Config
	accessLog string
}

// startNginx writes the nginx.conf of docs/nginx.md into dir, with only
// addresses, ports and file paths changed, and runs nginx on it until the
// test ends. The access log is dir/nginx/access.log.
func startNginx(t *testing.T, bin, dir, provostAddr, appAddr, spiffeCA string) *nginxProc {
	t.Helper()
	ngx := filepath.Join(dir, "nginx")
	if err := os.Mkdir(ngx, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key, pool := serverTLS(t, ngx, "api.example.com")
	port := freePort(t)

	conf := nginxDocConf(t, mustRead(t, "../../docs/nginx.md"), "# /etc/nginx/nginx.conf\n")
	if !strings.HasPrefix(conf, "# /etc/nginx/nginx.conf\n") || !strings.Contains(conf, "\nevents {") || !strings.Contains(conf, "\nhttp {") {
		t.Fatalf("the nginx block of docs/nginx.md is not a whole nginx.conf (# /etc/nginx/nginx.conf, events, http):\n%s", conf)
	}
	// Only what a test must change: addresses, ports and files. The user
	// line goes: nginx runs here as the test's user, in one process.
	for _, r := range [][2]string{
		{"user www-data;\n", ""},
		{"pid /run/nginx.pid;", "pid " + filepath.Join(ngx, "nginx.pid") + ";"},
		{"error_log /var/log/nginx/error.log warn;", "error_log " + filepath.Join(ngx, "error.log") + " info;"},
		{"access_log /var/log/nginx/access.log provost;", "access_log " + filepath.Join(ngx, "access.log") + " provost;"},
		{"http {\n", fmt.Sprintf("http {\n    client_body_temp_path %[1]s/client_body;\n    proxy_temp_path %[1]s/proxy;\n"+
			"    fastcgi_temp_path %[1]s/fastcgi;\n    uwsgi_temp_path %[1]s/uwsgi;\n    scgi_temp_path %[1]s/scgi;\n", ngx)},
		{"server 127.0.0.1:8080;", "server " + provostAddr + ";"},
		{"server 127.0.0.1:9000;", "server " + appAddr + ";"},
		{"listen 443 ssl;", "listen 127.0.0.1:" + strconv.Itoa(port) + " ssl;"},
		{"/etc/nginx/tls/api.example.com.pem", cert},
		{"/etc/nginx/tls/api.example.com.key", key},
		{"/etc/nginx/tls/spiffe-ca.pem", spiffeCA},
	} {
		if n := strings.Count(conf, r[0]); n != 1 {
			t.Fatalf("the nginx.conf of docs/nginx.md has %q %d times, want once: update this test with the doc", r[0], n)
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	confFile := filepath.Join(ngx, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(ngx, "error.log"))
		return string(b)
	}

	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", ngx+"/", "-c", confFile, "-e", filepath.Join(ngx, "error.log"), "-g", "daemon off; master_process off;")
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

	p := &nginxProc{port: port, accessLog: filepath.Join(ngx, "access.log"),
		tls: &tls.Config{RootCAs: pool, ServerName: "api.example.com", MinVersion: tls.VersionTLS12}}
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

// nginxDocConf is the one ```nginx block of doc whose first line starts
// with first.
func nginxDocConf(t *testing.T, doc, first string) string {
	t.Helper()
	var found []string
	for _, m := range regexp.MustCompile("(?s)```nginx\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		if strings.HasPrefix(m[1], first) {
			found = append(found, m[1])
		}
	}
	if len(found) != 1 {
		t.Fatalf("docs/nginx.md has %d nginx blocks starting with %q, want 1", len(found), first)
	}
	return found[0]
}

func (p *nginxProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// do sends one request through nginx over TLS and returns the status and body.
func (p *nginxProc) do(t *testing.T, method, target string, hdr map[string]string) (int, string) {
	t.Helper()
	status, _, body := p.request(t, method, target, hdr)
	return status, body
}

// request sends one request through nginx over TLS and returns the
// status, the headers and the body.
func (p *nginxProc) request(t *testing.T, method, target string, hdr map[string]string) (int, http.Header, string) {
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
	return resp.StatusCode, resp.Header, string(b)
}

// logLine returns the access log line that names request id, failing when
// there is not exactly one. nginx writes it once the answer is sent, so it
// is waited for briefly.
func (p *nginxProc) logLine(t *testing.T, id string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(p.accessLog)
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "request_id="+id+" ") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 1 {
			return lines[0]
		}
		if len(lines) > 1 || time.Now().After(deadline) {
			t.Fatalf("%d access log lines name request_id=%s, want 1:\n%s", len(lines), id, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
func (tp *tap) want(t *testing.T, method, target string) (requestID string) {
	t.Helper()
	got := tp.take()
	if len(got) != 1 {
		t.Errorf("%d forward-auth calls reached Provost, want 1", len(got))
		return ""
	}
	h := got[0]
	if ids := h.Values("X-Request-Id"); len(ids) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(ids[0]) {
		t.Errorf("Provost was told X-Request-Id %q, want nginx's $request_id (32 hex digits)", ids)
	} else {
		requestID = ids[0]
	}
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
	return requestID
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
	RequestID  string `json:"request_id"`
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
	index int64 // its index in the evidence log
}

// codes are the record's reason codes as X-Provost-Reasons gives them.
func (r nginxRecord) codes() string {
	var c []string
	for _, x := range r.Reasons {
		c = append(c, x.Code)
	}
	return strings.Join(c, ",")
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
		for i, raw := range page.Entries {
			var r nginxRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("evidence record: %v: %s", err, raw)
			}
			r.index = e.from + int64(i)
			out = append(out, r)
		}
		e.from += int64(len(page.Entries))
	}
}
