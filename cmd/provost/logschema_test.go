package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The request log schema (docs/observability.md): every request line of
// serve, proxy and the admin API has these attributes, with these types.
var (
	requestLineCommon = []string{"time", "level", "msg", "request_id", "transport", "method", "path", "status", "latency_seconds", "peer"}
	requestLineJudged = []string{"outcome", "credential_verdict", "provenance", "reasons", "fingerprint"}
	requestLineAdmin  = []string{"route", "client"}
	// optional on judged lines
	requestLineMaybe = []string{"binding", "revocation_id", "problem", "field", "error"}
)

// requestLines returns the JSON request lines of logs, failing on a line
// that is not JSON.
func requestLines(t *testing.T, logs []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logs {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// checkSchema requires line to hold exactly the common attributes plus
// want, and any of maybe.
func checkSchema(t *testing.T, label string, line map[string]any, want, maybe []string) {
	t.Helper()
	required := append(slices.Clone(requestLineCommon), want...)
	var keys, missing, extra []string
	for k := range line {
		keys = append(keys, k)
		if !slices.Contains(required, k) && !slices.Contains(maybe, k) {
			extra = append(extra, k)
		}
	}
	for _, k := range required {
		if _, ok := line[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(keys)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: request line %v: missing %v, unexpected %v", label, keys, missing, extra)
	}
	id, _ := line["request_id"].(string)
	_, isFloat := line["latency_seconds"].(float64)
	_, isStatus := line["status"].(float64)
	if id == "" || !isFloat || !isStatus {
		t.Errorf("%s: request_id %v, latency_seconds %v, status %v", label, line["request_id"], line["latency_seconds"], line["status"])
	}
	if _, ok := line["reasons"]; ok {
		if _, isArray := line["reasons"].([]any); !isArray {
			t.Errorf("%s: reasons %v is not an array", label, line["reasons"])
		}
	}
}

// serve, its admin API and proxy write their request lines in one schema
// (request_id, latency_seconds in seconds, reasons as an array, the same
// names), through the redacting logger: a credential sent in a header and
// in the query is in no line.
func TestRequestLogSchema(t *testing.T) {
	setOTelEnv(t, nil)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	defer up.Close()
	sum := sha256.Sum256([]byte(twAdminToken))
	w := newTelemetryWorld(t, "admin: {listen: 127.0.0.1:0, token_sha256: "+hex.EncodeToString(sum[:])+"}\n"+
		"proxy: {listen: 127.0.0.1:0, upstream: "+up.URL+"}\n")
	secrets := []string{w.token, w.token[strings.LastIndex(w.token, ".")+1:], twAdminToken}
	noSecret := func(label string, logs []string) {
		t.Helper()
		for _, l := range logs {
			for _, s := range secrets {
				if strings.Contains(l, s) {
					t.Errorf("%s: a raw credential is logged: %s", label, l)
				}
			}
		}
	}

	// serve: the check API (allowed, denied), a route that judges
	// nothing, and the admin API.
	serve := startLogged(t, cmdServe, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0", "--debug")
	addr := serve.waitAddr(t, "listening")
	adminAddr := serve.waitAddr(t, "admin listening")
	allowID, _ := postCheck(t, addr, w.token, "10.40.2.2")
	denyID, _ := postCheck(t, addr, w.token, "203.0.113.7")
	resp, err := http.Get("http://" + addr + "/healthz?access_token=" + w.token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/v1/status?access_token="+w.token, nil)
	req.Header.Set("Authorization", "Bearer "+twAdminToken)
	req.Header.Set("X-Request-Id", "admin-call-1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin status: %s", resp.Status)
	}
	if code := serve.stop(t); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	seen := map[string]bool{}
	for _, l := range requestLines(t, serve.logged()) {
		id, _ := l["request_id"].(string)
		switch tr := l["transport"]; {
		case tr == "check_api" && (id == allowID || id == denyID):
			checkSchema(t, "serve check API", l, requestLineJudged, requestLineMaybe)
			want := map[string]string{allowID: "allow", denyID: "deny"}[id]
			if l["outcome"] != want || l["path"] != "/v1/check" {
				t.Errorf("check API line %v, want outcome %s", l, want)
			}
			seen[want] = true
		case tr == "serve" && l["path"] == "/healthz":
			checkSchema(t, "serve /healthz", l, nil, nil)
			seen["healthz"] = true
		case tr == "admin" && id == "admin-call-1":
			checkSchema(t, "admin API", l, requestLineAdmin, nil)
			if l["route"] != "GET /v1/status" || l["status"] != float64(200) {
				t.Errorf("admin line %v", l)
			}
			seen["admin"] = true
		}
	}
	for _, k := range []string{"allow", "deny", "healthz", "admin"} {
		if !seen[k] {
			t.Errorf("no %s request line in:\n%s", k, strings.Join(serve.logged(), "\n"))
		}
	}
	noSecret("serve", serve.logged())

	// proxy: an allowed request forwarded, a denied one refused.
	proxy := startLogged(t, cmdProxy, "--config", w.ConfigFile())
	paddr := proxy.waitAddr(t, "proxy listening")
	for _, tc := range []struct {
		id, token string
		status    int
	}{
		{"proxy-allowed", w.token, http.StatusOK},
		{"proxy-no-credential", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+paddr+"/r?access_token="+w.token, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		req.Header.Set("X-Request-Id", tc.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") != tc.id {
			t.Errorf("%s: answered X-Request-Id %q", tc.id, resp.Header.Get("X-Request-Id"))
		}
	}
	if code := proxy.stop(t); code != exitOK {
		t.Fatalf("proxy exited %d", code)
	}
	n := 0
	for _, l := range requestLines(t, proxy.logged()) {
		if l["transport"] == "proxy" && strings.HasPrefix(l["request_id"].(string), "proxy-") {
			checkSchema(t, "proxy", l, requestLineJudged, requestLineMaybe)
			if l["path"] != "/r" {
				t.Errorf("proxy line path %v", l["path"])
			}
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d proxy request lines:\n%s", n, strings.Join(proxy.logged(), "\n"))
	}
	noSecret("proxy", proxy.logged())
}

// --log-format text writes slog's key=value lines, with the same names,
// and still redacts; any other format is refused.
func TestLogFormatFlag(t *testing.T) {
	setOTelEnv(t, nil)
	w := newTelemetryWorld(t, "")
	run := startLogged(t, cmdServe, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0", "--log-format", "text")
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, l := range run.logged() {
			if _, rest, ok := strings.Cut(l, "msg=listening addr="); ok {
				addr, _, _ = strings.Cut(rest, " ")
			}
		}
	}
	if addr == "" {
		t.Fatalf("no listening line:\n%s", strings.Join(run.logged(), "\n"))
	}
	id, _ := postCheck(t, addr, w.token, "10.40.2.2")
	run.stop(t)
	found := false
	for _, l := range run.logged() {
		if strings.HasPrefix(l, "{") {
			t.Errorf("a JSON line under --log-format text: %s", l)
		}
		if strings.Contains(l, "request_id="+id) && strings.Contains(l, "msg=request") {
			found = true
			for _, k := range append(slices.Clone(requestLineCommon[1:]), requestLineJudged...) {
				if !strings.Contains(l, " "+k+"=") {
					t.Errorf("text request line lacks %s: %s", k, l)
				}
			}
		}
		if strings.Contains(l, w.token) {
			t.Errorf("the credential is logged: %s", l)
		}
	}
	if !found {
		t.Errorf("no text request line for %s:\n%s", id, strings.Join(run.logged(), "\n"))
	}

	for _, args := range [][]string{{"serve", "--log-format", "xml"}, {"proxy", "--log-format", "JSON"}} {
		cmd := cmdServe
		if args[0] == "proxy" {
			cmd = cmdProxy
		}
		var stderr strings.Builder
		if code := cmd(t.Context(), args[1:], io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "want json or text") {
			t.Errorf("%v: exit %d, %s", args, code, stderr.String())
		}
	}
}
