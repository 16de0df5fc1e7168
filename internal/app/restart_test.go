package app_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
)

func TestRestartChanges(t *testing.T) {
	base := "version: 1\nissuers: [{issuer: https://i.test, audiences: [a], algorithms: [ES256], jwks_file: j.json}]\n"
	for _, c := range []struct {
		name, more string
		want       []string
	}{
		{"nothing changed", "", nil},
		{"admin.listen added", "admin: {listen: 127.0.0.1:9443, token_sha256: " + strings.Repeat("0", 64) + "}\n", []string{"admin.listen", "admin.token_sha256"}},
		{"serve.listen", "serve: {listen: 127.0.0.1:9000}\n", []string{"serve.listen"}},
		{"serve.tls files", "serve: {tls: {cert: c.pem, key: k.pem}}\n", []string{"serve.tls.cert", "serve.tls.key"}},
		{"grpc.listen", "grpc: {listen: 127.0.0.1:9191}\n", []string{"grpc.listen"}},
		{"data_dir", "data_dir: elsewhere\n", []string{"data_dir"}},
		{"evidence.mode", "evidence: {mode: async}\n", []string{"evidence.mode"}},
		{"replay", "replay: {max_entries: 10}\n", []string{"replay.max_entries"}},
		{"policy: external_origins, dpop, trust, redaction", "external_origins: [https://x.test]\ndpop: {max_age: 30s}\ntrust: {proxies: [10.0.0.1]}\nevidence: {redact_query_params: [sig]}\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, err1 := config.Parse("a.yaml", []byte(base))
			cur, err2 := config.Parse("a.yaml", []byte(base+c.more))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if got := app.RestartChanges(old, cur); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// syncBuffer is a log destination read while the App writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// warnings are the WARN lines logged, by message, with what they name.
func (s *syncBuffer) warnings(t *testing.T) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m struct {
			Level, Msg string
			Fields     []string `json:"restart_required"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m.Level == "WARN" {
			out[m.Msg] = m.Fields
		}
	}
	return out
}

// A reload that cannot apply a listener says so at WARN, naming the
// field; once the file is back as it was, a reload has nothing pending.
func TestReloadWarnsAboutRestartOnlyChanges(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{})
	var logs syncBuffer
	a, err := app.Open(t.Context(), app.Options{ConfigFile: w.ConfigFile(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	orig, _ := os.ReadFile(w.ConfigFile())
	w.Write("provost.yaml", string(orig)+"admin: {listen: \"127.0.0.1:0\", token_sha256: "+strings.Repeat("0", 64)+"}\n")
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.PendingRestart(); !slices.Contains(got, "admin.listen") {
		t.Fatalf("pending %v", got)
	}
	found := false
	for msg, fields := range logs.warnings(t) {
		found = found || (strings.Contains(msg, "restart") && slices.Contains(fields, "admin.listen"))
	}
	if !found {
		t.Fatalf("no WARN naming admin.listen:\n%s", logs.b.String())
	}
	w.Write("provost.yaml", string(orig))
	logs.mu.Lock()
	logs.b.Reset()
	logs.mu.Unlock()
	if err := a.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.PendingRestart(); len(got) != 0 {
		t.Fatalf("pending after the revert: %v", got)
	}
	if w := logs.warnings(t); len(w) != 0 {
		t.Fatalf("warned after the revert: %v", w)
	}
}
