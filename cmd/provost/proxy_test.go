package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
)

const pxIssuer = "https://sts.proxy.test"

// pxWorld is a configuration directory with an issuer key, for running
// `provost proxy` in the test process.
type pxWorld struct {
	t   *testing.T
	dir string
	key *ecdsa.PrivateKey
}

func newPxWorld(t *testing.T, upstream, bindings string) *pxWorld {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &pxWorld{t: t, dir: t.TempDir(), key: key}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.write("jwks.json", string(jwks))
	w.write("bindings.yaml", bindings)
	w.write("provost.yaml", `version: 1
data_dir: data
bindings: bindings.yaml
issuers:
  - issuer: `+pxIssuer+`
    audiences: [api]
    algorithms: [ES256]
    jwks_file: jwks.json
proxy:
  listen: 127.0.0.1:0
  upstream: `+upstream+`
`)
	return w
}

func (w *pxWorld) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *pxWorld) token(sub string) string {
	w.t.Helper()
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": pxIssuer, "aud": "api", "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.key}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		w.t.Fatal(err)
	}
	obj, err := s.Sign(claims)
	if err != nil {
		w.t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// pxLog is standard error of a running command, safe to read while it writes.
type pxLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *pxLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *pxLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// waitFor polls the log until re matches, and returns the first submatch.
func (l *pxLog) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(l.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("log never matched %s:\n%s", re, l.String())
	return ""
}

const pxOpenBindings = `version: 1
mode: enforce
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require: {}
`

const pxClosedBindings = `version: 1
mode: enforce
networks:
  nowhere: [10.99.0.0/16]
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [nowhere]
    on_violation: deny
`

func TestProxyCommand(t *testing.T) {
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "upstream:"+r.Header.Get("X-Provost-Subject"))
	}))
	defer up.Close()
	w := newPxWorld(t, "http://127.0.0.1:1", pxOpenBindings)
	stderr := &pxLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	pidFile := filepath.Join(w.dir, "provost.pid")
	go func() {
		done <- cmdProxy(ctx, []string{"--config", filepath.Join(w.dir, "provost.yaml"), "--data-dir", filepath.Join(w.dir, "d"), "--upstream", up.URL, "--pid-file", pidFile}, io.Discard, stderr)
	}()
	addr := stderr.waitFor(t, regexp.MustCompile(`"msg":"proxy listening","addr":"([^"]+)"`))
	if pid := strings.TrimSpace(mustRead(t, pidFile)); pid != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file holds %q", pid)
	}
	tok := w.token("svc:reports")
	call := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/r?secret=q", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := call(); code != http.StatusOK || body != "upstream:svc:reports" {
		t.Fatalf("allowed request: %d %q", code, body)
	}

	// SIGHUP reloads the bindings: the same request is now denied.
	w.write("bindings.yaml", pxClosedBindings)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	stderr.waitFor(t, regexp.MustCompile(`"msg":"(configuration reloaded)"`))
	if code, _ := call(); code != http.StatusForbidden {
		t.Fatalf("after reload: status %d", code)
	}
	// A broken file keeps the loaded bindings.
	w.write("bindings.yaml", "version: 1\nbindings: [\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	stderr.waitFor(t, regexp.MustCompile(`"msg":"(reload failed)"`))
	if code, _ := call(); code != http.StatusForbidden {
		t.Fatalf("after a failed reload: status %d", code)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream called %d times", calls.Load())
	}

	// One JSON line per request, with fingerprint, decision, reasons,
	// status and latency; never the credential or the query.
	var requests []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if line["msg"] == "request" {
			requests = append(requests, line)
		}
	}
	if len(requests) != 3 {
		t.Fatalf("%d request lines:\n%s", len(requests), stderr.String())
	}
	for i, want := range []string{"allow", "deny", "deny"} {
		l := requests[i]
		if l["outcome"] != want || !strings.HasPrefix(l["fingerprint"].(string), "fp1:") || l["latency_seconds"] == nil || l["reasons"] == nil || l["status"] == nil {
			t.Errorf("request line %d: %v", i, l)
		}
	}
	if strings.Contains(stderr.String(), tok) || strings.Contains(stderr.String(), "secret=q") {
		t.Error("the log holds the credential or the query")
	}
}

func TestProxyCommandUsage(t *testing.T) {
	w := newPxWorld(t, "http://127.0.0.1:1", pxOpenBindings)
	cfg := filepath.Join(w.dir, "provost.yaml")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"extra argument", []string{"--config", cfg, "x"}, "usage: provost proxy"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"missing config", []string{"--config", filepath.Join(w.dir, "none.yaml")}, "no such file"},
		{"bad upstream", []string{"--config", cfg, "--upstream", "ftp://x"}, `proxy.upstream: "ftp://x" is not an http:// or https:// URL`},
		{"bad listen", []string{"--config", cfg, "--listen", "nowhere"}, `proxy.listen: "nowhere" is not host:port`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := cmdProxy(context.Background(), c.args, io.Discard, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr.String(), c.want)
			}
		})
	}
	// No upstream anywhere.
	w.write("provost.yaml", strings.Replace(mustRead(t, cfg), "  upstream: http://127.0.0.1:1\n", "", 1))
	var stderr bytes.Buffer
	if code := cmdProxy(context.Background(), []string{"--config", cfg}, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "proxy.upstream: is required") {
		t.Fatalf("no upstream: exit %d, %q", code, stderr.String())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var yamlBlockRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestKubernetesDoc parses every YAML block of docs/kubernetes.md, and
// checks the provost.yaml and bindings.yaml the ConfigMap carries with
// Provost's own strict parsers.
func TestKubernetesDoc(t *testing.T) {
	doc := mustRead(t, "../../docs/kubernetes.md")
	blocks := yamlBlockRE.FindAllStringSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("no yaml blocks")
	}
	kinds := map[string]bool{}
	checked := 0
	for i, b := range blocks {
		dec := yaml.NewDecoder(strings.NewReader(b[1]))
		for n := 0; ; n++ {
			var obj map[string]any
			err := dec.Decode(&obj)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("block %d, document %d: %v\n%s", i, n, err, b[1])
			}
			kind, _ := obj["kind"].(string)
			kinds[kind] = true
			if kind == "Deployment" {
				checkSidecar(t, obj)
			}
			if data, _ := obj["data"].(map[string]any); kind == "ConfigMap" && data["provost.yaml"] != nil {
				checkConfigMap(t, data)
				checked++
			}
		}
	}
	if checked != 1 {
		t.Errorf("%d ConfigMaps carry provost.yaml, want 1", checked)
	}
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service"} {
		if !kinds[k] {
			t.Errorf("the manifest has no %s", k)
		}
	}
}

func checkConfigMap(t *testing.T, data map[string]any) {
	t.Helper()
	pc, _ := data["provost.yaml"].(string)
	bs, _ := data["bindings.yaml"].(string)
	if pc == "" || bs == "" {
		t.Fatalf("ConfigMap lacks provost.yaml or bindings.yaml: %v", data)
	}
	c, err := config.Parse("/etc/provost/provost.yaml", []byte(pc))
	if err != nil {
		t.Fatalf("ConfigMap provost.yaml: %v", err)
	}
	p, err := c.ProxyConfig()
	if err != nil {
		t.Fatalf("ConfigMap provost.yaml proxy section: %v", err)
	}
	if !p.TLS.Enabled() || !p.Hop.Enabled() || !strings.HasPrefix(p.Upstream, "http://127.0.0.1:") || p.Listen != "0.0.0.0:8443" {
		t.Errorf("the sidecar should terminate TLS, sign hops and proxy to the app on loopback: %+v", p)
	}
	if _, err := binding.Parse("bindings.yaml", []byte(bs)); err != nil {
		t.Fatalf("ConfigMap bindings.yaml: %v", err)
	}
}

// checkSidecar finds the container running `provost proxy` and checks that
// it exposes the port proxy.listen names in the doc's configuration.
func checkSidecar(t *testing.T, deploy map[string]any) {
	t.Helper()
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name  string   `yaml:"name"`
						Args  []string `yaml:"args"`
						Ports []struct {
							ContainerPort int `yaml:"containerPort"`
						} `yaml:"ports"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	b, err := yaml.Marshal(deploy)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) < 2 {
		t.Fatalf("want the application and Provost in one pod, got %d containers", len(cs))
	}
	for _, c := range cs {
		if len(c.Args) > 0 && c.Args[0] == "proxy" {
			if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8443 {
				t.Errorf("provost container ports %+v, want 8443 (proxy.listen)", c.Ports)
			}
			return
		}
	}
	t.Error("no container runs `provost proxy`")
}
