package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

// TestNginxForwardAuth runs the recipe of docs/nginx.md in a real nginx:
// the whole nginx.conf of the doc, in front of a real `provost serve`
// running the doc's provost.yaml and bindings.yaml, and of a small
// application that records what reaches it; only addresses, ports and file
// paths are changed. It checks
//
//   - an allowed request reaches the application with Provost's identity
//     headers, and nginx's access log names it by the request id Provost
//     recorded the decision under;
//   - a denied request (403, and 401 without a credential) shows the
//     client the reasons and the request id, as JSON and in headers, not
//     nginx's HTML page, and never reaches the application;
//   - a client that types the headers Provost or the application would
//     believe (X-Forwarded-Client-Cert, Client-Cert, X-Provost-*,
//     X-Forwarded-Method/-Uri, X-Original-Method/-URI, Forwarded,
//     Provost-Hop, Provost-Posture, Provost-Workload-JWT) changes nothing
//     Provost judges, and none of them reaches the application;
//   - a target nginx normalises (/v1/reports/../admin/users) does not pass
//     as the target the rule allows.
//
// If the recipe loses a line that blanks a client's header, this test fails.
func TestNginxForwardAuth(t *testing.T) {
	nginx := findNginx(t)
	rig := newNginxRig(t, nginx)
	t.Run("client-typed X-Forwarded-Method/Uri", func(t *testing.T) { rig.typedPair(t, "X-Forwarded-Method", "X-Forwarded-Uri") })
	t.Run("client-typed X-Original-Method/URI", func(t *testing.T) { rig.typedPair(t, "X-Original-Method", "X-Original-URI") })
	t.Run("allowed GET", rig.allowed)
	t.Run("denied: reasons and request id to the client", rig.denied)
	t.Run("no credential: 401 with the challenge", rig.unauthenticated)
	t.Run("spoofed identity headers", rig.spoofed)
	for _, target := range []string{
		"/v1/reports/../admin/users",
		"/v1/reports/%2e%2e/admin/users",
		"/v1/reports/..%2fadmin/users",
		"/v1/reports//../../v1/admin/users",
	} {
		t.Run("dot-segments "+target, func(t *testing.T) { rig.dotSegments(t, target) })
	}
	for _, pair := range [][2]string{{"X-Forwarded-Method", "X-Forwarded-Uri"}, {"X-Original-Method", "X-Original-URI"}} {
		t.Run("untrusted peer with "+pair[0], func(t *testing.T) { rig.untrusted(t, pair) })
	}
	t.Run("provost.yaml and bindings.yaml blocks", testNginxDocConfigs)
}

// nginxRig is the running recipe: nginx in front of Provost (through a
// tap that records each forward-auth call) and the application.
type nginxRig struct {
	w           *provosttest.World
	provostAddr string
	tap         *tap
	app         *recordingApp
	nx          *nginxProc
	ev          *evidenceTail
	bearer      string
	jwtCA       *workloadtest.CA // signs JWT-SVIDs Provost trusts
}

func newNginxRig(t *testing.T, nginx string) *nginxRig {
	t.Helper()
	dir := t.TempDir()
	// The doc's issuer, audience, origin and trust domain, with keys made
	// here.
	w, err := provosttest.Build(dir, provosttest.Options{Origin: "https://api.example.com", Issuer: "https://sts.example.com",
		Audience: "https://api.example.com", TrustDomain: "example.com", Proxies: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	jwtCA := workloadtest.NewCA(t, "example.com")
	cfg := writeNginxDocConfig(t, dir, jwtCA.JWTBundleFile(t, dir))
	r := &nginxRig{w: w, jwtCA: jwtCA}
	r.provostAddr, _ = serveCLI(t, "--config", cfg)
	// nginx reaches Provost through a tap on loopback that records each
	// forward-auth call's headers and passes it on unchanged; Provost's
	// peer is 127.0.0.1 either way.
	r.tap = newTap(t, r.provostAddr)
	r.app = newRecordingApp(t)
	r.nx = startNginx(t, nginx, dir, r.tap.addr, r.app.addr, filepath.Join(dir, "ca.pem"))
	r.ev = &evidenceTail{base: "http://" + r.provostAddr}
	r.ev.read(t) // start from the log's end
	tok, err := w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.bearer = "Bearer " + tok
	return r
}

// writeNginxDocConfig writes the provost.yaml and bindings.yaml of
// docs/nginx.md into dir, with file paths changed, the JWKS URL replaced by
// the file of the world's issuer keys, and more trust added (below); it
// returns the configuration file.
func writeNginxDocConfig(t *testing.T, dir, jwtBundle string) string {
	t.Helper()
	doc := mustRead(t, "../../docs/nginx.md")
	pc := nginxDocBlock(t, doc, "# provost.yaml\n")
	bs := nginxDocBlock(t, doc, "# bindings.yaml")
	for _, r := range [][2]string{
		{"data_dir: /var/lib/provost", "data_dir: " + filepath.Join(dir, "data")},
		{"jwks_url: https://sts.example.com/.well-known/jwks.json", "jwks_file: " + filepath.Join(dir, "issuer.jwks.json")},
		{"bindings: /etc/provost/bindings.yaml", "bindings: " + filepath.Join(dir, "nginx-bindings.yaml")},
		{"x509_bundle: /etc/provost/spiffe-ca.pem", "x509_bundle: " + filepath.Join(dir, "ca.pem") + ", jwt_bundle: " + jwtBundle},
		// More trust than the doc's, to make the test stricter:
		// trust.forwarded_header auto makes Provost read a Forwarded
		// header when there is one, so the recipe must not let the
		// client's through; the world's hop and posture signers and a
		// JWT-SVID bundle make the attestations a client sends valid, so
		// Provost allows the request and the test sees whether the
		// recipe keeps them from the application.
		{"\ntrust:\n", "\ntrust:\n  forwarded_header: auto\n" +
			"  hops: [{name: edge, public_key: " + filepath.Join(dir, "hop-edge.pem") + "}]\n" +
			"  attestors: [{name: hostguard, issuer: " + provosttest.AttestorIss + ", jwks_file: " + filepath.Join(dir, "attestor.jwks.json") + "}]\n"},
	} {
		if n := strings.Count(pc, r[0]); n != 1 {
			t.Fatalf("the provost.yaml of docs/nginx.md has %q %d times, want once: update this test with the doc", r[0], n)
		}
		pc = strings.Replace(pc, r[0], r[1], 1)
	}
	file := filepath.Join(dir, "nginx-provost.yaml")
	for name, text := range map[string]string{file: pc, filepath.Join(dir, "nginx-bindings.yaml"): bs} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// nginxDocBlock is the one ```yaml block of the nginx section of the doc
// (before ## Traefik) whose first line starts with first.
func nginxDocBlock(t *testing.T, doc, first string) string {
	t.Helper()
	doc, _, _ = strings.Cut(doc, "\n## Traefik\n")
	var found []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		if strings.HasPrefix(m[1], first) {
			found = append(found, m[1])
		}
	}
	if len(found) != 1 {
		t.Fatalf("docs/nginx.md has %d yaml blocks starting with %q before ## Traefik, want 1", len(found), first)
	}
	return found[0]
}

// fresh starts a subtest with nothing left over from an earlier one.
func (r *nginxRig) fresh(t *testing.T) {
	t.Helper()
	r.ev.read(t)
	r.tap.take()
	r.app.take()
}

// wantRecord checks there is one new decision, naming the request nginx
// received.
func (r *nginxRig) wantRecord(t *testing.T, method, path, decision string) nginxRecord {
	t.Helper()
	recs := r.ev.read(t)
	if len(recs) != 1 {
		t.Fatalf("%d new evidence records, want 1: %+v", len(recs), recs)
	}
	rec := recs[0]
	if rec.Request.Method != method || rec.Request.Path != path || rec.Decision != decision {
		t.Errorf("evidence names %s %s (%s), want %s %s (%s)", rec.Request.Method, rec.Request.Path, rec.Decision, method, path, decision)
	}
	return rec
}

// typedPair: a method and target header pair typed by the client behind
// nginx (Traefik's, or nginx's own): Provost must judge the real DELETE.
func (r *nginxRig) typedPair(t *testing.T, method, uri string) {
	r.fresh(t)
	status, _ := r.nx.do(t, "DELETE", "/v1/admin/users/42", map[string]string{
		"Authorization": r.bearer, method: "GET", uri: "/v1/reports",
	})
	if status != http.StatusForbidden {
		t.Errorf("status %d, want 403", status)
	}
	r.tap.want(t, "DELETE", "/v1/admin/users/42")
	r.app.wantNothing(t)
	r.wantRecord(t, "DELETE", "/v1/admin/users/42", "deny")
}

// allowed: what the binding allows reaches the application with
// Provost's identity headers, and the access log names the request by the
// id Provost recorded it under.
func (r *nginxRig) allowed(t *testing.T) {
	r.fresh(t)
	status, body := r.nx.do(t, "GET", "/v1/reports?x=1", map[string]string{"Authorization": r.bearer})
	if status != http.StatusOK || body != "app\n" {
		t.Fatalf("status %d %q, want 200 from the application", status, body)
	}
	id := r.tap.want(t, "GET", "/v1/reports?x=1")
	got := r.app.take()
	if len(got) != 1 || got[0].method != "GET" || got[0].uri != "/v1/reports?x=1" {
		t.Fatalf("the application received %+v, want GET /v1/reports?x=1", got)
	}
	rec := r.wantRecord(t, "GET", "/v1/reports", "allow")
	h := got[0].header
	for name, want := range map[string]string{
		"X-Provost-Decision": "allow", "X-Provost-Credential": "accepted", "X-Provost-Provenance": "verified",
		"X-Provost-Binding": "reports-read-only", "X-Provost-Subject": "svc:reports", "X-Provost-Issuer": "https://sts.example.com",
		"X-Provost-Client": nginxClient, "X-Request-Id": id,
	} {
		if v := h.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("%s at the application: %q, want %q", name, v, want)
		}
	}
	if ev := h.Get("X-Provost-Evidence"); !strings.HasPrefix(ev, strconv.FormatInt(rec.index, 10)+" ") {
		t.Errorf("X-Provost-Evidence at the application: %q, want record %d", ev, rec.index)
	}
	if rec.Signals.Network.Peer != "127.0.0.1" || rec.Signals.Network.Client != nginxClient {
		t.Errorf("evidence names peer %q, client %q; want nginx (127.0.0.1) and %s", rec.Signals.Network.Peer, rec.Signals.Network.Client, nginxClient)
	}
	if rec.RequestID != id || id == "" {
		t.Errorf("the evidence record names request %q, nginx sent Provost %q", rec.RequestID, id)
	}
	if line := r.nx.logLine(t, id); !strings.Contains(line, "decision=allow ") {
		t.Errorf("the access log line does not name the decision: %s", line)
	}
}

// refusal is the JSON body the recipe answers a refusal with.
type refusal struct {
	Decision  string `json:"decision"`
	Reasons   string `json:"reasons"`
	RequestID string `json:"request_id"`
}

// wantRefusal checks a refusal as the client sees it: JSON naming the
// decision, the reasons and the request id of the evidence record, the
// same in headers, and the access log line naming the request id.
func (r *nginxRig) wantRefusal(t *testing.T, h http.Header, body string, rec nginxRecord, id string) {
	t.Helper()
	var got refusal
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json (not nginx's HTML page): %s", ct, body)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("the refusal is not JSON: %v: %q", err, body)
	}
	want := refusal{Decision: rec.Decision, Reasons: rec.codes(), RequestID: rec.RequestID}
	if got != want || want.Reasons == "" || want.RequestID != id {
		t.Errorf("the client sees %+v, want %+v (the evidence record's; nginx sent Provost request id %q)", got, want, id)
	}
	for name, v := range map[string]string{"X-Provost-Decision": want.Decision, "X-Provost-Reasons": want.Reasons, "X-Request-Id": id} {
		if g := h.Values(name); len(g) != 1 || g[0] != v {
			t.Errorf("%s to the client: %q, want %q", name, g, v)
		}
	}
	if line := r.nx.logLine(t, id); !strings.Contains(line, "decision="+want.Decision+" ") || !strings.Contains(line, "reasons="+want.Reasons+" ") {
		t.Errorf("the access log line does not name the decision and reasons: %s", line)
	}
}

// denied: a request the binding refuses is 403 with the reasons and the
// request id, and never reaches the application.
func (r *nginxRig) denied(t *testing.T) {
	r.fresh(t)
	status, h, body := r.nx.request(t, "DELETE", "/v1/reports/7", map[string]string{"Authorization": r.bearer})
	if status != http.StatusForbidden {
		t.Errorf("status %d, want 403", status)
	}
	id := r.tap.want(t, "DELETE", "/v1/reports/7")
	r.app.wantNothing(t)
	rec := r.wantRecord(t, "DELETE", "/v1/reports/7", "deny")
	r.wantRefusal(t, h, body, rec, id)
}

// unauthenticated: no credential is 401 with Provost's challenge, once,
// and the reasons and request id.
func (r *nginxRig) unauthenticated(t *testing.T) {
	r.fresh(t)
	status, h, body := r.nx.request(t, "GET", "/v1/reports", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", status)
	}
	id := r.tap.want(t, "GET", "/v1/reports")
	r.app.wantNothing(t)
	rec := r.wantRecord(t, "GET", "/v1/reports", "deny")
	r.wantRefusal(t, h, body, rec, id)
	if c := h.Values("WWW-Authenticate"); len(c) != 1 || c[0] != `Bearer realm="provost"` {
		t.Errorf("WWW-Authenticate to the client: %q, want Provost's one challenge", c)
	}
}

// spoofed: every header Provost or the application would believe, typed
// by the client: Provost believes none (the SVID is real, from the trust
// bundle Provost has, so it would believe a Client-Cert the recipe let
// through), and none reaches the application.
func (r *nginxRig) spoofed(t *testing.T) {
	r.fresh(t)
	svid, _, err := r.w.SVID("/payroll")
	if err != nil {
		t.Fatal(err)
	}
	sf := func(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }
	typed := map[string]string{
		"X-Forwarded-For":         "10.40.2.2",
		"Forwarded":               "for=10.40.2.2",
		"X-Forwarded-Host":        "evil.example",
		"X-Forwarded-Proto":       "http",
		"Client-Cert":             sf(svid.Raw),
		"Client-Cert-Chain":       sf(r.w.CA().Raw),
		"X-Forwarded-Client-Cert": "By=spiffe://example.com/app;URI=spiffe://example.com/payroll;Cert=\"" + sf(svid.Raw) + "\"",
		"X-Forwarded-Method":      "GET",
		"X-Forwarded-Uri":         "/v1/reports?x=2",
		"X-Original-Method":       "GET",
		"X-Original-URI":          "/v1/reports?x=2",
	}
	for _, name := range answer.IdentityHeaders {
		typed[name] = "typed-by-the-client"
	}
	typed["X-Provost-Workload"] = "spiffe://example.com/payroll"
	hdr := map[string]string{"Authorization": r.bearer}
	for k, v := range typed {
		hdr[k] = v
	}
	status, _ := r.nx.do(t, "GET", "/v1/reports?x=2", hdr)
	if status != http.StatusOK {
		t.Errorf("status %d, want 200", status)
	}
	r.tap.want(t, "GET", "/v1/reports?x=2")
	rec := r.wantRecord(t, "GET", "/v1/reports", "allow")
	if rec.Signals.Workload.Present || rec.Signals.Workload.ID != "" {
		t.Errorf("Provost believed a client-typed certificate header: workload %+v, reasons %v", rec.Signals.Workload, rec.Reasons)
	}
	if rec.Signals.Network.Client != nginxClient {
		t.Errorf("Provost resolved the client to %q, want %s", rec.Signals.Network.Client, nginxClient)
	}
	got := r.app.take()
	if len(got) != 1 {
		t.Fatalf("the application received %d requests, want 1", len(got))
	}
	h := got[0].header
	for _, name := range []string{"Forwarded", "Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert",
		"X-Forwarded-Method", "X-Forwarded-Uri", "X-Original-Method", "X-Original-URI", "X-Provost-Workload"} {
		if v := h.Values(name); len(v) > 0 {
			t.Errorf("the application received the client's %s: %q", name, v)
		}
	}
	if h.Get("X-Forwarded-Host") != "api.example.com" || h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("the application received X-Forwarded-Host %q, X-Forwarded-Proto %q; want nginx's api.example.com, https",
			h.Values("X-Forwarded-Host"), h.Values("X-Forwarded-Proto"))
	}
	for _, name := range answer.IdentityHeaders {
		if v := h.Values(name); len(v) > 1 || len(v) == 1 && v[0] == typed[name] {
			t.Errorf("the application received the client's %s: %q", name, v)
		}
	}
	if h.Get("X-Provost-Decision") != "allow" || h.Get("X-Provost-Subject") != "svc:reports" {
		t.Errorf("X-Provost-Decision, -Subject at the application: %q %q", h.Values("X-Provost-Decision"), h.Values("X-Provost-Subject"))
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || !strings.HasSuffix(xff[0], ", "+nginxClient) {
		t.Errorf("X-Forwarded-For at the application: %q, want nginx's, ending in %s", xff, nginxClient)
	}
	r.spoofedAttestations(t)
}

// spoofedAttestations: hop, posture and JWT-SVID headers the client sends
// reach Provost, which checks their signatures (here they are valid), but
// not the application, which would not check them.
func (r *nginxRig) spoofedAttestations(t *testing.T) {
	t.Helper()
	r.fresh(t)
	// A credential of its own: the same one from a new origin (a workload,
	// a posture, a proxy chain) would be a copied credential.
	tok, err := r.w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	hops, err := r.w.Hops("GET", "/v1/reports?x=3", tok, "edge")
	if err != nil {
		t.Fatal(err)
	}
	posture, err := r.w.Posture("build-7", "self-hosted", tok)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Authorization": "Bearer " + tok, "Provost-Hop": hops, "Provost-Posture": posture,
		"Provost-Workload-JWT": r.jwtCA.SignJWTSVID(t, "spiffe://example.com/agent", "provost", time.Now().Add(time.Hour))}
	status, body := r.nx.do(t, "GET", "/v1/reports?x=3", hdr)
	r.tap.want(t, "GET", "/v1/reports?x=3")
	rec := r.wantRecord(t, "GET", "/v1/reports", "allow")
	if rec.Signals.Workload.ID != "spiffe://example.com/agent" {
		t.Errorf("Provost did not verify the JWT-SVID: workload %+v", rec.Signals.Workload)
	}
	got := r.app.take()
	if status != http.StatusOK || len(got) != 1 {
		// The binding requires none of them: Provost allows, and the
		// application must see the request without them.
		t.Fatalf("status %d %q, %d requests at the application; want 200 and 1", status, body, len(got))
	}
	for name := range hdr {
		if v := got[0].header.Values(name); name != "Authorization" && len(v) > 0 {
			t.Errorf("the application received the client's %s: %q", name, v)
		}
	}
}

// dotSegments: a target nginx normalises before routing, but passes on raw
// in $request_uri and to the application, is not the /v1/reports the rule
// allows.
func (r *nginxRig) dotSegments(t *testing.T, target string) {
	r.fresh(t)
	status, _ := r.nx.raw(t, "GET "+target+" HTTP/1.1", map[string]string{"Authorization": r.bearer})
	if status != http.StatusForbidden {
		t.Errorf("status %d, want 403", status)
	}
	r.tap.want(t, "GET", target)
	r.app.wantNothing(t)
	recs := r.ev.read(t)
	if len(recs) != 1 {
		t.Fatalf("%d new evidence records, want 1: %+v", len(recs), recs)
	}
	if rec := recs[0]; rec.Decision != "deny" || rec.Credential.Reason != "request_target_invalid" {
		t.Errorf("evidence records %s (%s), want deny (request_target_invalid): %+v", rec.Decision, rec.Credential.Reason, rec)
	}
}

// untrusted: a client that reaches Provost directly is not a trusted
// proxy: both pairs are ignored and the call is judged as itself.
func (r *nginxRig) untrusted(t *testing.T, pair [2]string) {
	r.fresh(t)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequest("DELETE", "http://"+r.provostAddr+"/v1/forward-auth/v1/admin/users/42", nil)
	req.Header.Set("Authorization", r.bearer)
	req.Header.Set(pair[0], "GET")
	req.Header.Set(pair[1], "/v1/reports")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("forward-auth from 127.0.0.2: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d (%s), want 403", resp.StatusCode, resp.Header.Get("X-Provost-Reasons"))
	}
	rec := r.wantRecord(t, "DELETE", "/v1/admin/users/42", "deny")
	if rec.Signals.Network.Peer != "127.0.0.2" {
		t.Errorf("evidence names the peer %q, want 127.0.0.2", rec.Signals.Network.Peer)
	}
}

// testNginxDocConfigs: the provost.yaml blocks of the doc are valid
// configuration, the nginx one complete (issuers and bindings), and its
// bindings.yaml a valid bindings file.
func testNginxDocConfigs(t *testing.T) {
	doc := mustRead(t, "../../docs/nginx.md")
	blocks := regexp.MustCompile("(?s)```yaml\n(# provost\\.yaml\n.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) != 3 {
		t.Fatalf("%d provost.yaml blocks in docs/nginx.md, want 3 (nginx, Traefik, Envoy)", len(blocks))
	}
	for i, want := range []string{"nginx", "traefik", "envoy"} {
		text := blocks[i][1]
		if !strings.Contains(text, "\nversion:") {
			text = "version: 1\n" + text
		}
		cfg, err := config.Parse("docs/nginx.md", []byte(text))
		if err != nil {
			t.Errorf("%v\n%s", err, blocks[i][1])
			continue
		}
		if got := cfg.Serve.ForwardAuth.Headers; got != want {
			t.Errorf("provost.yaml block %d sets serve.forward_auth.headers %q, want %q", i+1, got, want)
		}
		if i == 0 && (len(cfg.Issuers) == 0 || cfg.Bindings == "" || len(cfg.Trust.Proxies) == 0) {
			t.Errorf("the nginx provost.yaml of docs/nginx.md lacks issuers, bindings or trust.proxies:\n%s", text)
		}
	}
	if _, err := binding.Parse("bindings.yaml", []byte(nginxDocBlock(t, doc, "# bindings.yaml"))); err != nil {
		t.Errorf("the bindings.yaml of docs/nginx.md: %v", err)
	}
}
