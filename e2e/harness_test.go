package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/provosttest"
)

// maxAnswer bounds what the tests read of any answer.
const maxAnswer = 4 << 20

// buildProvost builds ../cmd/provost into a temporary folder.
// $E2E_PROVOST names a binary to use instead.
func buildProvost(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("E2E_PROVOST"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "provost")
	// Built in the main module (its go.mod and go.sum), not this one's.
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/provost")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/provost: %v\n%s", err, out)
	}
	return bin
}

// served is a `provost serve` process over a generated world, with its
// admin listener on, and (when asked) the dashboard.
type served struct {
	t     *testing.T
	bin   string
	w     *provosttest.T
	api   string // base URL of the check API listener
	admin string // base URL of the admin listener
	ui    string // base URL of the listener that serves /ui ("" when off)
	// adminToken and readonlyToken are the bearer tokens whose SHA-256
	// the configuration names for the admin and the read-only role.
	adminToken, readonlyToken string
	logFile                   string
	exitedEarly               bool // the process ended before listening
}

// startServed writes a world (the demo's bindings, 127.0.0.1 a trusted
// proxy so forward-auth's X-Forwarded-For counts), starts `provost serve`
// on it and waits for its listeners. With ui, the configuration turns the
// dashboard on, and the test fails unless one listener serves /ui/login.
// The server stops (SIGTERM, and must exit 0) when the test ends.
func startServed(t *testing.T, bin string, ui bool) *served {
	t.Helper()
	s := &served{t: t, bin: bin, adminToken: randomHex(t, 32), readonlyToken: randomHex(t, 32)}
	cfg := fmt.Sprintf(`admin:
  listen: 127.0.0.1:0
  token_sha256: %s
  rate_limit: {per_second: 1000, burst: 1000}
`, sha256Hex(s.adminToken))
	if ui {
		cfg += fmt.Sprintf("  readonly_token_sha256: %s\nui: {enabled: true}\n", sha256Hex(s.readonlyToken))
	}
	s.w = provosttest.New(t, provosttest.Options{Bindings: demo.Bindings, Proxies: []string{"127.0.0.1"}, Config: cfg})
	s.w.Now = time.Now // the server judges on the real clock
	s.logFile = filepath.Join(s.w.Dir, "serve.log")
	logf, err := os.Create(s.logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", s.w.ConfigFile(), "--listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting provost serve: %v", err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(cmd, exited) })
	s.waitListening(exited)
	if ui {
		s.ui = s.findUI()
	}
	return s
}

// stop ends the server with SIGTERM (SIGKILL after 15 s) and fails the
// test unless it exits 0. On failure the server's log is saved as an
// artifact.
func (s *served) stop(cmd *exec.Cmd, exited chan error) {
	if s.exitedEarly {
		s.saveLog()
		return // waitListening reported it
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			s.t.Errorf("provost serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
		s.t.Error("provost serve did not stop within 15 s of SIGTERM")
	}
	if s.t.Failed() {
		s.saveLog()
	}
}

func (s *served) saveLog() {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return
	}
	dir := artifactsDir()
	if os.MkdirAll(dir, 0o755) == nil {
		path := filepath.Join(dir, unsafeName.ReplaceAllString(s.t.Name(), "_")+"-serve.log")
		if os.WriteFile(path, b, 0o644) == nil {
			s.t.Logf("provost serve's log saved to %s", path)
		}
	}
}

// waitListening reads the server's JSON log until it names both listeners.
func (s *served) waitListening(exited chan error) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(s.logFile)
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			switch m.Msg {
			case "listening":
				s.api = "http://" + m.Addr
			case "admin listening":
				s.admin = "http://" + m.Addr
			}
		}
		if s.api != "" && s.admin != "" {
			return
		}
		select {
		case err := <-exited:
			s.exitedEarly = true
			s.t.Fatalf("provost serve exited (%v) before listening:\n%s", err, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(s.logFile)
	s.t.Fatalf("provost serve did not log both listeners in 30 s:\n%s", b)
}

// findUI finds the listener that serves the dashboard's login page: the
// check API's (as `provost serve` wires it) or else the admin one.
func (s *served) findUI() string {
	s.t.Helper()
	var seen []string
	for _, base := range []string{s.api, s.admin} {
		resp, err := apiClient().Get(base + "/ui/login")
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s: %v", base, err))
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			return base
		}
		seen = append(seen, fmt.Sprintf("%s: %s (%s)", base, resp.Status, resp.Header.Get("Content-Type")))
	}
	s.t.Fatalf("no listener serves the dashboard's GET /ui/login with ui.enabled: %s", strings.Join(seen, "; "))
	return ""
}

// answer is a check API answer, as far as the tests read it.
type answer struct {
	Decision   string
	Provenance string
	Binding    string
	Credential struct {
		Verdict     string
		Reason      string
		Fingerprint string
	}
	Reasons      []struct{ Code string }
	Actions      []string
	RevocationID string `json:"revocation_id"`
	Evidence     *struct{ Index int64 }
}

func (a answer) codes() []string {
	var c []string
	for _, r := range a.Reasons {
		c = append(c, r.Code)
	}
	return c
}

// apiClient is an HTTP client whose requests cannot hang a test.
func apiClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// check asks POST /v1/check for a decision on doc.
func (s *served) check(doc map[string]any) answer {
	s.t.Helper()
	body, err := json.Marshal(doc)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := apiClient().Post(s.api+"/v1/check", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST /v1/check: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	var a answer
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("POST /v1/check: %s %s", resp.Status, clip(string(b), 500))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		s.t.Fatalf("POST /v1/check: %v in %s", err, clip(string(b), 500))
	}
	return a
}

// forwardAuth asks /v1/forward-auth as nginx would, from 127.0.0.1 (a
// trusted proxy); it returns the status and the answer's headers.
func (s *served) forwardAuth(headers map[string]string) (int, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.api+"/v1/forward-auth", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := apiClient().Do(req)
	if err != nil {
		s.t.Fatalf("forward-auth: %v", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// revoked reports whether the admin API lists a revocation of the
// credential named by fingerprint.
func (s *served) revoked(fingerprint string) bool {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.admin+"/v1/revocations", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := apiClient().Do(req)
	if err != nil {
		s.t.Fatalf("GET /v1/revocations: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /v1/revocations: %s %s", resp.Status, clip(string(b), 300))
	}
	return bytes.Contains(b, []byte(`"`+fingerprint+`"`))
}

// get fetches base+path with an optional cookie header; it returns the
// status, headers and (bounded) body. Redirects are not followed.
func get(t *testing.T, url, cookie string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return send(t, req)
}

// send does req without following redirects.
func send(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	cl := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, resp.Header, b
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
