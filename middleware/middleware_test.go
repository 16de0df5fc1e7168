package middleware_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/middleware"
	"github.com/provost-dev/provost/verdict"
)

// seen is what the protected handler saw of one request.
type seen struct {
	decision *provost.Decision
	ok       bool
	header   http.Header
}

// mw is o in the middleware tests' world.
func mw(o provosttest.Options) provosttest.Options { return provosttest.Middleware(o, "") }

// site is a real HTTP server on a loopback port whose handler is guarded
// by the middleware over a real engine. Its own URL is the external origin.
type site struct {
	*provosttest.T
	app *app.App
	url string

	mu      sync.Mutex
	reached []seen
}

func newSite(t *testing.T, o provosttest.Options, opts ...middleware.Option) *site {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	s := &site{url: "http://" + srv.Listener.Addr().String()}
	o.Origin = s.url
	s.T = provosttest.New(t, mw(o))
	s.app = s.App("")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := middleware.DecisionFrom(r.Context())
		s.mu.Lock()
		s.reached = append(s.reached, seen{decision: d, ok: ok, header: r.Header.Clone()})
		s.mu.Unlock()
		_, _ = io.WriteString(w, "reached")
	})
	srv.Config.Handler = middleware.New(s.app.Engine, opts...)(handler)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// take returns what the handler saw since the previous call.
func (s *site) take() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reached
	s.reached = nil
	return out
}

type reply struct {
	status int
	header http.Header
	body   string
	json   struct {
		Decision string   `json:"decision"`
		Reasons  []string `json:"reasons"`
	}
}

func (s *site) do(t *testing.T, method, path string, h map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(b, &r.json); err != nil {
			t.Fatalf("refusal body %q is not JSON: %v", b, err)
		}
	}
	return r
}

func TestMiddleware(t *testing.T) {
	s := newSite(t, provosttest.Options{})
	key := s.NewKey()
	other := s.NewKey()
	bound := s.MustBoundToken("svc:bound", key)
	cases := []struct {
		name      string
		path      string
		headers   func() map[string]string
		status    int
		outcome   string // of a refusal; "" means deny
		code      string // one reason code the decision must carry
		challenge string // WWW-Authenticate prefix; "" means none
	}{
		{name: "allow, client-typed identity headers stripped", path: "/v1/orders", status: 200, code: "provenance_verified",
			headers: func() map[string]string {
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:ok", nil),
					"X-Provost-Subject": "admin", "X-Provost-Decision": "allow", "X-Provost-Made-Up": "1"}
			}},
		{name: "no credential", path: "/v1/orders", status: 401, code: "token_missing", challenge: `Bearer realm="provost"`,
			headers: func() map[string]string { return nil }},
		{name: "expired credential", path: "/v1/orders", status: 401, code: "expired", challenge: `Bearer error="invalid_token"`,
			headers: func() map[string]string {
				past := s.Now().Add(-2 * time.Hour)
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:ok", map[string]any{"iat": past.Unix(), "exp": past.Add(time.Hour).Unix()})}
			}},
		{name: "forged signature", path: "/v1/orders", status: 401, code: "jws_bad_signature", challenge: `Bearer error="invalid_token"`,
			headers: func() map[string]string {
				forged := s.MustForgedToken(other, "svc:ok", nil)
				return map[string]string{"Authorization": "Bearer " + forged}
			}},
		{name: "provenance deny", path: "/v1/orders", status: 403, code: "network_not_approved",
			headers: func() map[string]string {
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:remote", nil)}
			}},
		{name: "typed X-Forwarded-For from an untrusted peer gains nothing", path: "/v1/orders", status: 403, code: "network_not_approved",
			headers: func() map[string]string {
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:remote", nil), "X-Forwarded-For": "10.9.1.1"}
			}},
		{name: "shadow automation", path: "/v1/orders", status: 403, code: "shadow_automation",
			headers: func() map[string]string {
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:nobody", nil)}
			}},
		{name: "step up", path: "/v1/orders", status: 401, outcome: "step_up", code: "network_not_approved", challenge: `Bearer error="invalid_token", error_description="re-authenticate`,
			headers: func() map[string]string {
				return map[string]string{"Authorization": "Bearer " + s.MustToken("svc:vendor", nil)}
			}},
		{name: "DPoP-bound token with a valid proof", path: "/v1/orders?page=2", status: 200,
			headers: func() map[string]string {
				return map[string]string{"Authorization": "DPoP " + bound, "DPoP": s.MustDPoPProof(key, "GET", "/v1/orders", bound)}
			}},
		{name: "DPoP-bound token as bearer", path: "/v1/orders", status: 401, code: "dpop_bound_token_as_bearer", challenge: `DPoP error="invalid_dpop_proof"`,
			headers: func() map[string]string { return map[string]string{"Authorization": "Bearer " + bound} }},
		{name: "DPoP proof for another origin", path: "/v1/orders", status: 401, code: "dpop_htu_mismatch", challenge: `DPoP error="invalid_dpop_proof"`,
			headers: func() map[string]string {
				return map[string]string{"Authorization": "DPoP " + bound, "DPoP": s.MustDPoPProofURL(key, "GET", "https://evil.test/v1/orders", bound, "")}
			}},
		{name: "DPoP proof from another key", path: "/v1/orders", status: 401, code: "dpop_key_mismatch", challenge: `DPoP error="invalid_dpop_proof"`,
			headers: func() map[string]string {
				return map[string]string{"Authorization": "DPoP " + bound, "DPoP": s.MustDPoPProof(other, "GET", "/v1/orders", bound)}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, "GET", c.path, c.headers())
			got := s.take()
			if r.status != c.status {
				t.Fatalf("status %d, want %d (body %s)", r.status, c.status, r.body)
			}
			if c.status == http.StatusOK {
				checkReached(t, got, r)
				if c.code != "" && !slices.Contains(codesOf(got[0].decision), c.code) {
					t.Errorf("reasons %v lack %s", codesOf(got[0].decision), c.code)
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("the handler was called for a refused request")
			}
			checkRefusal(t, r, c.code, c.challenge)
			if want := cmp.Or(c.outcome, "deny"); r.json.Decision != want {
				t.Errorf("decision %s, want %s", r.json.Decision, want)
			}
		})
	}
}

func checkReached(t *testing.T, got []seen, r reply) {
	t.Helper()
	if len(got) != 1 || r.body != "reached" {
		t.Fatalf("handler calls %d, body %q", len(got), r.body)
	}
	g := got[0]
	if !g.ok || g.decision == nil || g.decision.Outcome != verdict.Allow {
		t.Fatalf("the handler's context has no allow decision: ok=%v %+v", g.ok, g.decision)
	}
	if c := g.decision.Signals.Network.Client.String(); c != "127.0.0.1" {
		t.Errorf("network client %s, want the loopback peer", c)
	}
	for k := range g.header {
		if strings.HasPrefix(strings.ToLower(k), "x-provost-") {
			t.Errorf("the handler saw the client-typed header %s", k)
		}
	}
}

func checkRefusal(t *testing.T, r reply, code, challenge string) {
	t.Helper()
	if r.json.Decision == "" || r.json.Decision == "allow" || r.header.Get("X-Provost-Decision") != r.json.Decision {
		t.Errorf("decision %q, header %q", r.json.Decision, r.header.Get("X-Provost-Decision"))
	}
	if len(r.json.Reasons) == 0 || strings.Join(r.json.Reasons, ",") != r.header.Get("X-Provost-Reasons") {
		t.Errorf("reasons %v, header %q", r.json.Reasons, r.header.Get("X-Provost-Reasons"))
	}
	if code != "" && !slices.Contains(r.json.Reasons, code) {
		t.Errorf("reasons %v lack %s", r.json.Reasons, code)
	}
	www := r.header.Get("WWW-Authenticate")
	if (challenge == "") != (www == "") || !strings.HasPrefix(www, challenge) {
		t.Errorf("WWW-Authenticate %q, want prefix %q", www, challenge)
	}
	if r.status == http.StatusUnauthorized && www == "" {
		t.Error("a 401 without a challenge")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func codesOf(d *provost.Decision) []string {
	var out []string
	for _, c := range d.Codes() {
		out = append(out, string(c))
	}
	return out
}

// The engine asks for a DPoP nonce: 401 use_dpop_nonce with a DPoP-Nonce,
// and the retry carrying that nonce is allowed.
func TestDPoPNonce(t *testing.T) {
	s := newSite(t, provosttest.Options{Config: "dpop: {nonces: true}\n"})
	key := s.NewKey()
	tok := s.MustBoundToken("svc:bound", key)
	r := s.do(t, "POST", "/v1/orders", map[string]string{"Authorization": "DPoP " + tok, "DPoP": s.MustDPoPProof(key, "POST", "/v1/orders", tok)})
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != 401 || nonce == "" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) {
		t.Fatalf("first try: %d, nonce %q, challenge %q", r.status, nonce, r.header.Get("WWW-Authenticate"))
	}
	if len(s.take()) != 0 {
		t.Fatal("the handler was called without a nonce")
	}
	r = s.do(t, "POST", "/v1/orders", map[string]string{"Authorization": "DPoP " + tok, "DPoP": s.MustDPoPProofURL(key, "POST", s.url+"/v1/orders", tok, nonce)})
	if r.status != 200 || len(s.take()) != 1 {
		t.Fatalf("retry with the nonce: %d %s", r.status, r.body)
	}
}

// A gateway strips "/orders" before the service: the client's proof names
// the external URL, which WithTarget restores.
func TestWithTarget(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   []middleware.Option
		status int
	}{
		{"without WithTarget the proof names another URL", nil, 401},
		{"WithTarget restores the external path", []middleware.Option{middleware.WithTarget(func(r *http.Request) string {
			return "/orders" + r.URL.RequestURI()
		})}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSite(t, provosttest.Options{}, c.opts...)
			key := s.NewKey()
			tok := s.MustBoundToken("svc:bound", key)
			r := s.do(t, "GET", "/v1/list", map[string]string{"Authorization": "DPoP " + tok, "DPoP": s.MustDPoPProof(key, "GET", "/orders/v1/list", tok)})
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
		})
	}
}

// The same request through the middleware and through Engine.Check on
// provost.FromHTTP of it gives the same decision.
func TestSameDecisionAsEngine(t *testing.T) {
	var mu sync.Mutex
	var reqs []*provost.Request
	var decs []*provost.Decision
	s := newSite(t, provosttest.Options{}, middleware.WithOnDecision(func(r *http.Request, d *provost.Decision) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, provost.FromHTTP(r))
		decs = append(decs, d)
	}))
	headers := []map[string]string{
		{"Authorization": "Bearer " + s.MustToken("svc:ok", nil)},
		{"Authorization": "Bearer " + s.MustToken("svc:ok", nil), "X-Forwarded-For": "10.9.1.1"},
		{"Authorization": "Bearer " + s.MustToken("svc:remote", nil)},
		{"Authorization": "Bearer " + s.MustToken("svc:vendor", nil)},
		{"Authorization": "Bearer " + s.MustToken("svc:nobody", nil)},
		{"Authorization": "Bearer " + s.MustToken("svc:ok", map[string]any{"aud": "https://other.test"})},
		{"Authorization": "Basic dXNlcjpwYXNz"},
		{},
	}
	for i, h := range headers {
		r := s.do(t, "PUT", "/v1/items/7?x=1", h)
		if len(reqs) != i+1 {
			t.Fatalf("request %d: %d decisions seen", i, len(reqs))
		}
		want, err := s.app.Engine.Check(context.Background(), reqs[i])
		if err != nil {
			t.Fatal(err)
		}
		got := decs[i]
		if got.Outcome != want.Outcome || got.Credential.Verdict != want.Credential.Verdict ||
			got.Provenance != want.Provenance || !slices.Equal(got.Codes(), want.Codes()) {
			t.Errorf("request %d: middleware %s/%s/%s %v, engine %s/%s/%s %v", i,
				got.Outcome, got.Credential.Verdict, got.Provenance, got.Codes(),
				want.Outcome, want.Credential.Verdict, want.Provenance, want.Codes())
		}
		allowed := got.Outcome == verdict.Allow
		if (r.status == 200) != allowed || (!allowed && r.header.Get("X-Provost-Decision") != string(got.Outcome)) {
			t.Errorf("request %d: status %d for %s", i, r.status, got.Outcome)
		}
	}
	s.take()
}

// When the engine fails, the middleware refuses and logs the failure
// without the credential.
func TestFailClosed(t *testing.T) {
	var logs bytes.Buffer
	var lmu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&lmu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newSite(t, provosttest.Options{}, middleware.WithLogger(logger))
	tok := s.MustToken("svc:ok", nil)
	if r := s.do(t, "GET", "/", map[string]string{"Authorization": "Bearer " + tok}); r.status != 200 {
		t.Fatalf("before the failure: %d", r.status)
	}
	s.take()
	s.app.Close() // the stores are gone: every check fails
	r := s.do(t, "GET", "/", map[string]string{"Authorization": "Bearer " + tok})
	if r.status == 200 || len(s.take()) != 0 {
		t.Fatalf("failed engine: status %d, handler called", r.status)
	}
	lmu.Lock()
	defer lmu.Unlock()
	if !strings.Contains(logs.String(), "failed closed") {
		t.Errorf("no failure logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), strings.Split(tok, ".")[2]) {
		t.Error("the log holds the raw credential")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestDecisionFromOutside(t *testing.T) {
	if d, ok := middleware.DecisionFrom(context.Background()); ok || d != nil {
		t.Fatal("a decision outside the middleware")
	}
}

func TestNewNilEngine(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(nil) did not panic")
		}
	}()
	middleware.New(nil)
}
