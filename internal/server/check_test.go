package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

type judged struct {
	name      string
	sub       string // "" sends no credential; "-" a garbage one
	claims    map[string]any
	peer      string
	xff       []string
	want      decision.Outcome
	wantCred  string
	wantCodes []reason.Code
}

var checkCases = []judged{
	{name: "allow", sub: "svc:reports", peer: "10.40.7.7", want: verdict.Allow, wantCred: "accepted"},
	{name: "provenance deny", sub: "svc:reports", peer: "203.0.113.9", want: verdict.Deny, wantCred: "accepted", wantCodes: []reason.Code{reason.NetworkNotApproved}},
	{name: "step up", sub: "vendor:sync", peer: "203.0.113.9", want: verdict.StepUp, wantCred: "accepted", wantCodes: []reason.Code{reason.NetworkNotApproved}},
	{name: "forwarded through a trusted proxy", sub: "svc:reports", peer: "127.0.0.1", xff: []string{"10.40.1.2"}, want: verdict.Allow, wantCred: "accepted"},
	{name: "expired", sub: "svc:reports", claims: map[string]any{"exp": 1}, peer: "10.40.7.7", want: verdict.Deny, wantCred: "rejected", wantCodes: []reason.Code{reason.Expired}},
	{name: "garbage credential", sub: "-", peer: "10.40.7.7", want: verdict.Deny, wantCred: "rejected"},
	{name: "no credential", peer: "10.40.7.7", want: verdict.Deny, wantCred: "rejected", wantCodes: []reason.Code{reason.TokenMissing}},
	{name: "no binding", sub: "svc:unknown", peer: "10.40.7.7", want: verdict.Deny, wantCred: "accepted", wantCodes: []reason.Code{reason.ShadowAutomation}},
}

func (w *fixture) authorization(c judged) string {
	switch c.sub {
	case "":
		return ""
	case "-":
		return "Bearer not.a.token"
	}
	return "Bearer " + w.MustToken(c.sub, c.claims)
}

func postJSON(t testing.TB, c *http.Client, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// The check API answers exactly what the engine decides for the same
// request: a second engine with the same configuration, secret and clock
// judges the same requests directly.
func TestCheckAPIMatchesEngine(t *testing.T) {
	w := newFixture(t)
	direct := w.App("direct").Engine
	r := w.start(config.Serve{})
	for _, c := range checkCases {
		t.Run(c.name, func(t *testing.T) {
			auth := w.authorization(c)
			doc := map[string]any{"method": "GET", "target": "/v1/reports?q=1", "authorization": auth, "peer": c.peer, "x_forwarded_for": c.xff}
			body, _ := json.Marshal(doc)
			resp, got := postJSON(t, http.DefaultClient, r.url+PathCheck, body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), got)
			}
			var answer map[string]any
			if err := json.Unmarshal(got, &answer); err != nil {
				t.Fatal(err)
			}
			if id, _ := answer["request_id"].(string); id == "" || id != resp.Header.Get(HeaderRequestID) {
				t.Errorf("request_id %q, header %q", answer["request_id"], resp.Header.Get(HeaderRequestID))
			}
			delete(answer, "request_id")
			if ev, _ := answer["evidence"].(map[string]any); ev == nil || ev["leaf_hash"] == "" {
				t.Errorf("no evidence reference in the answer: %v", answer["evidence"])
			}
			// Each engine writes its own log, and the record names the
			// request id: the references differ by design.
			delete(answer, "evidence")

			d, err := direct.Check(context.Background(), &provost.Request{Method: "GET", Target: "/v1/reports?q=1",
				Authorization: auth, Peer: netip.MustParseAddr(c.peer), XForwardedFor: c.xff})
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(d)
			var want map[string]any
			json.Unmarshal(wantJSON, &want)
			delete(want, "request_id")
			delete(want, "evidence")
			if !reflect.DeepEqual(answer, want) {
				t.Fatalf("check API and engine differ:\napi    %s\nengine %s", got, wantJSON)
			}
			if d.Outcome != c.want || string(d.Credential.Verdict) != c.wantCred {
				t.Fatalf("decision %s/%s, want %s/%s (%v)", d.Outcome, d.Credential.Verdict, c.want, c.wantCred, d.Reasons)
			}
			for _, code := range c.wantCodes {
				if !strings.Contains(string(got), `"code":"`+string(code)+`"`) {
					t.Errorf("reason %s missing: %s", code, got)
				}
			}
			if auth != "" && strings.Contains(w.logs.String(), strings.TrimPrefix(auth, "Bearer ")) {
				t.Fatal("a raw credential reached the log")
			}
		})
		w.Clock.Advance(10 * time.Minute)
	}
}

func TestCheckAPIMalformed(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{MaxBodyBytes: 4096})
	good := `{"method":"GET","target":"/x"}`
	cases := []struct {
		name        string
		method      string
		contentType string
		body        string
		status      int
		field       string
		detail      string
	}{
		{"unknown field", "POST", "application/json", `{"method":"GET","target":"/x","peer_addr":"1.2.3.4"}`, 400, "peer_addr", "unknown field"},
		{"wrong type", "POST", "application/json", `{"method":"GET","target":"/x","hops":"h"}`, 400, "hops", "must be a []string"},
		{"bad peer", "POST", "application/json", `{"method":"GET","target":"/x","peer":"host.example"}`, 400, "peer", "IP address"},
		{"bad cert", "POST", "application/json", `{"method":"GET","target":"/x","client_cert":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, 400, "client_cert", "X.509"},
		{"not PEM", "POST", "application/json", `{"method":"GET","target":"/x","client_cert":"hello"}`, 400, "client_cert", "PEM"},
		{"no method", "POST", "application/json", `{"target":"/x"}`, 400, "method", "required"},
		{"lower-case method", "POST", "application/json", `{"method":"get","target":"/x"}`, 400, "method", "upper-case"},
		{"absolute target", "POST", "application/json", `{"method":"GET","target":"https://x/y"}`, 400, "target", "starting with /"},
		{"at present", "POST", "application/json", `{"at":"2026-01-01T00:00:00Z","method":"GET","target":"/x"}`, 400, "at", "own clock"},
		{"not JSON", "POST", "application/json", `method=GET`, 400, "(body)", "not a JSON object"},
		{"empty body", "POST", "application/json", ``, 400, "(body)", "not a JSON object"},
		{"trailing data", "POST", "application/json", good + `{}`, 400, "(body)", "trailing data"},
		{"array", "POST", "application/json", `[]`, 400, "(body)", "must be a"},
		{"oversize", "POST", "application/json", `{"method":"GET","target":"/x","posture":"` + strings.Repeat("a", 5000) + `"}`, 413, "(body)", "larger than 4096 bytes"},
		{"wrong method", "GET", "", "", 405, "", "POST"},
		{"wrong method with body", "PUT", "application/json", good, 405, "", "POST"},
		{"wrong content type", "POST", "text/plain", good, 415, "Content-Type", "application/json"},
		{"no content type", "POST", "", good, 415, "Content-Type", "application/json"},
		{"form content type", "POST", "application/x-www-form-urlencoded", good, 415, "Content-Type", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, r.url+PathCheck, strings.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			p := readProblem(t, resp)
			if resp.StatusCode != c.status || p.Status != c.status {
				t.Fatalf("status %d (problem %d), want %d: %+v", resp.StatusCode, p.Status, c.status, p)
			}
			if p.Field != c.field || !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("problem %+v, want field %q and detail containing %q", p, c.field, c.detail)
			}
			if p.Type == "" || p.Title == "" || p.RequestID != resp.Header.Get(HeaderRequestID) {
				t.Fatalf("incomplete problem %+v", p)
			}
			if c.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func readProblem(t testing.TB, resp *http.Response) problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRequestID(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	body := []byte(`{"method":"GET","target":"/x","peer":"10.40.7.7"}`)
	cases := []struct {
		name, in string
		echoed   bool
	}{
		{"valid", "req-42.abc_DEF~1", true},
		{"absent", "", false},
		{"spaces", "a b", false},
		{"too long", strings.Repeat("a", 129), false},
		{"non-ASCII", "réq", false},
		{"longest", strings.Repeat("b", 128), true},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", r.url+PathCheck, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if c.in != "" {
				req.Header.Set(HeaderRequestID, c.in)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get(HeaderRequestID)
			if c.echoed != (id == c.in) || id == "" || !validRequestID(id) || seen[id] {
				t.Fatalf("request id %q for %q (echo %v)", id, c.in, c.echoed)
			}
			seen[id] = true
			if !strings.Contains(string(b), `"request_id":"`+id+`"`) {
				t.Fatalf("body lacks the request id: %s", b)
			}
			found := false
			for _, l := range w.logs.lines(t) {
				if l["request_id"] == id {
					found = l["msg"] == "request" && l["outcome"] == "deny" && l["status"] == float64(200)
				}
			}
			if !found {
				t.Fatalf("no log line for request %s:\n%s", id, w.logs)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", PathHealthz, 200, `{"status":"ok"}`},
		{"HEAD", PathHealthz, 200, ``},
		{"GET", PathReadyz, 200, `"status":"ready","bindings_digest":"sha256:`},
		{"POST", PathReadyz, 405, `method-not-allowed`},
		{"GET", "/nope", 404, `not-found`},
		{"GET", "/v1/checks", 404, `not-found`},
	} {
		req, _ := http.NewRequest(c.method, r.url+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	// readyz says 503 once the server is shutting down.
	r.srv.stopping.Store(true)
	rec := httptestGet(r.srv, PathReadyz)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "shutting_down") {
		t.Fatalf("readyz while stopping: %d %s", rec.Code, rec.Body)
	}
}
