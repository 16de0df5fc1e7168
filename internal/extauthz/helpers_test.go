package extauthz

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
)

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
	wOrigin   = "https://api.acme.test"
	proxyAddr = "10.0.0.1" // the one trusted proxy
)

const wBindings = `version: 1
mode: enforce
networks:
  datacenter: [10.40.0.0/16]
  partners: [192.0.2.0/24]
bindings:
  - name: payments
    match: {subject: "svc:payments"}
    require:
      workloads: ["spiffe://acme.test/payments/*"]
      networks: [datacenter]
    on_violation: deny
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [datacenter]
    on_violation: deny
  - name: vendor-sync
    match: {subject: "vendor:sync"}
    require:
      networks: [partners]
    on_violation: step_up
`

// acme is the deployment these tests run against: the shared test world
// named for acme.test, one trusted proxy, the bindings above and config (a
// grpc: section) appended to its provost.yaml.
func acme(t testing.TB, config string) *provosttest.T {
	t.Helper()
	return provosttest.New(t, provosttest.Options{Issuer: wIssuer, Audience: wAudience, Origin: wOrigin, TrustDomain: "acme.test",
		Proxies: []string{proxyAddr + "/32"}, Bindings: wBindings, Config: config})
}

// open is acme with Provost opened over it.
func open(t testing.TB, config string) (*provosttest.T, *app.App) {
	t.Helper()
	w := acme(t, config)
	return w, w.App("")
}

// token issues a fresh access token for sub (every call a new credential,
// so origin history never links two calls); age moves iat and exp back.
func token(w *provosttest.T, sub string, age time.Duration) string {
	now := w.Now().Add(-age)
	return w.MustToken(sub, map[string]any{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
}

// svid issues an X.509-SVID for path in acme.test, as the chain a peer presents.
func svid(w *provosttest.T, path string) ([]*x509.Certificate, crypto.Signer) {
	c, k := w.MustSVID(path)
	return []*x509.Certificate{c}, k
}

// serve starts the ext_authz listener of a's config on loopback and returns
// a client connected to it.
func serve(t *testing.T, a *app.App) authv3.AuthorizationClient {
	t.Helper()
	ln, err := Listen(context.Background(), a.Engine, a.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ln.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// envoyCertificate encodes a certificate the way Envoy fills
// attributes.source.certificate: PEM, then percent-encoded.
func envoyCertificate(c *x509.Certificate) string {
	p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(p)
}

// xfcc is an x-forwarded-client-cert value for the leaf of chain.
func xfcc(chain []*x509.Certificate, id string) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})
	return `By=spiffe://acme.test/envoy;Cert="` + url.PathEscape(string(p)) + `";URI=` + id
}

// envoyReq is one request as the test describes it.
type envoyReq struct {
	method, path string
	src          string              // downstream address Envoy saw
	chain        []*x509.Certificate // downstream TLS client certificate
	headers      map[string]string   // lower-case, as Envoy reports them
	raw          bool                // encode_raw_headers: header_map instead of headers
}

// check builds the CheckRequest Envoy would send for e: the pseudo-headers
// and the headers Envoy adds itself, the downstream peer with its
// principal and URL-encoded certificate, and the destination.
func (e envoyReq) check() *authv3.CheckRequest {
	if e.method == "" {
		e.method = "GET"
	}
	if e.path == "" {
		e.path = "/v1/payments?limit=5"
	}
	h := map[string]string{
		":authority": "api.acme.test", ":method": e.method, ":path": e.path, ":scheme": "https",
		"user-agent": "curl/8.5.0", "accept": "*/*", "x-forwarded-proto": "https",
		"x-request-id": "5d2c6f0e-8f3a-4c55-9a77-0c8e7b1f2a11",
	}
	for k, v := range e.headers {
		h[k] = v
	}
	src := &authv3.AttributeContext_Peer{Address: socket(e.src, 53122)}
	if len(e.chain) > 0 {
		src.Certificate = envoyCertificate(e.chain[0])
		if len(e.chain[0].URIs) > 0 {
			src.Principal = e.chain[0].URIs[0].String()
		}
	}
	hr := &authv3.AttributeContext_HttpRequest{
		Id: h["x-request-id"], Method: e.method, Path: e.path, Host: "api.acme.test", Scheme: "https",
		Size: 0, Protocol: "HTTP/1.1",
	}
	if e.raw {
		hm := &corev3.HeaderMap{}
		for k, v := range h {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
		}
		hr.HeaderMap = hm
	} else {
		hr.Headers = h
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      src,
		Destination: &authv3.AttributeContext_Peer{Address: socket("10.1.0.10", 443), Principal: "spiffe://acme.test/envoy"},
		Request:     &authv3.AttributeContext_Request{Http: hr},
	}}
}

// direct is the provost.Request a transport that saw e itself would build.
func (e envoyReq) direct() *provost.Request {
	r := &provost.Request{Method: e.method, Target: e.path, ClientCerts: e.chain}
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.Target == "" {
		r.Target = "/v1/payments?limit=5"
	}
	if e.src != "" {
		r.Peer = mustAddr(e.src)
	}
	h := e.headers
	r.Authorization, r.DPoP, r.XFCC, r.Posture = h["authorization"], h["dpop"], h["x-forwarded-client-cert"], h["provost-posture"]
	if v, ok := h["x-forwarded-for"]; ok {
		r.XForwardedFor = []string{v}
	}
	return r
}

func socket(ip string, port uint32) *corev3.Address {
	if ip == "" {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// headersOf returns the header options of a response, by lower-case name.
func headersOf(resp *authv3.CheckResponse) map[string]string {
	var opts []*corev3.HeaderValueOption
	if ok := resp.GetOkResponse(); ok != nil {
		opts = ok.GetHeaders()
	} else {
		opts = resp.GetDeniedResponse().GetHeaders()
	}
	out := map[string]string{}
	for _, o := range opts {
		out[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	return out
}

func meta(resp *authv3.CheckResponse, k string) string {
	return resp.GetDynamicMetadata().GetFields()[k].GetStringValue()
}
