package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/provosttest"
)

// secretsBindings are the demo's bindings and one for the API key.
const secretsBindings = demo.Bindings + `  - name: billing
    match: {api_key: billing-sync}
    require: {networks: [datacenter]}
`

// TestSecretsScan (issue "Hardening"): a real `provost serve` with debug
// logging and the admin API judges the demo's scenarios and more, with
// credentials also sent in URL queries and as JSON member names; then the
// evidence is exported (JSON lines and OCSF) and the demo itself is run.
// Every answer (status, headers, body), every log line, every command's
// output and every file of the data directories is searched for any
// 20-character piece of the secret part of every credential, private key,
// server secret, evidence signing key and admin token used. Any piece
// found is a leak, reported with where it was found (masked).
func TestSecretsScan(t *testing.T) {
	scan := &leakScan{}
	w := provosttest.New(t, provosttest.Options{Bindings: secretsBindings, Proxies: []string{"127.0.0.1"}})
	w.Now = time.Now // the server judges on the real clock
	dataDir := filepath.Join(w.Dir, "data")

	adminToken := randomHex(t, 32)
	wrongAdminToken := randomHex(t, 32)
	apiKey := "sk_live_" + randomName(t, 24)     // 32 name characters: "plainly a field name"
	unknownKey := "sk_test_" + randomName(t, 40) // an API key no one configured
	queryOnlyKey := "qk_" + randomName(t, 29)    // only ever sent in a query
	scan.addSecret("admin token", "", windows(adminToken))
	scan.addSecret("wrong admin token", "", windows(wrongAdminToken))
	scan.addSecret("API key (configured)", "", windows(apiKey))
	scan.addSecret("API key (unknown)", "", windows(unknownKey))
	scan.addSecret("API key (query only)", "", windows(queryOnlyKey))

	// The API key is configured by fingerprint, made with the CLI (which
	// also creates the data directory's server secret).
	code, fpOut, fpErr := runCLI(t, apiKey+"\n", "fingerprint", "--config", w.ConfigFile())
	if code != exitOK {
		t.Fatalf("provost fingerprint: exit %d %s", code, fpErr)
	}
	scan.addSource("provost fingerprint output", []byte(fpOut+fpErr))
	sum := sha256.Sum256([]byte(adminToken))
	appendFile(t, w.ConfigFile(), fmt.Sprintf(`api_keys:
  - {name: billing-sync, fingerprint: %s, subject: billing-sync}
admin: {listen: 127.0.0.1:0, token_sha256: %s}
evidence: {redact_query_params: [sig]}
`, strings.TrimSpace(fpOut), hex.EncodeToString(sum[:])))

	srv := startServeCapture(t, true, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0", "--debug")
	api, adminURL := "http://"+srv.api, "http://"+srv.admin

	secret, err := os.ReadFile(filepath.Join(dataDir, fingerprint.SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	scan.addSecret("server secret (server.secret)", filepath.Join(dataDir, fingerprint.SecretFile), rawPieces(secret))
	logKeyFile := filepath.Join(dataDir, "evidence", "log.key")
	addNoteKey(t, scan, "evidence signing key (log.key)", logKeyFile)

	// Private keys: the world's issuer, attestor and CA keys (which never
	// reach Provost: they must not show up either), its hop keys, and the
	// clients' DPoP and SVID keys made below.
	for _, f := range []string{"issuer", "attestor", "caKey"} {
		scan.addSecret("private key: world "+f, "", privateKeyPieces(t, worldKey(t, w.World, f)))
	}
	for _, h := range []string{"edge", "gw"} {
		scan.addSecret("private key: hop "+h, "", privateKeyPieces(t, w.HopKey(h)))
	}
	newKey := func(name string) *ecdsa.PrivateKey {
		k := w.NewKey()
		scan.addSecret("private key: "+name, "", privateKeyPieces(t, k))
		return k
	}
	svid := func(path string) string {
		c, k := w.MustSVID(path)
		scan.addSecret("private key: SVID "+path, "", privateKeyPieces(t, k))
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	token := func(name, sub string, extra map[string]any) string {
		tok := w.MustToken(sub, extra)
		scan.addSecret("bearer token: "+name, "", jwtPieces(tok))
		return tok
	}
	proof := func(name string, k *ecdsa.PrivateKey, method, path, tok string) string {
		p := w.MustDPoPProof(k, method, path, tok)
		scan.addSecret("DPoP proof: "+name, "", jwtPieces(p))
		return p
	}

	ex := &exchanges{t: t, scan: scan}
	check := func(label string, doc map[string]any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(doc)
		_, b := ex.do(label, http.DefaultClient, http.MethodPost, api+"/v1/check", body, map[string]string{"Content-Type": "application/json"})
		var d map[string]any
		json.Unmarshal(b, &d)
		return d
	}
	want := func(label string, d map[string]any, decision string, reasons ...string) {
		t.Helper()
		var got []string
		rs, _ := d["reasons"].([]any)
		for _, r := range rs {
			code, _ := r.(map[string]any)["code"].(string)
			got = append(got, code)
		}
		if d["decision"] != decision {
			t.Errorf("%s: decision %v %v, want %s %v", label, d["decision"], got, decision, reasons)
		}
		for _, r := range reasons {
			if !slices.Contains(got, r) {
				t.Errorf("%s: reasons %v lack %s", label, got, r)
			}
		}
	}

	// 1. CI/CD runner: approved build host, then another host (revoked),
	// with credentials in the judged request's query.
	ci := token("ci-deploy", "repo:acme/deploy:ref:refs/heads/main", map[string]any{"repository": "acme/deploy"})
	d := check("ci from the build host", map[string]any{"method": "POST", "target": "/v1/deploy?access_token=" + ci + "&api_key=" + queryOnlyKey,
		"authorization": "Bearer " + ci, "peer": "127.0.0.20"})
	want("ci from the build host", d, "allow")
	d = check("ci from another host", map[string]any{"method": "POST", "target": "/v1/deploy?api_key=" + apiKey + "&sig=" + queryOnlyKey + "&token=" + ci,
		"authorization": "Bearer " + ci, "peer": "127.0.0.66"})
	want("ci from another host", d, "deny", "network_not_approved")
	d = check("ci after revocation", map[string]any{"method": "POST", "target": "/v1/deploy?apikey=" + apiKey, "authorization": "Bearer " + ci, "peer": "127.0.0.20"})
	want("ci after revocation", d, "deny", "revoked")

	// 2. An AI agent's token copied outside the runtime.
	agent := token("support-bot", "agent:support-bot", nil)
	d = check("agent from the runtime", map[string]any{"method": "GET", "target": "/v1/tools/search?key=" + agent, "authorization": "Bearer " + agent,
		"peer": "10.30.1.5", "client_cert": svid("/agents/support-bot")})
	want("agent from the runtime", d, "allow")
	d = check("agent copied", map[string]any{"method": "GET", "target": "/v1/tools/search", "authorization": "Bearer " + agent, "peer": "203.0.113.50"})
	want("agent copied", d, "deny", "copied_credential")

	// 3. Through the approved proxies, then around them.
	help := token("helpdesk", "integration:helpdesk", nil)
	d = check("helpdesk through edge > gw", map[string]any{"method": "GET", "target": "/v1/tickets", "authorization": "Bearer " + help, "peer": "10.60.0.8",
		"hops": []string{w.MustHops("GET", "/v1/tickets", help, "edge", "gw")}})
	want("helpdesk through edge > gw", d, "allow")
	d = check("helpdesk around the proxies", map[string]any{"method": "GET", "target": "/v1/tickets", "authorization": "Bearer " + help, "peer": "10.60.0.8"})
	want("helpdesk around the proxies", d, "deny", "proxy_chain_absent")

	// 4. A vendor handoff.
	vendor := token("vendor", "vendor:sync", nil)
	check("vendor A", map[string]any{"method": "GET", "target": "/v1/orders", "authorization": "Bearer " + vendor, "peer": "192.0.2.10"})
	check("vendor B", map[string]any{"method": "GET", "target": "/v1/orders", "authorization": "Bearer " + vendor, "peer": "198.51.100.77"})

	// 5. DPoP with workload identity and posture; then the proof replayed,
	// and a proof from another key.
	dk := newKey("DPoP key (customer-export)")
	export := token("customer-export (DPoP-bound)", "svc:customer-export", map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(dk)}})
	p := proof("customer-export", dk, "GET", "/v1/customers/export", export)
	d = check("export with evidence", map[string]any{"method": "GET", "target": "/v1/customers/export", "authorization": "DPoP " + export, "dpop": p,
		"peer": "10.40.0.9", "client_cert": svid("/exporter"), "posture": w.MustPosture("db-export-1", "hardened", export)})
	want("export with evidence", d, "allow")
	d = check("export proof replayed", map[string]any{"method": "GET", "target": "/v1/customers/export", "authorization": "DPoP " + export, "dpop": p, "peer": "10.40.0.9"})
	want("export proof replayed", d, "deny", "dpop_replayed")
	other := newKey("DPoP key (another)")
	d = check("export proof from another key", map[string]any{"method": "GET", "target": "/v1/customers/export", "authorization": "DPoP " + export,
		"dpop": proof("another key", other, "GET", "/v1/customers/export", export), "peer": "10.40.0.9"})
	want("export proof from another key", d, "deny", "dpop_key_mismatch")

	// 6. Shadow automation; a token with a broken signature; API keys.
	d = check("shadow", map[string]any{"method": "GET", "target": "/v1/things", "authorization": "Bearer " + token("shadow", "svc:nightly-cron", nil), "peer": "10.40.1.1"})
	want("shadow", d, "deny", "shadow_automation")
	forged := token("reports (signature altered)", "svc:reports", nil)
	forged = forged[:len(forged)-8] + "AAAAAAAA"
	scan.addSecret("bearer token: reports (signature altered)", "", jwtPieces(forged))
	d = check("forged signature", map[string]any{"method": "GET", "target": "/r", "authorization": "Bearer " + forged, "peer": "10.40.1.1"})
	want("forged signature", d, "deny")
	d = check("API key", map[string]any{"method": "GET", "target": "/v1/invoices?access_token=" + apiKey, "authorization": "Bearer " + apiKey, "peer": "10.40.1.1"})
	want("API key", d, "allow")
	d = check("API key elsewhere", map[string]any{"method": "GET", "target": "/v1/invoices", "authorization": "Bearer " + apiKey, "peer": "203.0.113.9"})
	want("API key elsewhere", d, "deny")
	d = check("unknown API key", map[string]any{"method": "GET", "target": "/v1/invoices", "authorization": "Bearer " + unknownKey, "peer": "10.40.1.1"})
	want("unknown API key", d, "deny", "opaque_credential_unknown")

	// 7. Forward-auth: from nginx (a trusted proxy) with credentials in the
	// original URI's query, and from a client that is not one, with
	// credentials in this call's own query.
	reports := token("reports", "svc:reports", nil)
	ex.do("forward-auth from nginx", http.DefaultClient, http.MethodGet, api+"/v1/forward-auth", nil, map[string]string{
		"X-Original-Method": "GET", "X-Original-URI": "/r?access_token=" + reports + "&api_key=" + apiKey,
		"Authorization": "Bearer " + reports, "X-Forwarded-For": "10.40.2.2"})
	ex.do("forward-auth direct", clientFrom("127.0.0.2"), http.MethodGet, api+"/v1/forward-auth/r?access_token="+reports+"&api_key="+queryOnlyKey, nil,
		map[string]string{"Authorization": "Bearer " + reports})
	ex.do("forward-auth with an unknown key", clientFrom("127.0.0.2"), http.MethodGet, api+"/v1/forward-auth/r?token="+unknownKey, nil,
		map[string]string{"Authorization": "Bearer " + unknownKey})

	// 8. Credentials where a check API body's member names belong, in
	// values that are refused, and in the check API's own URL.
	bad := func(label, body string) {
		t.Helper()
		resp, b := ex.do(label, http.DefaultClient, http.MethodPost, api+"/v1/check", []byte(body), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", label, resp.StatusCode, b)
		}
	}
	const pre = `{"method":"GET","target":"/",`
	bad("API key as a member name", pre+`"`+apiKey+`":1}`)
	bad("unknown API key as a member name", pre+`"`+unknownKey+`":1}`)
	bad("JWT as a member name", pre+`"`+reports+`":1}`)
	bad("API key as a nested member name", pre+`"hops":{"`+apiKey+`":1}}`)
	bad("admin token as a member name", pre+`"`+adminToken+`":true}`)
	bad("API key as the peer", pre+`"peer":"`+apiKey+`"}`)
	bad("API key in a refused target", `{"method":"GET","target":"/a b?api_key=`+apiKey+`"}`)
	bad("JWT as a method", `{"method":"`+reports+`","target":"/"}`)
	bad("JWT in an array", pre+`"authorization":["Bearer `+reports+`"]}`)
	ex.do("check API with credentials in its URL", http.DefaultClient, http.MethodPost, api+"/v1/check?access_token="+reports+"&api_key="+apiKey,
		[]byte(`{"method":"GET","target":"/r","authorization":"Bearer `+reports+`","peer":"10.40.1.1"}`), map[string]string{"Content-Type": "application/json"})
	ex.do("health probe with credentials in its URL", http.DefaultClient, http.MethodGet, api+"/healthz?access_token="+reports+"&api_key="+apiKey, nil, nil)
	ex.do("not found with credentials in its URL", http.DefaultClient, http.MethodGet, api+"/v1/nothing?api_key="+apiKey, nil, nil)

	// 9. The admin API: metrics, status, a wrong token, revocations by raw
	// credential (one by mistake as a fingerprint), list.
	bearer := map[string]string{"Authorization": "Bearer " + adminToken}
	ex.do("admin metrics", http.DefaultClient, http.MethodGet, adminURL+"/metrics", nil, bearer)
	ex.do("admin metrics with credentials in its URL", http.DefaultClient, http.MethodGet, adminURL+"/metrics?access_token="+adminToken+"&api_key="+apiKey, nil, bearer)
	ex.do("admin status", http.DefaultClient, http.MethodGet, adminURL+"/v1/status", nil, bearer)
	ex.do("admin status with a wrong token", http.DefaultClient, http.MethodGet, adminURL+"/v1/status", nil, map[string]string{"Authorization": "Bearer " + wrongAdminToken})
	revTok := token("revoked through the admin API", "svc:reports", nil)
	resp, _ := ex.do("admin revoke by credential", http.DefaultClient, http.MethodPost, adminURL+"/v1/revocations",
		[]byte(`{"credential":"`+revTok+`","reason":"leaked in chat"}`), map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("revoke by credential: status %d", resp.StatusCode)
	}
	ex.do("admin revoke with a credential as the fingerprint", http.DefaultClient, http.MethodPost, adminURL+"/v1/revocations",
		[]byte(`{"kind":"fingerprint","value":"`+apiKey+`"}`), map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"})
	ex.do("admin revoke with a JWT as the member name", http.DefaultClient, http.MethodPost, adminURL+"/v1/revocations",
		[]byte(`{"`+revTok+`":"x"}`), map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"})
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	revCLI := token("revoked with provost revoke", "svc:reports", nil)
	cli(t, scan, revCLI+"\n", "revoke", "--admin", adminURL, "--token-file", tokenFile, "--credential-stdin", "--reason", "test")
	cli(t, scan, "", "revocations", "--admin", adminURL, "--token-file", tokenFile, "--json")
	cli(t, scan, "", "admin", "status", "--admin", adminURL, "--token-file", tokenFile)
	ex.do("admin metrics at the end", http.DefaultClient, http.MethodGet, adminURL+"/metrics", nil, bearer)

	if code := srv.stop(); code != exitOK {
		t.Errorf("provost serve exited %d", code)
	}
	scan.addSource("provost serve --debug: stdout", srv.stdout.Bytes())
	scan.addSource("provost serve --debug: stderr (log)", srv.stderr.Bytes())
	if n := bytes.Count(srv.stderr.Bytes(), []byte(`"level":"DEBUG"`)); n == 0 {
		t.Error("the server wrote no debug line: is debug logging on?")
	}

	// 10. Evidence exported and investigated.
	cfg := w.ConfigFile()
	if out := cli(t, scan, "", "trail", "export", "--config", cfg, "--format", "jsonl"); strings.Count(out, "\n") < 20 {
		t.Errorf("trail export jsonl: %d lines", strings.Count(out, "\n"))
	}
	cli(t, scan, "", "trail", "export", "--config", cfg, "--format", "ocsf")
	cli(t, scan, "", "trail", "show", "--config", cfg, "--json")
	cli(t, scan, agent+"\n", "trail", "timeline", "--config", cfg, "--credential-stdin")
	cli(t, scan, apiKey+"\n", "trail", "show", "--config", cfg, "--credential-stdin", "--json")
	cli(t, scan, ci+"\n", "trail", "blast-radius", "--config", cfg, "--credential-stdin")
	cli(t, scan, "", "trail", "origins", "--config", cfg)
	cli(t, scan, "", "trail", "report", "--config", cfg, "--format", "markdown")
	cli(t, scan, "", "trail", "verify", "--config", cfg)
	files, size := scan.addDir(t, "data directory: ", dataDir)
	t.Logf("data directory: %d files, %d bytes", files, size)

	// Public material: the world's configuration, bindings, public keys
	// and CA certificate (the data directory is not public).
	entries, err := os.ReadDir(w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(w.Dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			scan.addPublic(b)
		}
	}

	// 11. The demo itself, with its logs and its kept deployment.
	scanDemo(t, scan)

	hits := scan.run()
	nsec, npieces, nsrc, nbytes := scan.counts()
	t.Logf("searched %d sources (%d bytes) for %d pieces of %d secrets (%d pieces dropped as public)", nsrc, nbytes, npieces, nsec, scan.dropped)
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].secret < hits[j].secret })
	for _, h := range hits {
		t.Errorf("LEAK of %s in %s: %d piece(s), first at byte %d: %q", h.secret, h.source, h.count, h.offset, h.context)
	}
}

// scanDemo runs `provost demo --keep -v` and adds its output, its log,
// its kept deployment and its secrets to scan. Any JWT in its output, log
// or data directory is a leak too (no raw token may be written anywhere).
func scanDemo(t *testing.T, scan *leakScan) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, out, stderr := runCLI(t, "", "demo", "--keep", "-v")
	if code != exitOK || !strings.Contains(out, "all 9 scenarios decided as expected") {
		t.Fatalf("provost demo: exit %d\n%s\n%s", code, out, stderr)
	}
	m := regexp.MustCompile(`generated deployment kept in (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], tmp) {
		t.Fatalf("provost demo --keep did not say where it kept its deployment (in %s):\n%s", tmp, out)
	}
	dir := m[1]
	data := filepath.Join(dir, "data")
	secret, err := os.ReadFile(filepath.Join(data, fingerprint.SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	scan.addSecret("demo: server secret (server.secret)", filepath.Join(data, fingerprint.SecretFile), rawPieces(secret))
	addNoteKey(t, scan, "demo: evidence signing key (log.key)", filepath.Join(data, "evidence", "log.key"))
	scan.addSource("provost demo -v: stdout", []byte(out))
	scan.addSource("provost demo -v: stderr (log)", []byte(stderr))
	if !strings.Contains(stderr, `"level":"INFO"`) {
		t.Error("provost demo -v wrote no log")
	}
	scan.addDir(t, "demo deployment: ", dir)
	// Any compact JWS (a raw token, proof or attestation) in what the demo
	// wrote: its tokens are made inside the demo, so they are found by form.
	jws := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}`)
	for name, b := range map[string][]byte{"stdout": []byte(out), "stderr": []byte(stderr)} {
		if jws.Match(b) {
			t.Errorf("LEAK: provost demo -v %s holds a compact JWS (a raw credential)", name)
		}
	}
	filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(path); err == nil && jws.Match(b) {
				t.Errorf("LEAK: the demo's data file %s holds a compact JWS (a raw credential)", path)
			}
		}
		return nil
	})
}

// addNoteKey adds the private key of a note signer key file (the evidence
// log's log.key, PRIVATE+KEY+name+hash+key): the key part as written, and
// its raw seed in every encoding. The name and hash are public (the
// verifier key holds them).
func addNoteKey(t *testing.T, scan *leakScan, name, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	skey := strings.TrimSpace(string(b))
	// PRIVATE+KEY+<name>+<hash>+<base64 key>: the name holds no '+', the
	// base64 key may.
	parts := strings.SplitN(strings.TrimPrefix(skey, "PRIVATE+KEY+"), "+", 3)
	if !strings.HasPrefix(skey, "PRIVATE+KEY+") || len(parts) != 3 {
		t.Fatalf("%s is not a note private key", path)
	}
	at := len(skey) - len(parts[2])
	pieces := piecesFrom(skey, at)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 {
		t.Fatalf("%s: the key is not base64 of an algorithm byte and a 32-byte seed", path)
	}
	pieces = append(pieces, rawPieces(raw[1:])...)
	scan.addSecret(name, path, pieces)
}

// worldKey reads one of a world's private keys (issuer, attestor, caKey),
// which provosttest keeps unexported: the scan must know them to look for
// them.
func worldKey(t *testing.T, w *provosttest.World, field string) *ecdsa.PrivateKey {
	t.Helper()
	v := reflect.ValueOf(w).Elem().FieldByName(field)
	if !v.IsValid() {
		t.Fatalf("provosttest.World has no field %q any more: update the leak scan", field)
	}
	k, ok := reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().Interface().(*ecdsa.PrivateKey)
	if !ok || k == nil {
		t.Fatalf("provosttest.World.%s is a %s, not an *ecdsa.PrivateKey", field, v.Type())
	}
	return k
}

// exchanges sends requests and adds every answer (status, headers, body)
// to the scan.
type exchanges struct {
	t    *testing.T
	scan *leakScan
}

func (e *exchanges) do(label string, cl *http.Client, method, u string, body []byte, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := cl.Do(req)
	if err != nil {
		e.t.Fatalf("%s: %v", label, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s: %v", label, err)
	}
	var rec bytes.Buffer
	fmt.Fprintf(&rec, "%s %s\n", resp.Proto, resp.Status)
	resp.Header.Write(&rec)
	rec.WriteString("\n")
	rec.Write(b)
	e.scan.addSource("answer to "+label+" ("+method+" "+(&url.URL{Path: req.URL.Path}).String()+")", rec.Bytes())
	return resp, b
}

// clientFrom connects from the loopback address from.
func clientFrom(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// cli runs a command and adds its standard output and error to the scan;
// it returns the standard output.
func cli(t *testing.T, scan *leakScan, stdin string, args ...string) string {
	t.Helper()
	code, out, stderr := runCLI(t, stdin, args...)
	if code != exitOK {
		t.Errorf("provost %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	scan.addSource("output of provost "+strings.Join(args[:min(2, len(args))], " ")+" "+strings.Join(flagsOnly(args[min(2, len(args)):]), " "), []byte(out+"\n"+stderr))
	return out
}

// flagsOnly keeps the --flags of args (not their values, which are paths
// or URLs), to name a command in a report.
func flagsOnly(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			out = append(out, a)
		}
	}
	return out
}

// servedProvost is `provost serve` run in this process, its output kept.
type servedProvost struct {
	api, admin     string
	stdout, stderr *scanBuffer
	stop           func() int
}

// startServeCapture runs `provost serve args...` until the test ends and
// waits for its listeners (and the admin listener when needAdmin).
func startServeCapture(t *testing.T, needAdmin bool, args ...string) *servedProvost {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &servedProvost{stdout: &scanBuffer{}, stderr: &scanBuffer{}}
	done := make(chan int, 1)
	go func() { done <- cmdServe(ctx, args, s.stdout, s.stderr) }()
	stopped, code := false, 0
	s.stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(15 * time.Second):
				t.Error("provost serve did not stop")
				code = -1
			}
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range bytes.Split(s.stderr.Bytes(), []byte("\n")) {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			switch m.Msg {
			case "listening":
				s.api = m.Addr
			case "admin listening":
				s.admin = m.Addr
			}
		}
		if s.api != "" && (s.admin != "" || !needAdmin) {
			return s
		}
		select {
		case c := <-done:
			t.Fatalf("provost serve exited %d before listening:\n%s", c, s.stderr.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("provost serve did not log its listeners:\n%s", s.stderr.Bytes())
	return nil
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// randomName is n random characters of [A-Za-z0-9].
func randomName(t *testing.T, n int) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
