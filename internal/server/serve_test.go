package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/tlscert"
)

// slowBody starts a check request whose body arrives in two parts, and
// returns once the handler is reading it (the client waited for 100
// Continue): the request is in flight.
func slowBody(t *testing.T, url string) (finish func(), result chan *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", url+PathCheck, pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	result = make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			resp = nil // a cut connection: the caller decides whether that is right
		}
		result <- resp
	}()
	if _, err := io.WriteString(pw, `{"method":"GET",`); err != nil {
		t.Fatal(err)
	}
	return func() {
		io.WriteString(pw, `"target":"/x","peer":"10.40.7.7"}`)
		pw.Close()
	}, result
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	finish, result := slowBody(t, r.url)
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop(t) }()
	// The listener closes at once; the in-flight request keeps going.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := http.Get(r.url + PathHealthz); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts new connections while shutting down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	finish()
	resp := <-result
	if resp == nil {
		t.Fatal("no answer")
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"decision":"deny"`) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
}

func TestShutdownTimeoutCutsStuckRequests(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{ShutdownTimeout: config.Duration(100 * time.Millisecond)})
	finish, result := slowBody(t, r.url)
	err := r.stop(t)
	finish() // lets the client see its connection was cut
	if err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("Serve = %v, want a shutdown timeout error", err)
	}
	if resp := <-result; resp != nil && resp.StatusCode == 200 {
		t.Fatal("a cut request was answered")
	}
}

func TestTLS(t *testing.T) {
	w := newFixture(t)
	certFile, keyFile, roots := w.serverTLS()
	clientCert := w.MustClientCert(agentPath)
	r := w.start(config.Serve{TLS: config.ServeTLS{Cert: certFile, Key: keyFile, ClientCA: w.CAFile(), ClientAuth: config.ClientAuthRequire}})
	client := func(minV, maxV uint16, certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, MinVersion: minV, MaxVersion: maxV, Certificates: certs}}}
	}
	cases := []struct {
		name    string
		c       *http.Client
		wantOK  bool
		wantErr string
	}{
		{"TLS 1.3 with a client certificate", client(tls.VersionTLS13, tls.VersionTLS13, clientCert), true, ""},
		{"TLS 1.2 with a client certificate", client(tls.VersionTLS12, tls.VersionTLS12, clientCert), true, ""},
		{"TLS 1.1 refused", client(tls.VersionTLS10, tls.VersionTLS11, clientCert), false, "protocol version"},
		{"no client certificate refused", client(tls.VersionTLS13, 0), false, "certificate required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := c.c.Get(r.url + PathHealthz)
			if c.wantOK {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("the handshake succeeded")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
		})
	}
	// The TLS client certificate of a forward-auth call names the proxy,
	// not its client: it never stands in for the client's workload.
	t.Run("forward-auth ignores the proxy's own certificate", func(t *testing.T) {
		resp, _ := fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/tools",
			"Authorization": "Bearer " + w.MustToken("agent:bot", nil)}}.do(t, client(tls.VersionTLS12, 0, clientCert), r.url)
		if resp.StatusCode != 403 {
			t.Fatalf("status %d, want 403: the proxy's SVID must not satisfy the agent binding", resp.StatusCode)
		}
	})
}

// TLSConfig is the listener's TLS configuration with the pair read once.
func TLSConfig(c config.ServeTLS) (*tls.Config, error) {
	p := tlscert.New("server: serve.tls", c.Cert, c.Key)
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return tlsConfig(c, p.GetCertificate)
}

func TestTLSConfigErrors(t *testing.T) {
	w := newFixture(t)
	dir := w.Dir
	certFile, keyFile, _ := w.serverTLS()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cases := []struct {
		name string
		c    config.ServeTLS
		want string
	}{
		{"missing cert", config.ServeTLS{Cert: filepath.Join(dir, "none.pem"), Key: keyFile}, "serve.tls"},
		{"missing CA", config.ServeTLS{Cert: certFile, Key: keyFile, ClientAuth: "require", ClientCA: filepath.Join(dir, "none.pem")}, "serve.tls.client_ca"},
		{"CA not PEM", config.ServeTLS{Cert: certFile, Key: keyFile, ClientAuth: "request", ClientCA: notPEM}, "holds no PEM certificate"},
	}
	for _, c := range cases {
		if _, err := TLSConfig(c.c); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	tc, err := TLSConfig(config.ServeTLS{Cert: certFile, Key: keyFile, ClientAuth: "request", ClientCA: w.CAFile()})
	if err != nil || tc.MinVersion != tls.VersionTLS12 || tc.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatalf("%+v %v", tc, err)
	}
	// Serve reports a bad TLS configuration at once.
	ln := mustListen(t)
	err = New(ForApp(w.app), config.Serve{TLS: config.ServeTLS{Cert: "none", Key: "none"}}, nil).Serve(t.Context(), ln)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve with a missing certificate: %v", err)
	}
}

// ReloadCertificate serves a rotated pair to new handshakes and keeps the
// old pair when the new files do not load.
func TestTLSReloadCertificate(t *testing.T) {
	w := newFixture(t)
	certFile, keyFile, roots := w.serverTLS()
	r := w.start(config.Serve{TLS: config.ServeTLS{Cert: certFile, Key: keyFile}})
	addr := strings.TrimPrefix(r.url, "https://")
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	first := served()
	if err := r.srv.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if !served().Equal(first) {
		t.Fatal("a reload of unchanged files changed the certificate")
	}
	w.WriteLeaf("server", provosttest.Leaf{CommonName: "provost-rotated", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err := r.srv.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	second := served()
	if second.Equal(first) || second.Subject.CommonName != "provost-rotated" {
		t.Fatalf("after the reload the server presents %q, want the rotated certificate", second.Subject.CommonName)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.srv.ReloadCertificate(); err == nil || !strings.Contains(err.Error(), "serve.tls") {
		t.Fatalf("reload of a broken certificate: %v, want a serve.tls error", err)
	}
	if !served().Equal(second) {
		t.Fatal("a failed reload replaced the certificate")
	}
	// Without TLS there is nothing to reload.
	if err := New(ForApp(w.app), config.Serve{}, nil).ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
}
