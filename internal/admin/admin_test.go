package admin_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// syncBuffer is a log sink the server's goroutines may share.
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

type env struct {
	w    *admintest.World
	url  string
	logs *syncBuffer
	m    *telemetry.Metrics
}

func newEnv(t *testing.T, o admintest.Options) *env {
	w := admintest.New(t, o)
	e := &env{w: w, logs: &syncBuffer{}}
	e.m = telemetry.NewMetrics(telemetry.AppSources(w.App))
	e.url = w.Serve(e.m, telemetry.NewLogger(e.logs, slog.LevelDebug))
	return e
}

// call makes one request; auth is "token", "" (none) or a bad token.
func (e *env) call(t *testing.T, c *http.Client, auth, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch auth {
	case "":
	case "token":
		req.Header.Set("Authorization", "Bearer "+e.w.AdminToken)
	default:
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func problem(t *testing.T, resp *http.Response, body []byte) admin.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json (body %s)", ct, body)
	}
	var p admin.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != resp.StatusCode || p.Type != "about:blank" || p.Title == "" {
		t.Errorf("problem %+v for status %d", p, resp.StatusCode)
	}
	return p
}

var routes = []struct{ method, path, body string }{
	{"GET", "/v1/revocations", ""},
	{"POST", "/v1/revocations", `{"kind":"jti","value":"j1"}`},
	{"DELETE", "/v1/revocations/rev_00000000000000000000000000000000", ""},
	{"POST", "/v1/reload", ""},
	{"GET", "/v1/status", ""},
	{"GET", "/metrics", ""},
	{"GET", "/nowhere", ""},
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	refused := e.w.HTTPClient(e.w.ClientCert(admintest.RefusedCN, "spiffe://acme.test/other"))
	cases := []struct {
		name   string
		client *http.Client
		auth   string
		status int
		code   string
	}{
		{"no credential", c, "", 401, admin.CodeUnauthenticated},
		{"bad token", c, "Bearer not-the-token", 401, admin.CodeUnauthenticated},
		{"token as basic", c, "Basic " + e.w.AdminToken, 401, admin.CodeUnauthenticated},
		{"empty bearer", c, "Bearer ", 401, admin.CodeUnauthenticated},
		{"refused certificate", refused, "", 403, admin.CodeForbidden},
		{"refused certificate, bad token", refused, "Bearer nope", 401, admin.CodeUnauthenticated},
	}
	for _, tc := range cases {
		for _, r := range routes {
			t.Run(tc.name+" "+r.method+" "+r.path, func(t *testing.T) {
				resp, body := e.call(t, tc.client, tc.auth, r.method, r.path, r.body)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
				}
				if p := problem(t, resp, body); p.Code != tc.code {
					t.Errorf("code %q, want %q", p.Code, tc.code)
				}
				if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
	if list, _ := e.w.App.Revocations.List(context.Background()); len(list) != 0 {
		t.Errorf("unauthenticated calls created revocations: %+v", list)
	}
	if strings.Contains(e.logs.String(), e.w.AdminToken) {
		t.Error("the admin token was logged")
	}
}

func TestAuthenticated(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	cases := []struct {
		name   string
		client *http.Client
		auth   string
	}{
		{"token", e.w.HTTPClient(), "token"},
		{"token, scheme in lower case", e.w.HTTPClient(), "bearer " + e.w.AdminToken},
		{"allowed SPIFFE ID", e.w.HTTPClient(e.w.ClientCert("x", admintest.AllowedID)), ""},
		{"allowed subject", e.w.HTTPClient(e.w.ClientCert(admintest.AllowedCN, "")), ""},
		{"refused certificate with token", e.w.HTTPClient(e.w.ClientCert(admintest.RefusedCN, "")), "token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.call(t, tc.client, tc.auth, "GET", "/v1/status", "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var st admin.Status
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
			if st.BindingsDigest != e.w.App.Policy().Digest() || st.Version != "test" || len(st.Issuers) != 1 || st.Mode != "enforce" {
				t.Errorf("status %+v", st)
			}
			if resp.Header.Get(telemetry.HeaderRequestID) == "" {
				t.Error("no request id")
			}
		})
	}
}

func TestForeignCertificateFailsHandshake(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	// Without GetClientCertificate, Go's client would not even send a
	// certificate the server's CA list does not name; force it.
	foreign := e.w.ForeignClientCert()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:              e.w.ServerPool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil },
	}}}
	req, _ := http.NewRequest("GET", e.url+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+e.w.AdminToken) // even with the token
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a certificate from an untrusted CA got status %d", resp.StatusCode)
	}
	// Plain HTTP to the TLS listener gets nothing either.
	resp, err = http.Get(strings.Replace(e.url, "https://", "http://", 1) + "/v1/status")
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served")
		}
	}
}

func TestRevocationEnforced(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	tok := e.w.MustToken(admintest.Subject, map[string]any{"jti": "tok-1"})
	if d := e.w.Decide(tok); d.Outcome != verdict.Allow {
		t.Fatalf("before revocation: %s %+v", d.Outcome, d.Reasons)
	}
	body, _ := json.Marshal(admin.CreateRequest{Credential: tok, Reason: "leaked in a ticket"})
	resp, out := e.call(t, c, "token", "POST", "/v1/revocations", string(body))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	var rev admin.Revocation
	if err := json.Unmarshal(out, &rev); err != nil {
		t.Fatal(err)
	}
	if rev.Kind != "fingerprint" || rev.Value != e.w.App.Fingerprint(tok) || rev.Reason != "leaked in a ticket" {
		t.Errorf("revocation %+v", rev)
	}
	if resp.Header.Get("Location") != "/v1/revocations/"+rev.ID {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	d := e.w.Decide(tok)
	if d.Outcome != verdict.Deny || d.Credential.Reason != reason.Revoked || d.Credential.RevocationID != rev.ID {
		t.Fatalf("after revocation: %s %s %s", d.Outcome, d.Credential.Reason, d.Credential.RevocationID)
	}
	resp, out = e.call(t, c, "token", "GET", "/v1/revocations", "")
	var list admin.RevocationList
	if err := json.Unmarshal(out, &list); err != nil || resp.StatusCode != 200 || len(list.Revocations) != 1 || list.Revocations[0].ID != rev.ID {
		t.Fatalf("list: %d %s %v", resp.StatusCode, out, err)
	}
	if resp, out = e.call(t, c, "token", "DELETE", "/v1/revocations/"+rev.ID, ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, out)
	}
	if d := e.w.Decide(tok); d.Outcome != verdict.Allow {
		t.Fatalf("after delete: %s %+v", d.Outcome, d.Reasons)
	}
	resp, out = e.call(t, c, "token", "DELETE", "/v1/revocations/"+rev.ID, "")
	if resp.StatusCode != 404 || problem(t, resp, out).Code != admin.CodeNotFound {
		t.Fatalf("second delete: %d %s", resp.StatusCode, out)
	}
	// A jti revocation, scoped to the issuer, is enforced too.
	body, _ = json.Marshal(admin.CreateRequest{Kind: "jti", Value: "tok-1", Issuer: admintest.Issuer})
	if resp, out = e.call(t, c, "token", "POST", "/v1/revocations", string(body)); resp.StatusCode != 201 {
		t.Fatalf("jti: %d %s", resp.StatusCode, out)
	}
	if d := e.w.Decide(tok); d.Credential.Reason != reason.Revoked {
		t.Fatalf("after jti revocation: %s", d.Credential.Reason)
	}
	logs := e.logs.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, e.w.AdminToken) {
		t.Errorf("a credential was logged:\n%s", logs)
	}
	if !strings.Contains(logs, `"msg":"revocation created"`) || !strings.Contains(logs, rev.ID) {
		t.Errorf("no audit line for %s:\n%s", rev.ID, logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Count(line, `"request_id":"`) != 1 {
			t.Errorf("log line without exactly one request id: %s", line)
		}
	}
}

func TestCreateBad(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	tok := e.w.MustToken(admintest.Subject, nil)
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"value and credential", `{"kind":"fingerprint","value":"fp1:x","credential":"` + tok + `"}`, 400, "either value or credential"},
		{"credential for jti", `{"kind":"jti","credential":"` + tok + `"}`, 400, "only to kind fingerprint"},
		{"raw credential as value", `{"kind":"fingerprint","value":"` + tok + `"}`, 400, "never by the credential"},
		{"unknown kind", `{"kind":"email","value":"a@b"}`, 400, "unknown kind"},
		{"no kind", `{"value":"x"}`, 400, "kind is empty"},
		{"unknown field", `{"kind":"jti","value":"x","token":"` + tok + `"}`, 400, `unknown field "token"`},
		{"bad time", `{"kind":"subject","value":"s","issued_before":"` + tok + `"}`, 400, "issued_before is not an RFC 3339 time"},
		{"past expiry", `{"kind":"jti","value":"x","expires_at":"2001-01-01T00:00:00Z"}`, 400, "expires_at is not in the future"},
		{"issuer scope on binding", `{"kind":"binding","value":"b","issuer":"https://x"}`, 400, "only to jti and subject"},
		{"wrong type", `{"kind":3}`, 400, "field kind must be a string"},
		{"not JSON", `{"kind":`, 400, "cut short"},
		{"two objects", `{"kind":"jti","value":"x"}{}`, 400, "one JSON object"},
		{"too large", `{"kind":"jti","value":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.call(t, c, "token", "POST", "/v1/revocations", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			p := problem(t, resp, out)
			if !strings.Contains(p.Detail, tc.want) {
				t.Errorf("detail %q, want %q", p.Detail, tc.want)
			}
			if strings.Contains(string(out), tok) {
				t.Errorf("the credential was echoed: %s", out)
			}
		})
	}
	req, _ := http.NewRequest("POST", e.url+"/v1/revocations", strings.NewReader(`{"kind":"jti","value":"x"}`))
	req.Header.Set("Authorization", "Bearer "+e.w.AdminToken)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("text/plain body: %d", resp.StatusCode)
	}
	if resp, out := e.call(t, c, "token", "PUT", "/v1/status", ""); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Errorf("PUT /v1/status: %d %s", resp.StatusCode, out)
	}
	if list, _ := e.w.App.Revocations.List(context.Background()); len(list) != 0 {
		t.Errorf("bad requests created revocations: %+v", list)
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Error("the credential was logged")
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	tok := e.w.MustToken(admintest.Subject, nil)
	before := e.w.App.Policy().Digest()
	e.w.Write("bindings.yaml", strings.Replace(admintest.Bindings, "10.40.0.0/16", "10.41.0.0/16", 1))
	resp, out := e.call(t, c, "token", "POST", "/v1/reload", "")
	var rr admin.ReloadResult
	if err := json.Unmarshal(out, &rr); err != nil || resp.StatusCode != 200 || rr.BindingsDigest == before || rr.BindingsDigest != e.w.App.Policy().Digest() {
		t.Fatalf("reload: %d %s (%v)", resp.StatusCode, out, err)
	}
	if d := e.w.Decide(tok); d.Outcome != verdict.Deny {
		t.Fatalf("the reloaded bindings are not in force: %s", d.Outcome)
	}
	good := e.w.App.Policy().Digest()
	e.w.Write("bindings.yaml", "version: 1\nbindings: [{name: x, match: {}}]\nnot_a_field: 1\n")
	resp, out = e.call(t, c, "token", "POST", "/v1/reload", "")
	if resp.StatusCode != 422 {
		t.Fatalf("bad reload: %d %s", resp.StatusCode, out)
	}
	if p := problem(t, resp, out); p.Code != admin.CodeReloadFailed || !strings.Contains(p.Detail, "keeping the previous configuration") {
		t.Errorf("problem %+v", p)
	}
	if e.w.App.Policy().Digest() != good {
		t.Error("a failed reload changed the bindings")
	}
	if d := e.w.Decide(tok); d.Outcome != verdict.Deny || d.Binding != "reports" {
		t.Fatalf("after a failed reload: %s %q", d.Outcome, d.Binding)
	}
}

// Issue 14 item 2: requests are authenticated before they are rate
// limited. Failed attempts are limited per source address in a limiter of
// their own, authenticated requests per client: an unauthenticated flood
// from the operator's own address is answered 429 but leaves the
// operator's budget alone, and one client's flood leaves another's alone.
func TestRateLimitAuthenticatesFirst(t *testing.T) {
	const burst = 3
	// One token every 20 s: nothing refills while the test runs.
	e := newEnv(t, admintest.Options{PerSecond: 0.05, Burst: burst})
	c := e.w.HTTPClient() // every client of the test calls from 127.0.0.1
	refused := e.w.HTTPClient(e.w.ClientCert(admintest.RefusedCN, ""))
	ops := e.w.HTTPClient(e.w.ClientCert(admintest.AllowedCN, ""))

	// The unauthenticated flood: no token, a wrong token, a refused
	// certificate, all from the same address, all on one budget.
	var statuses []int
	for i := range 4 * burst {
		var resp *http.Response
		var body []byte
		switch i % 3 {
		case 0:
			resp, body = e.call(t, c, "", "GET", "/v1/status", "")
		case 1:
			resp, body = e.call(t, c, "Bearer not-the-token", "GET", "/v1/status", "")
		default:
			resp, body = e.call(t, refused, "", "GET", "/v1/status", "")
		}
		statuses = append(statuses, resp.StatusCode)
		if i < burst {
			continue
		}
		if resp.StatusCode != 429 {
			t.Fatalf("failed attempt %d: statuses %v, want 429 after %d", i+1, statuses, burst)
		}
		if p := problem(t, resp, body); p.Code != admin.CodeRateLimited {
			t.Errorf("problem %+v", p)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 20 {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	if want := []int{401, 401, 403}; !slices.Equal(statuses[:burst], want) {
		t.Fatalf("first failed attempts %v, want %v", statuses[:burst], want)
	}

	// The operator's authenticated calls from that same address go through.
	for i := range burst {
		body := `{"kind":"jti","value":"flood-` + strconv.Itoa(i) + `","reason":"issue 14"}`
		if resp, out := e.call(t, c, "token", "POST", "/v1/revocations", body); resp.StatusCode != 201 {
			t.Fatalf("operator's revocation %d of %d during the flood: %d %s", i+1, burst, resp.StatusCode, out)
		}
	}
	// The token client has spent its own budget now...
	resp, body := e.call(t, c, "token", "GET", "/v1/status", "")
	if resp.StatusCode != 429 || problem(t, resp, body).Code != admin.CodeRateLimited || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("token client past its burst: %d %s", resp.StatusCode, body)
	}
	// ...which does not starve another authenticated client.
	for i := range burst {
		if resp, out := e.call(t, ops, "", "GET", "/v1/status", ""); resp.StatusCode != 200 {
			t.Fatalf("certificate client call %d while the token client is limited: %d %s", i+1, resp.StatusCode, out)
		}
	}
	if resp, _ := e.call(t, ops, "", "GET", "/v1/status", ""); resp.StatusCode != 429 {
		t.Errorf("certificate client past its burst: %d", resp.StatusCode)
	}
	// And the failed attempts are still limited.
	if resp, _ := e.call(t, c, "", "GET", "/v1/status", ""); resp.StatusCode != 429 {
		t.Errorf("unauthenticated call after the others: %d", resp.StatusCode)
	}
	if list, _ := e.w.App.Revocations.List(context.Background()); len(list) != burst {
		t.Errorf("%d revocations, want %d", len(list), burst)
	}
}

func TestClient(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	ctx := context.Background()
	certFile, keyFile := e.w.ClientCertFiles("ops", admintest.AllowedCN, "")
	cl, err := admin.NewClient(admin.ClientOptions{URL: e.url, CertFile: certFile, KeyFile: keyFile, CAFile: e.w.ServerCAFile})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := cl.Revoke(ctx, admin.CreateRequest{Kind: "subject", Value: admintest.Subject, IssuedBefore: "2099-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.w.Decide(e.w.MustToken(admintest.Subject, nil)); d.Credential.Reason != reason.Revoked {
		t.Errorf("subject revocation not enforced: %s", d.Credential.Reason)
	}
	list, err := cl.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != rev.ID || list[0].IssuedBefore == nil {
		t.Fatalf("List: %+v %v", list, err)
	}
	if err := cl.Delete(ctx, rev.ID); err != nil {
		t.Fatal(err)
	}
	var p *admin.Problem
	if err := cl.Delete(ctx, rev.ID); !errors.As(err, &p) || p.Status != 404 {
		t.Errorf("second Delete: %v", err)
	}
	if st, err := cl.Status(ctx); err != nil || st.Revocations != 0 {
		t.Errorf("Status: %+v %v", st, err)
	}
	if _, err := cl.Reload(ctx); err != nil {
		t.Errorf("Reload: %v", err)
	}
	noAuth, err := admin.NewClient(admin.ClientOptions{URL: e.url, CAFile: e.w.ServerCAFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noAuth.List(ctx); !errors.As(err, &p) || p.Status != 401 || p.Code != admin.CodeUnauthenticated {
		t.Errorf("List without credentials: %v", err)
	}
	if _, err := admin.NewClient(admin.ClientOptions{URL: "http://admin.example:9443", Token: "t"}); err == nil {
		t.Error("a token would be sent over plain HTTP to a remote host")
	}
	if _, err := admin.NewClient(admin.ClientOptions{URL: "ftp://x"}); err == nil {
		t.Error("ftp URL accepted")
	}
}
