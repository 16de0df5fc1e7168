package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

func TestAllowedRequestReachesUpstream(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	logs := &logBuffer{}
	url := w.startProxy(eng, w.settings(up.URL, "edge", config.ClientAuthRequest), logs)
	svid, key := w.MustSVID("/payments/api")
	tok := w.MustToken("svc:payments", nil)

	resp, body := get(t, w.client([]*x509.Certificate{svid}, key, 0), url+"/v1/orders?id=7", tok, map[string]string{
		answer.HeaderSubject:          "admin",
		"X-Forwarded-For":             "203.0.113.9",
		provost.HeaderClientCert:      ":AAAA:",
		provost.HeaderXFCC:            "By=spiffe://acme.test/x;URI=spiffe://acme.test/admin",
		provost.HeaderClientCertChain: ":AAAA:",
	})
	if resp.StatusCode != http.StatusOK || body != "hello from upstream" || resp.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("status %d, body %q, headers %v", resp.StatusCode, body, resp.Header)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("client spoke %s to the proxy, want HTTP/2 over TLS", resp.Proto)
	}
	if up.count() != 1 {
		t.Fatalf("upstream called %d times", up.count())
	}
	got := up.last()
	want := map[string]string{
		answer.HeaderDecision:         "allow",
		answer.HeaderSubject:          "svc:payments",
		answer.HeaderIssuer:           wIssuer,
		answer.HeaderWorkload:         "spiffe://acme.test/payments/api",
		answer.HeaderBinding:          "payments",
		"Authorization":               "Bearer " + tok, // forwarded unchanged
		"X-Forwarded-For":             "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto":           "https",
		provost.HeaderClientCert:      provosttest.ClientCertHeader(svid),
		provost.HeaderXFCC:            "",
		provost.HeaderClientCertChain: "",
	}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("upstream saw %s = %q, want %q", k, g, v)
		}
	}
	if n := len(got.Header.Values(answer.HeaderSubject)); n != 1 {
		t.Errorf("%d X-Provost-Subject lines reached the upstream", n)
	}
	if !strings.HasPrefix(got.Header.Get(answer.HeaderFingerprint), "fp1:") {
		t.Errorf("fingerprint header %q", got.Header.Get(answer.HeaderFingerprint))
	}
	if got.RequestURI != "/v1/orders?id=7" {
		t.Errorf("upstream target %q", got.RequestURI)
	}

	// The hop attestation verifies with the proxy's public key for exactly
	// this request, and for no other.
	v := &hop.Verifier{Keys: hop.Keys{"edge": {Name: "edge", Public: w.HopKey("edge").Public()}}}
	hops := got.Header.Values(provost.HeaderHop)
	if len(hops) != 1 {
		t.Fatalf("Provost-Hop lines: %q", hops)
	}
	this := hop.Request{Method: "GET", Target: "/v1/orders?id=7", CredentialDigest: hop.CredentialDigest(tok)}
	res, err := v.Verify(hops, this)
	if err != nil || len(res.Hops) != 1 || res.Hops[0] != "edge" {
		t.Fatalf("verify: %v, %+v", err, res)
	}
	for _, other := range []hop.Request{
		{Method: "GET", Target: "/v1/orders?id=8", CredentialDigest: this.CredentialDigest},
		{Method: "POST", Target: this.Target, CredentialDigest: this.CredentialDigest},
		{Method: "GET", Target: this.Target, CredentialDigest: hop.CredentialDigest("another-token")},
	} {
		if _, err := v.Verify(hops, other); reason.Of(err) != reason.HopRequestMismatch {
			t.Errorf("attestation verified for %+v: %v", other, err)
		}
	}

	// One log line, naming the credential by fingerprint only.
	log := logs.String()
	if strings.Contains(log, tok) || strings.Contains(log, strings.Split(tok, ".")[2]) {
		t.Fatal("the raw credential was logged")
	}
	for _, s := range []string{`"outcome":"allow"`, `"status":200`, `"fingerprint":"fp1:`, `"latency_seconds":`, `"reasons":[`} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %s: %s", s, log)
		}
	}
}

func TestWorkloadIdentity(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	url := w.startProxy(eng, w.settings(up.URL, "", config.ClientAuthRequest), nil)
	tok := w.MustToken("svc:payments", nil)
	cases := []struct {
		name   string
		svid   string // a path in acme.test; "" presents no certificate
		status int
		code   reason.Code // a reason the decision must carry
	}{
		{"approved workload", "/payments/api", http.StatusOK, ""},
		{"other workload", "/reports/batch", http.StatusForbidden, reason.WorkloadNotApproved},
		{"no certificate", "", http.StatusForbidden, reason.WorkloadAbsent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := up.count()
			cl := w.client(nil, nil, 0)
			if c.svid != "" {
				cl = w.svidClient(c.svid)
			}
			resp, body := get(t, cl, url+"/pay", tok, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (reasons %s, body %q)", resp.StatusCode, c.status, resp.Header.Get(answer.HeaderReasons), body)
			}
			called := up.count() - before
			if (c.status == http.StatusOK) != (called == 1) || called > 1 {
				t.Fatalf("upstream called %d times for status %d", called, c.status)
			}
			if c.code != "" && !strings.Contains(resp.Header.Get(answer.HeaderReasons), string(c.code)) {
				t.Errorf("reasons %q lack %s", resp.Header.Get(answer.HeaderReasons), c.code)
			}
			if c.status != http.StatusOK && (resp.Header.Get(answer.HeaderSubject) != "" || body != http.StatusText(c.status)+"\n") {
				t.Errorf("denial leaks identity headers or a long body: %v %q", resp.Header, body)
			}
		})
	}
}

func TestRejectedCredential(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	logs := &logBuffer{}
	url := w.startProxy(eng, w.settings(up.URL, "edge", config.ClientAuthNone), logs)
	expired := w.MustToken("svc:reports", map[string]any{"iat": 1000, "exp": 2000})
	forged := w.MustToken("svc:reports", nil)
	forged = forged[:len(forged)-4] + "AAAA"
	cases := []struct {
		name, token, challenge string
	}{
		{"no credential", "", `Bearer realm="provost"`},
		{"expired", expired, `Bearer error="invalid_token"`},
		{"bad signature", forged, `Bearer error="invalid_token"`},
		{"opaque unknown", "not-a-known-key", `Bearer error="invalid_token"`},
	}
	cl := w.client(nil, nil, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := get(t, cl, url+"/reports", c.token, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d (reasons %s)", resp.StatusCode, resp.Header.Get(answer.HeaderReasons))
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, c.challenge) {
				t.Errorf("challenge %q, want prefix %q", ch, c.challenge)
			}
		})
	}
	if up.count() != 0 {
		t.Fatalf("upstream called %d times for rejected credentials", up.count())
	}
	for _, c := range cases {
		if c.token != "" && strings.Contains(logs.String(), c.token) {
			t.Fatalf("%s: raw credential logged", c.name)
		}
	}
}

func TestTLSVersions(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	url := w.startProxy(eng, w.settings(up.URL, "", config.ClientAuthNone), nil)
	tok := w.MustToken("svc:reports", nil)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := w.client(nil, nil, v).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("TLS version %x accepted", v)
		}
	}
	if resp, _ := get(t, w.client(nil, nil, tls.VersionTLS12), url+"/", tok, nil); resp.StatusCode != http.StatusOK || resp.TLS.Version != tls.VersionTLS12 {
		t.Fatalf("TLS 1.2: status %d", resp.StatusCode)
	}
	if up.count() != 1 {
		t.Fatalf("upstream called %d times", up.count())
	}
}

func TestRequireClientCertificate(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	cfg := w.settings(up.URL, "", config.ClientAuthRequire)
	cfg.TLS.ClientCA = w.CAFile()
	url := w.startProxy(eng, cfg, nil)
	tok := w.MustToken("svc:payments", nil)
	if resp, err := w.client(nil, nil, 0).Get(url + "/pay"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate got through client_auth: require")
	}
	evil, evilKey := workloadtest.NewCA(t, "evil.test").IssueSVID(t, "spiffe://evil.test/payments/api")
	if resp, err := w.client(evil, evilKey, 0).Get(url + "/pay"); err == nil {
		resp.Body.Close()
		t.Fatal("a certificate from another CA got through client_ca")
	}
	chain, key := w.MustSVIDChain("/payments/api")
	resp, _ := get(t, w.client(chain, key, 0), url+"/pay", tok, nil)
	if resp.StatusCode != http.StatusOK || up.count() != 1 {
		t.Fatalf("status %d, upstream calls %d, reasons %s", resp.StatusCode, up.count(), resp.Header.Get(answer.HeaderReasons))
	}
	// The upstream gets the certificate and its intermediate as RFC 9440
	// headers, which Provost's own parser reads back.
	h := up.last().Header
	leaf, err := network.ParseClientCert(h.Get(provost.HeaderClientCert))
	if err != nil || !leaf.Equal(chain[0]) {
		t.Fatalf("Client-Cert: %v", err)
	}
	inter, err := network.ParseClientCertChain(h.Get(provost.HeaderClientCertChain))
	if err != nil || len(inter) != len(chain)-1 || !inter[0].Equal(chain[1]) {
		t.Fatalf("Client-Cert-Chain: %d certificates, %v", len(inter), err)
	}
}

// TestProxyChain runs edge -> gw -> upstream, all real listeners, and has
// a third Provost judge at the upstream whether the request came through
// the approved chain [edge, gw].
func TestProxyChain(t *testing.T) {
	w := newFixture(t)
	// Each proxy has its own engine (and origin history), as separate
	// deployments would: one history seeing the same credential with two
	// origins (before and after edge) reports concurrent use.
	edgeEng := w.engine("edge", proxyBindings)
	gwEng := w.engine("gw", proxyBindings)
	judge := w.engine("judge", judgeBindings)
	var mu sync.Mutex
	var decisions []*provost.Decision
	up := newUpstream(t, func(r *http.Request) {
		d, err := judge.Check(r.Context(), provost.FromHTTP(r))
		if err != nil {
			t.Errorf("judge: %v", err)
		}
		mu.Lock()
		decisions = append(decisions, d)
		mu.Unlock()
	})
	lastDecision := func() *provost.Decision {
		mu.Lock()
		defer mu.Unlock()
		return decisions[len(decisions)-1]
	}
	gwURL := w.startProxy(gwEng, w.settings(up.URL, "gw", config.ClientAuthNone), nil)
	edgeCfg := w.settings(gwURL, "edge", config.ClientAuthNone)
	edgeCfg.UpstreamCA = w.CAFile()
	edgeURL := w.startProxy(edgeEng, edgeCfg, nil)
	cl := w.client(nil, nil, 0)
	tok := w.MustToken("integration:helpdesk", nil)

	resp, _ := get(t, cl, edgeURL+"/tickets/42?full=1", tok, nil)
	if resp.StatusCode != http.StatusOK || up.count() != 1 {
		t.Fatalf("through edge and gw: status %d, upstream calls %d, reasons %s", resp.StatusCode, up.count(), resp.Header.Get(answer.HeaderReasons))
	}
	d := lastDecision()
	if d.Outcome != verdict.Allow || d.Provenance != verdict.Verified || d.Binding != "helpdesk-via-proxies" {
		t.Fatalf("judge: %s/%s binding %q reasons %+v", d.Outcome, d.Provenance, d.Binding, d.Reasons)
	}
	if got := d.Signals.Proxy.Hops; len(got) != 2 || got[0] != "edge" || got[1] != "gw" {
		t.Fatalf("judge saw hops %v", got)
	}
	if xff := up.last().Header.Get("X-Forwarded-For"); xff != "127.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", xff)
	}

	// Bypassing edge leaves a valid chain [gw] that the binding refuses.
	// (Each case uses a fresh credential: origin history would otherwise
	// flag one credential arriving along two paths.)
	tok = w.MustToken("integration:helpdesk", nil)
	if resp, _ := get(t, cl, gwURL+"/tickets/42?full=1", tok, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("gw alone: status %d", resp.StatusCode)
	}
	if d := lastDecision(); d.Outcome != verdict.Deny || !hasReason(d, reason.ProxyChainMismatch) {
		t.Fatalf("judge allowed a request that bypassed edge: %s %+v", d.Outcome, d.Reasons)
	}

	// A chain copied from another request, or typed garbage, is refused
	// by the proxy's own check and never forwarded.
	for _, c := range []struct {
		name, value string
		code        reason.Code
	}{
		{"copied chain", w.MustHops("GET", "/tickets/1", tok, "edge"), reason.HopRequestMismatch},
		{"malformed", "not-a-jws", reason.HopMalformed},
	} {
		tok = w.MustToken("integration:helpdesk", nil)
		before := up.count()
		resp, _ = get(t, cl, gwURL+"/tickets/42?full=1", tok, map[string]string{provost.HeaderHop: c.value})
		if resp.StatusCode != http.StatusForbidden || up.count() != before || !strings.Contains(resp.Header.Get(answer.HeaderReasons), string(c.code)) {
			t.Errorf("%s: status %d, reasons %s, upstream calls %d", c.name, resp.StatusCode, resp.Header.Get(answer.HeaderReasons), up.count()-before)
		}
	}
}

func hasReason(d *provost.Decision, c reason.Code) bool {
	for _, r := range d.Reasons {
		if r.Code == c {
			return true
		}
	}
	return false
}

func TestLimitsAndUpstreamFailure(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	cfg := w.settings(up.URL, "", config.ClientAuthNone)
	cfg.MaxBodyBytes = 16
	url := w.startProxy(eng, cfg, nil)
	cl := w.client(nil, nil, 0)
	tok := w.MustToken("svc:reports", nil)

	req, _ := http.NewRequest(http.MethodPost, url+"/upload", strings.NewReader(strings.Repeat("x", 17)))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || up.count() != 0 {
		t.Fatalf("oversized body: status %d, upstream calls %d", resp.StatusCode, up.count())
	}

	big := strings.Repeat("a", 70<<10)
	req, _ = http.NewRequest(http.MethodGet, url+"/", nil)
	req.Header.Set("X-Big", big)
	if resp, err := cl.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized header: status %d", resp.StatusCode)
		}
	}

	// An upstream that is down: 502, never a hang.
	down := newUpstream(t, nil)
	down.Close()
	url = w.startProxy(eng, w.settings(down.URL, "", config.ClientAuthNone), nil)
	resp, body := get(t, cl, url+"/", tok, nil)
	if resp.StatusCode != http.StatusBadGateway || body != "Bad Gateway\n" {
		t.Fatalf("upstream down: status %d body %q", resp.StatusCode, body)
	}
}

func TestNewErrors(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	w.Write("rsa.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	edgePub := filepath.Join(w.Dir, "hop-edge.pem") // the world's public key file of edge
	cases := []struct {
		name string
		cfg  config.Proxy
		want string
	}{
		{"no upstream", config.Proxy{}, "is not an http:// or https:// URL"},
		{"upstream with path", config.Proxy{Upstream: "http://127.0.0.1:1/api"}, "scheme://host[:port] only"},
		{"missing hop key", config.Proxy{Upstream: "http://127.0.0.1:1", Hop: config.ProxyHop{Name: "edge", Key: filepath.Join(w.Dir, "nope.pem")}}, "hop key"},
		{"bad hop key", config.Proxy{Upstream: "http://127.0.0.1:1", Hop: config.ProxyHop{Name: "edge", Key: filepath.Join(w.Dir, "rsa.pem")}}, "not a PKCS #8 private key"},
		{"public key as hop key", config.Proxy{Upstream: "http://127.0.0.1:1", Hop: config.ProxyHop{Name: "edge", Key: edgePub}}, "no PEM PRIVATE KEY"},
		{"bad upstream CA", config.Proxy{Upstream: "https://127.0.0.1:1", UpstreamCA: edgePub}, "holds no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(eng, c.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, err := NewServer(config.Proxy{TLS: config.ProxyTLS{Cert: edgePub, Key: w.MustHopKeyFile("edge")}}, http.NotFoundHandler(), nil); err == nil {
		t.Fatal("NewServer took a public key as certificate")
	}
	if _, err := New(nil, config.Proxy{Upstream: "http://127.0.0.1:1"}, nil); err == nil {
		t.Fatal("New took a nil engine")
	}
}

func TestReloadCertificate(t *testing.T) {
	w := newFixture(t)
	cfg := w.settings("http://127.0.0.1:1", "", config.ClientAuthNone)
	srv, err := NewServer(cfg, http.NotFoundHandler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := srv.tls.Load()
	w.Write("tls.crt", "garbage")
	if err := srv.ReloadCertificate(); err == nil || srv.tls.Load() != first {
		t.Fatalf("a failed reload replaced the certificate: %v", err)
	}
	w.serverCert()
	if err := srv.ReloadCertificate(); err != nil || srv.tls.Load() == first {
		t.Fatalf("reload: %v", err)
	}
}

// TestTargetForwardedExactly sends raw request lines: the upstream gets
// the target byte for byte, and the hop attestation is for that target.
func TestTargetForwardedExactly(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	cfg := w.settings(up.URL, "edge", config.ClientAuthNone)
	cfg.TLS = config.ProxyTLS{}
	addr := strings.TrimPrefix(w.startProxy(eng, cfg, nil), "http://")
	v := &hop.Verifier{Keys: hop.Keys{"edge": {Name: "edge", Public: w.HopKey("edge").Public()}}}
	for _, tgt := range []string{
		"/files/a%2cb/%7Euser?x=%41&y",
		"/caf%C3%A9?q=1",
		"/quoted%22?",
		"/empty-query?",
		"/",
		// Targets that could be read two ways are refused before any rule
		// (request_target_invalid), and never reach the upstream.
		"/files/a%2Fb",
		"/caf\xc3\xa9?q=1",
		"//double/slash",
		"//\"quoted",
		"/v1/reports/../admin",
	} {
		t.Run(tgt, func(t *testing.T) {
			tok := w.MustToken("svc:reports", nil)
			before := up.count()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: api.acme.test\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", tgt, tok)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if _, _, _, err := target.Check(tgt); err != nil {
				if resp.StatusCode != http.StatusBadRequest || up.count() != before || resp.Header.Get(answer.HeaderReasons) != string(reason.RequestTargetInvalid) {
					t.Fatalf("status %d (%s) for a target that is not canonical", resp.StatusCode, resp.Header.Get(answer.HeaderReasons))
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, reasons %s", resp.StatusCode, resp.Header.Get(answer.HeaderReasons))
			}
			got := up.last()
			if got.RequestURI != tgt {
				t.Fatalf("upstream target %q, want %q", got.RequestURI, tgt)
			}
			req := hop.Request{Method: "GET", Target: tgt, CredentialDigest: hop.CredentialDigest(tok)}
			if _, err := v.Verify(got.Header.Values(provost.HeaderHop), req); err != nil {
				t.Fatalf("hop for %q: %v", tgt, err)
			}
			if got.Host != strings.TrimPrefix(up.URL, "http://") || got.Header.Get("X-Forwarded-Host") != "api.acme.test" {
				t.Errorf("Host %q, X-Forwarded-Host %q", got.Host, got.Header.Get("X-Forwarded-Host"))
			}
		})
	}
}
