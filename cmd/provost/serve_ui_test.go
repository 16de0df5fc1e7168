package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// uiConfig writes a configuration with the dashboard on and returns its
// path and the admin token.
func uiConfig(t *testing.T, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	tok := "adm_0123456789abcdef0123456789abcdef"
	h := sha256.Sum256([]byte(tok))
	cfg := filepath.Join(dir, "provost.yaml")
	body := "version: 1\ndata_dir: data\nadmin:\n  token_sha256: " + hex.EncodeToString(h[:]) + "\nui: {enabled: true}\n" + extra
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, tok
}

// `provost serve` mounts the dashboard on its listener when ui.enabled
// is set: a browser signs in with the admin token and sees the overview.
func TestServeDashboard(t *testing.T) {
	cfg, tok := uiConfig(t, "")
	addr, stop := serveCLI(t, "--config", cfg)
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/ui/login")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /ui/login: %d %v", resp.StatusCode, resp.Header)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field:\n%s", page)
	}
	resp, err := c.PostForm(base+"/ui/login", url.Values{"csrf": {m[1]}, "token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /ui/login: %d", resp.StatusCode)
	}
	if resp, page := get("/ui/"); resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-testid="decisions-chart"`) {
		t.Fatalf("GET /ui/ signed in: %d\n%s", resp.StatusCode, page)
	}
	// The API is where it was.
	if resp, _ := get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", resp.StatusCode)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// On the serve listener, the dashboard is refused beyond loopback without
// TLS, even when only --listen moved it there.
func TestServeDashboardRefusedInClear(t *testing.T) {
	cfg, _ := uiConfig(t, "")
	var errb bytes.Buffer
	code := cmdServe(t.Context(), []string{"--config", cfg, "--listen", "0.0.0.0:0"}, io.Discard, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "is not a loopback address and has no TLS") {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
}
