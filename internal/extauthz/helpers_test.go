package extauthz

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
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

// world is a Provost deployment made in a test: an issuer, a SPIFFE CA,
// one trusted proxy and an engine reading a config in t.TempDir().
type world struct {
	t      testing.TB
	dir    string
	issuer *ecdsa.PrivateKey
	ca     *workloadtest.CA
	cfg    *config.Config
	eng    *provost.Engine
	app    *app.App
}

func newWorld(t testing.TB, grpcSection string) *world {
	t.Helper()
	return newWorldIn(t, t.TempDir(), grpcSection)
}

// newWorldIn is newWorld in dir, which may hold files the grpc section names.
func newWorldIn(t testing.TB, dir, grpcSection string) *world {
	t.Helper()
	w := &world{t: t, dir: dir}
	w.issuer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.ca = workloadtest.NewCA(t, "acme.test")
	caFile := w.ca.WritePEM(t, w.dir)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuer.Public(), KeyID: "sts-1", Use: "sig"}}})
	w.write("issuer.jwks.json", string(jwks))
	w.write("bindings.yaml", wBindings)
	w.write("provost.yaml", `version: 1
data_dir: data
external_origins: [`+wOrigin+`]
bindings: bindings.yaml
issuers:
  - issuer: `+wIssuer+`
    audiences: [`+wAudience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  proxies: [`+proxyAddr+`/32]
  spiffe:
    - trust_domain: acme.test
      x509_bundle: `+caFile+`
`+grpcSection)
	file := filepath.Join(w.dir, "provost.yaml")
	var err error
	if w.cfg, err = config.Load(file); err != nil {
		t.Fatal(err)
	}
	if w.app, err = app.Open(context.Background(), app.Options{ConfigFile: file}); err != nil {
		t.Fatal(err)
	}
	w.eng = w.app.Engine
	t.Cleanup(func() { w.app.Close() })
	return w
}

func (w *world) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// token issues a fresh access token for sub (every call a new credential,
// so origin history never links two calls); age moves iat and exp back.
func (w *world) token(sub string, age time.Duration) string {
	w.t.Helper()
	now := time.Now().Add(-age)
	claims, _ := json.Marshal(map[string]any{"iss": wIssuer, "aud": wAudience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.issuer},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "sts-1"))
	if err != nil {
		w.t.Fatal(err)
	}
	obj, err := s.Sign(claims)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) svid(id string) ([]*x509.Certificate, crypto.Signer) {
	return w.ca.IssueSVID(w.t, id)
}

// serve starts the ext_authz listener of w's config on loopback and returns
// a client connected to it.
func (w *world) serve(t *testing.T) authv3.AuthorizationClient {
	t.Helper()
	ln, err := Listen(context.Background(), w.eng, w.cfg, nil)
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
