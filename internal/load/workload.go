package load

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost/internal/provosttest"
)

// The deployment the Provost targets judge.
const (
	// benchProxy is the trusted proxy every request comes through: the
	// load client's own loopback address, so forward-auth's real peer is
	// trusted too.
	benchProxy = "127.0.0.1"
	// benchTarget is the request the client asks about.
	benchMethod = "GET"
	benchTarget = "/v1/data"
	benchHost   = "api.bench.test"
	// benchBindings approves every bench credential from the datacenter
	// network only, with a CEL rule on top, so every request runs the
	// whole decision: credential, network path through the trusted
	// proxy, the binding's checks and rule, origin history, detectors,
	// and the evidence record.
	benchBindings = `version: 1
networks: {datacenter: [10.40.0.0/16]}
bindings:
  - name: bench
    match: {subject: "svc:bench-*"}
    require:
      networks: [datacenter]
      rule: 'signals.network.client.startsWith("10.40.") && signals.request.method == "GET"'
`
)

// Workload is what the Provost targets are asked: a generated deployment
// (issuer, trusted proxy, bindings, configuration) in a directory and one
// prepared request per credential. Credential i is a bearer ES256 token
// for the subject svc:bench-i, always sent from the same client address
// in origin i mod Origins (the /24 10.40.(i mod Origins).0), forwarded by
// the trusted proxy 127.0.0.1. So each credential keeps one origin, and
// origin history holds Credentials credentials seen from Origins origins.
//
// The issuer's private key stays in this process's memory; the directory
// holds only its public key (JWKS), and the tokens never reach a file, a
// command line or an output.
type Workload struct {
	Dir           string // the deployment: provost.yaml, public keys, and one data directory per target
	Config        string // the configuration file
	Credentials   int
	Origins       int
	AsyncEvidence bool

	tokens  []string
	clients []string
}

// NewWorkload generates the deployment in dir (which must exist) and mints
// credentials tokens, valid for ttl, sent from origins origins (1..256).
// With asyncEvidence the evidence log answers before records are on disk
// (evidence.mode: async); by default every decision is durable first.
func NewWorkload(dir string, credentials, origins int, ttl time.Duration, asyncEvidence bool) (*Workload, error) {
	if credentials < 1 || origins < 1 || origins > 256 {
		return nil, fmt.Errorf("load: %d credentials from %d origins: need at least one credential and 1..256 origins", credentials, origins)
	}
	extra := ""
	if asyncEvidence {
		extra = "evidence:\n  mode: async\n"
	}
	w, err := provosttest.Build(dir, provosttest.Options{Origin: "https://" + benchHost, Audience: "https://" + benchHost,
		Proxies: []string{benchProxy}, Bindings: benchBindings, Config: extra})
	if err != nil {
		return nil, err
	}
	wl := &Workload{Dir: dir, Config: w.ConfigFile(), Credentials: credentials, Origins: origins, AsyncEvidence: asyncEvidence,
		tokens: make([]string, credentials), clients: make([]string, credentials)}
	for i := range credentials {
		if wl.tokens[i], err = w.Token(fmt.Sprintf("svc:bench-%04d", i), ttl, nil); err != nil {
			return nil, err
		}
		wl.clients[i] = fmt.Sprintf("10.40.%d.%d", i%origins, 1+(i/origins)%254)
	}
	return wl, nil
}

// DataDir is the data directory of target's server: each Provost server
// has its own.
func (wl *Workload) DataDir(target string) string { return filepath.Join(wl.Dir, "data-"+target) }

// CheckRequests are the check API requests to url (…/v1/check), one per
// credential: the trusted proxy describes a GET from the credential's
// client.
func (wl *Workload) CheckRequests(url string) []HTTPRequest {
	h := http.Header{"Content-Type": {"application/json"}}
	reqs := make([]HTTPRequest, len(wl.tokens))
	for i, tok := range wl.tokens {
		body, _ := json.Marshal(map[string]any{"method": benchMethod, "target": benchTarget, "authorization": "Bearer " + tok,
			"peer": benchProxy, "x_forwarded_for": []string{wl.clients[i]}})
		reqs[i] = HTTPRequest{Method: http.MethodPost, URL: url, Header: h, Body: body}
	}
	return reqs
}

// ForwardAuthRequests are the forward-auth calls to url
// (…/v1/forward-auth), one per credential, as nginx's auth_request makes
// them: GET with the original request in X-Original-Method and
// X-Original-URI and the client in X-Forwarded-For, from the trusted
// proxy's address (the load client's).
func (wl *Workload) ForwardAuthRequests(url string) []HTTPRequest {
	reqs := make([]HTTPRequest, len(wl.tokens))
	for i, tok := range wl.tokens {
		reqs[i] = HTTPRequest{Method: http.MethodGet, URL: url, Header: http.Header{
			"Authorization":     {"Bearer " + tok},
			"X-Original-Method": {benchMethod},
			"X-Original-Uri":    {benchTarget},
			"X-Forwarded-For":   {wl.clients[i]},
		}}
	}
	return reqs
}

// CheckRequestsGRPC are the ext_authz CheckRequests, one per credential,
// as Envoy sends them with the trusted proxy as the downstream peer.
func (wl *Workload) CheckRequestsGRPC() []*authv3.CheckRequest {
	reqs := make([]*authv3.CheckRequest, len(wl.tokens))
	for i, tok := range wl.tokens {
		reqs[i] = &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: benchProxy, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 41000}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: benchMethod, Path: benchTarget, Host: benchHost, Scheme: "https",
				Headers: map[string]string{"authorization": "Bearer " + tok, "x-forwarded-for": wl.clients[i]}}},
		}}
	}
	return reqs
}
