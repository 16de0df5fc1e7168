package server

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/reason"
)

func httptestGet(s *Server, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

type fwd struct {
	path    string // below the server URL
	method  string // of the call to Provost
	headers map[string]string
}

func (f fwd) do(t testing.TB, c *http.Client, base string) (*http.Response, string) {
	t.Helper()
	path := f.path
	if path == "" {
		path = PathForwardAuth
	}
	method := f.method
	if method == "" {
		method = "GET"
	}
	req, _ := http.NewRequest(method, base+path, nil)
	for k, v := range f.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// nginx sends X-Original-*; Traefik X-Forwarded-*; Envoy the original
// method and path below its path_prefix.
func TestForwardAuth(t *testing.T) {
	w := newFixture(t)
	urls := map[string]string{}
	for _, mode := range []string{config.ForwardAuthNginx, config.ForwardAuthTraefik, config.ForwardAuthEnvoy} {
		urls[mode] = w.start(config.Serve{ForwardAuth: config.ForwardAuth{Headers: mode}}).url
	}
	dpopKey := w.NewKey()
	type want struct {
		status    int
		decision  string
		challenge string // WWW-Authenticate prefix
		identity  map[string]string
	}
	allowReports := want{200, "allow", "", map[string]string{answer.HeaderSubject: "svc:reports", answer.HeaderBinding: "reports",
		answer.HeaderClient: "10.40.7.7", answer.HeaderIssuer: wIssuer}}
	cases := []struct {
		name string
		mode string // serve.forward_auth.headers; "" is the default, nginx
		req  func() fwd
		want want
	}{
		{"nginx allow", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports?q=1",
				"Authorization": "Bearer " + w.MustToken("svc:reports", nil), "X-Forwarded-For": "10.40.7.7"}}
		}, allowReports},
		{"traefik allow", config.ForwardAuthTraefik, func() fwd {
			return fwd{headers: map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/v1/reports",
				"Authorization": "Bearer " + w.MustToken("svc:reports", nil), "X-Forwarded-For": "10.40.7.7"}}
		}, allowReports},
		{"rejected credential", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports",
				"Authorization": "Bearer " + w.MustToken("svc:reports", map[string]any{"exp": 1}), "X-Forwarded-For": "10.40.7.7"}}
		}, want{401, "deny", `Bearer error="invalid_token"`, nil}},
		{"no credential", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports", "X-Forwarded-For": "10.40.7.7"}}
		}, want{401, "deny", `Bearer realm="provost"`, nil}},
		{"provenance deny", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports",
				"Authorization": "Bearer " + w.MustToken("svc:reports", nil), "X-Forwarded-For": "203.0.113.9"}}
		}, want{403, "deny", "", nil}},
		{"step up", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/sync",
				"Authorization": "Bearer " + w.MustToken("vendor:sync", nil), "X-Forwarded-For": "203.0.113.9"}}
		}, want{401, "step_up", `Bearer error="invalid_token", error_description="re-authenticate`, nil}},
		{"XFCC from the trusted proxy", "", func() fwd {
			return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/tools",
				"Authorization": "Bearer " + w.MustToken("agent:bot", nil), "X-Forwarded-For": "10.30.1.5", "X-Forwarded-Client-Cert": w.xfcc(agentPath)}}
		}, want{200, "allow", "", map[string]string{answer.HeaderWorkload: agentID, answer.HeaderBinding: "agent"}}},
		{"Envoy: original method and path below the prefix", config.ForwardAuthEnvoy, func() fwd {
			tok := w.MustBoundToken("svc:export", dpopKey)
			return fwd{path: PathForwardAuth + "/v1/export?since=1", method: "PATCH", headers: map[string]string{
				"Authorization": "DPoP " + tok, "DPoP": w.MustDPoPProofURL(dpopKey, "PATCH", wOrigin+"/v1/export?since=1", tok, w.app.Engine.DPoPNonce())}}
		}, want{200, "allow", "", map[string]string{answer.HeaderSubject: "svc:export"}}},
		{"Envoy: a proof for another path fails", config.ForwardAuthEnvoy, func() fwd {
			tok := w.MustBoundToken("svc:export", dpopKey)
			return fwd{path: PathForwardAuth + "/v1/export", method: "PATCH", headers: map[string]string{
				"Authorization": "DPoP " + tok, "DPoP": w.MustDPoPProofURL(dpopKey, "PATCH", wOrigin+"/v1/other", tok, w.app.Engine.DPoPNonce())}}
		}, want{401, "deny", `DPoP error="invalid_dpop_proof"`, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := c.req().do(t, http.DefaultClient, urls[cmp.Or(c.mode, config.ForwardAuthNginx)])
			if resp.StatusCode != c.want.status || resp.Header.Get(answer.HeaderDecision) != c.want.decision {
				t.Fatalf("status %d decision %q (%s), want %d %s; reasons %s", resp.StatusCode, resp.Header.Get(answer.HeaderDecision),
					body, c.want.status, c.want.decision, resp.Header.Get(answer.HeaderReasons))
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, c.want.challenge) || (c.want.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want prefix %q", got, c.want.challenge)
			}
			for k, v := range c.want.identity {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if c.want.status != 200 && resp.Header.Get(answer.HeaderSubject) != "" {
				t.Error("identity headers on a refusal")
			}
			if body != c.want.decision+"\n" {
				t.Errorf("body %q", body)
			}
		})
		w.Clock.Advance(10 * time.Minute)
	}
}

// The DPoP nonce dance through forward-auth: a proof without a nonce gets
// 401 use_dpop_nonce with a DPoP-Nonce; the retry with it is allowed.
func TestForwardAuthDPoPNonce(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	k := w.NewKey()
	tok := w.MustBoundToken("svc:export", k)
	call := func(nonce string) *http.Response {
		resp, _ := fwd{headers: map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/v1/export",
			"Authorization": "DPoP " + tok, "DPoP": w.MustDPoPProofURL(k, "POST", wOrigin+"/v1/export", tok, nonce)}}.do(t, http.DefaultClient, r.url)
		return resp
	}
	resp := call("")
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("first call: %d %q nonce %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), nonce)
	}
	if resp = call(nonce); resp.StatusCode != 200 {
		t.Fatalf("retry with the nonce: %d %s", resp.StatusCode, resp.Header.Get(answer.HeaderReasons))
	}
}

// A client that reaches forward-auth itself, not being a trusted proxy,
// gains nothing by typing forwarded headers: its own address counts and
// its XFCC is ignored.
func TestForwardAuthUntrustedClient(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	proxy, stranger := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	reports := func() fwd {
		return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports",
			"Authorization": "Bearer " + w.MustToken("svc:reports", nil), "X-Forwarded-For": "10.40.7.7"}}
	}
	agent := func() fwd {
		return fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/tools",
			"Authorization": "Bearer " + w.MustToken("agent:bot", nil), "X-Forwarded-Client-Cert": w.xfcc(agentPath)}}
	}
	cases := []struct {
		name   string
		client *http.Client
		req    fwd
		status int
		from   string // X-Provost-Client, "" for none
	}{
		{"XFF from the proxy", proxy, reports(), 200, "10.40.7.7"},
		{"XFF typed by a stranger", stranger, reports(), 403, ""},
		{"XFCC from the proxy", proxy, agent(), 200, "127.0.0.1"},
		{"XFCC typed by a stranger", stranger, agent(), 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := c.req.do(t, c.client, r.url)
			if resp.StatusCode != c.status || resp.Header.Get(answer.HeaderClient) != c.from {
				t.Fatalf("status %d client %q, want %d %q (%s)", resp.StatusCode, resp.Header.Get(answer.HeaderClient), c.status, c.from, resp.Header.Get(answer.HeaderReasons))
			}
			if c.status != 200 && resp.Header.Get(answer.HeaderWorkload) != "" {
				t.Fatal("a typed XFCC named a workload")
			}
		})
		w.Clock.Advance(10 * time.Minute)
	}
	// The stranger's X-Original-* were ignored, and the log said so,
	// once: the sign of a proxy missing from trust.proxies.
	warned := 0
	for _, l := range w.logs.lines(t) {
		if msg, _ := l["msg"].(string); strings.Contains(msg, "not in trust.proxies sent X-Original-Method") {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d warnings about the untrusted header pair, want 1:\n%s", warned, w.logs)
	}
}

// What the trusted proxy reports is refused when it names the original
// request with another header pair than the configured one, lacks it, or
// describes a method or target that is not canonical.
func TestForwardAuthMalformed(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		field   string      // of the 400 problem
		reason  reason.Code // X-Provost-Reasons
	}{
		{"Traefik's pair at an nginx set-up", map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/x"}, 400, "X-Forwarded-Method", reason.ForwardAuthHeaderMismatch},
		{"both pairs", map[string]string{"X-Original-Method": "DELETE", "X-Original-URI": "/v1/admin", "X-Forwarded-Uri": "/v1/reports"}, 400, "X-Forwarded-Uri", reason.ForwardAuthHeaderMismatch},
		{"no URI", map[string]string{"X-Original-Method": "GET"}, 400, "X-Original-URI", reason.ForwardAuthHeaderMismatch},
		{"no method", map[string]string{"X-Original-URI": "/x"}, 400, "X-Original-Method", reason.ForwardAuthHeaderMismatch},
		{"lower-case method", map[string]string{"X-Original-Method": "get", "X-Original-URI": "/x"}, 403, "", reason.RequestMethodInvalid},
		{"absolute URI", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "https://evil/x"}, 403, "", reason.RequestTargetInvalid},
		{"dot-segments", map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports/../admin"}, 403, "", reason.RequestTargetInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", r.url+PathForwardAuth, nil)
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get(answer.HeaderReasons); resp.StatusCode != c.status || got != string(c.reason) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, got, c.status, c.reason)
			}
			if d := resp.Header.Get(answer.HeaderDecision); d != "deny" {
				t.Fatalf("X-Provost-Decision %q, want deny on every refusal", d)
			}
			if c.status == 400 {
				if p := readProblem(t, resp); p.Field != c.field {
					t.Fatalf("%+v, want a problem naming %s", p, c.field)
				}
			}
		})
	}
}

// originalRequest believes a header pair only from a trusted proxy, and
// only the configured one.
func TestOriginalRequest(t *testing.T) {
	spoof := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/v1/reports", "X-Original-Method": "GET", "X-Original-URI": "/v1/reports"}
	cases := []struct {
		mode           string
		trusted        bool
		method, target string
		headers        map[string]string
		wantM, wantT   string
		wantErr        string // the header named, "" for none
	}{
		{"nginx", true, "GET", "/v1/forward-auth", map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/u?v"}, "POST", "/u?v", ""},
		{"nginx", true, "GET", "/v1/forward-auth", map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/u", "X-Forwarded-Method": "GET"}, "", "", "X-Forwarded-Method"},
		{"nginx", true, "GET", "/v1/forward-auth", map[string]string{"X-Original-Method": "POST"}, "", "", "X-Original-URI"},
		{"traefik", true, "GET", "/v1/forward-auth", map[string]string{"X-Forwarded-Method": "PUT", "X-Forwarded-Uri": "/t"}, "PUT", "/t", ""},
		{"traefik", true, "GET", "/v1/forward-auth", map[string]string{"X-Forwarded-Method": "PUT", "X-Forwarded-Uri": "/t", "X-Original-URI": "/u"}, "", "", "X-Original-URI"},
		{"envoy", true, "DELETE", "/v1/forward-auth/a/b?c=d", nil, "DELETE", "/a/b?c=d", ""},
		{"envoy", true, "GET", "/v1/forward-auth?c=d", nil, "GET", "/?c=d", ""},
		{"envoy", true, "GET", "/v1/forward-auth/a%2Fb", nil, "GET", "/a%2Fb", ""},
		{"envoy", true, "GET", "/v1/forward-auth", map[string]string{"X-Original-Method": "POST"}, "", "", "X-Original-Method"},
		// From an untrusted peer every pair is ignored: the call is judged
		// as itself, whatever it claims.
		{"nginx", false, "DELETE", "/v1/forward-auth", spoof, "DELETE", "/", ""},
		{"traefik", false, "DELETE", "/v1/forward-auth/v1/admin", spoof, "DELETE", "/v1/admin", ""},
	}
	for _, c := range cases {
		s := New(Deps{}, config.Serve{ForwardAuth: config.ForwardAuth{Headers: c.mode}}, nil)
		r := httptest.NewRequest(c.method, c.target, nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		m, tg, err := s.originalRequest(r, c.trusted)
		if err != nil {
			if err.header != c.wantErr {
				t.Errorf("%s %v %v: refused naming %s, want %q", c.mode, c.trusted, c.headers, err.header, c.wantErr)
			}
			continue
		}
		if c.wantErr != "" || m != c.wantM || tg != c.wantT {
			t.Errorf("%s %v %s %s %v: %s %s, want %s %s (error %q)", c.mode, c.trusted, c.method, c.target, c.headers, m, tg, c.wantM, c.wantT, c.wantErr)
		}
	}
}
