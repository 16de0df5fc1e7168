package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testReceipt downloads the copied token's denial's receipt from the
// dashboard (as the decision page links it), and verifies it as a third
// party would: offline, with `provost receipt verify` and nothing but the
// log's verifier key. It then runs the investigation's `provost trail`
// queries (docs/investigate.md) on the server's data directory.
func testInvestigation(t *testing.T, b *browser, s *served, p *played) {
	cookie := sessionCookie + "=" + b.cookie(s.ui, sessionCookie)
	path := fmt.Sprintf("/ui/api/receipts/%d", p.copied.copiedIndex)
	var body []byte
	for attempt := 0; ; attempt++ {
		status, h, b := get(t, s.ui+path, cookie)
		if status == http.StatusOK {
			body = b
			break
		}
		// The log signs a checkpoint at most once per interval (10 s).
		wait, err := strconv.Atoi(h.Get("Retry-After"))
		if status != http.StatusServiceUnavailable || err != nil || attempt == 3 {
			t.Fatalf("GET %s: %d %s", path, status, clip(string(b), 300))
		}
		time.Sleep(time.Duration(min(max(wait, 1), 11)) * time.Second)
	}
	dir := t.TempDir()
	receipt := filepath.Join(dir, "receipt.json")
	if err := os.WriteFile(receipt, body, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, key := get(t, s.api+"/v1/log/key", "")
	keyFile := filepath.Join(dir, "log.pub")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := provost(t, s, "receipt", "verify", "--key", keyFile, receipt)
	if err != nil {
		t.Fatalf("provost receipt verify: %v\n%s", err, out)
	}
	t.Logf("provost receipt verify --key %s receipt-%d.json:\n%s", strings.TrimSpace(string(key)), p.copied.copiedIndex, out)
	for _, w := range []string{"receipt verified", fmt.Sprintf("record %d ", p.copied.copiedIndex), "decision deny"} {
		if !strings.Contains(out, w) {
			t.Errorf("provost receipt verify says %q, without %q", out, w)
		}
	}
	// A changed record does not verify.
	tampered := bytes.Replace(body, []byte(`"index":`), []byte(`"index":1`), 1)
	if err := os.WriteFile(receipt, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := provost(t, s, "receipt", "verify", "--key", keyFile, receipt); err == nil {
		t.Errorf("a receipt with another index verified: %s", out)
	}

	// The trail of docs/investigate.md: where the credential was used
	// from, what it reached, and what else came from the copy's network.
	cfg := s.w.ConfigFile()
	for _, q := range []struct {
		args []string
		want []string
	}{
		{[]string{"show", "--reason", "copied_credential", "--decision", "deny"}, []string{p.copied.fingerprint[:16], "203.0.113.50", "support-agent"}},
		{[]string{"origins", "--fingerprint", p.copied.fingerprint}, []string{"spiffe://demo.provost.test/agents/support-bot", "203.0.113.0/24"}},
		{[]string{"timeline", "--fingerprint", p.copied.fingerprint}, []string{"203.0.113.0/24", "revoked"}},
		{[]string{"blast-radius", "--fingerprint", p.copied.fingerprint}, []string{"/v1/tools/search"}},
		{[]string{"show", "--network", "203.0.113.0/24"}, []string{"support-agent", "payments"}},
		{[]string{"blast-radius", "--workload", "spiffe://demo.provost.test/agents/support-bot"}, []string{"/v1/tools/search"}},
	} {
		args := append([]string{"trail", q.args[0], "--config", cfg}, q.args[1:]...)
		out, err := provost(t, s, args...)
		if err != nil {
			t.Errorf("provost %s: %v\n%s", strings.Join(q.args, " "), err, out)
			continue
		}
		t.Logf("provost trail %s:\n%s", strings.Join(q.args, " "), out)
		for _, w := range q.want {
			if !strings.Contains(out, w) {
				t.Errorf("provost trail %s does not name %s:\n%s", q.args[0], w, out)
			}
		}
	}
}

// provost runs the built provost with args; it returns its combined output.
func provost(t *testing.T, s *served, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.bin, args...).CombinedOutput()
	return string(out), err
}

// streamStatus opens an event stream with cookie ("" for none) and
// returns its status and headers without waiting for events.
func streamStatus(t *testing.T, u, cookie string) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
