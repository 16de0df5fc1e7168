package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
)

// serveCLI runs `provost serve args...` until the test ends and returns
// the address it listens on.
func serveCLI(t *testing.T, args ...string) (addr string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- cmdServe(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), io.Discard, pw)
		pw.Close()
	}()
	lines := make(chan map[string]any, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("log line is not JSON: %q", sc.Text())
				continue
			}
			lines <- m
		}
	}()
	stopped := false
	stop = func() int {
		if stopped {
			return exitOK
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			for range lines {
			}
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("provost serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatalf("provost serve exited before listening: %d", <-code)
			}
			if m["msg"] == "listening" {
				return m["addr"].(string), stop
			}
		case <-timeout:
			t.Fatal("provost serve did not log its listen address")
		}
	}
}

// With no configuration at all, `provost serve` runs on the embedded
// default: it writes only the data directory and answers.
func TestServeZeroConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	addr, stop := serveCLI(t)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	// Every credential is rejected: no issuer is configured.
	resp, err = http.Post("http://"+addr+"/v1/check", "application/json",
		strings.NewReader(`{"method":"GET","target":"/x","authorization":"Bearer a.b.c","peer":"10.0.0.1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"decision":"deny"`) || !strings.Contains(string(b), `"verdict":"rejected"`) {
		t.Fatalf("check on the default: %d %s", resp.StatusCode, b)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != defaultDataDir {
		t.Fatalf("wrote %v, want only %s", entries, defaultDataDir)
	}
	got, err := os.ReadFile(filepath.Join(dir, defaultDataDir, defaultFileName))
	if abs, _ := filepath.Abs(defaultDataDir); err != nil || string(got) != embeddedDefault(filepath.Join(abs, defaultFileName), abs) {
		t.Fatalf("default configuration: %q %v", got, err)
	}
	// A second start reuses it.
	addr, stop = serveCLI(t)
	if resp, err := http.Get("http://" + addr + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz on the second start: %v %v", resp, err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
}

func TestServeErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("bad.yaml", []byte("version: 1\nserve:\n  listen: nowhere\n"), 0o600)
	os.WriteFile("good.yaml", []byte("version: 1\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"named config missing", []string{"--config", "none.yaml"}, exitUsage, "none.yaml"},
		{"bad serve section", []string{"--config", "bad.yaml"}, exitUsage, "bad.yaml:3: serve.listen"},
		{"bad listen flag", []string{"--config", "good.yaml", "--data-dir", "d", "--listen", "nowhere"}, exitFail, "cannot listen"},
		{"stray argument", []string{"extra"}, exitUsage, "usage: provost serve"},
		{"unknown flag", []string{"--port", "1"}, exitUsage, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errb strings.Builder
			code := cmdServe(t.Context(), c.args, io.Discard, &errb)
			if code != c.code || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %s; want %d and %q", code, errb.String(), c.code, c.want)
			}
		})
	}
	if _, err := os.Stat(defaultDataDir); err == nil {
		t.Error("a failed start with --config wrote the default data directory")
	}
}

// SIGHUP calls reload: a bad configuration keeps the old one serving, a
// good one takes effect.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "provost.yaml")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bindings.yaml", "version: 1\nbindings:\n  - name: a\n    match: {subject: a}\n")
	write("provost.yaml", "version: 1\ndata_dir: data\nbindings: bindings.yaml\n")
	a, err := app.Open(t.Context(), app.Options{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	before := a.Policy().Digest()

	write("bindings.yaml", "version: 1\nbindings:\n  - name: a\n    match: {nope: a}\n")
	if err := reload(t.Context(), a, logger); err == nil || a.Policy().Digest() != before {
		t.Fatalf("bad reload: %v, digest changed %v", err, a.Policy().Digest() != before)
	}
	if !strings.Contains(logs.String(), `"msg":"reload failed; the previous configuration keeps serving"`) {
		t.Fatalf("log: %s", logs.String())
	}
	write("bindings.yaml", "version: 1\nbindings:\n  - name: b\n    match: {subject: b}\n")
	if err := reload(t.Context(), a, logger); err != nil || a.Policy().Digest() == before {
		t.Fatalf("good reload: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"reload succeeded","bindings_digest":"`+a.Policy().Digest()+`"`) {
		t.Fatalf("log: %s", logs.String())
	}
}

// SIGHUP also re-reads the listeners' certificates: a failing one is
// logged and reported, and neither stops the others.
func TestServeReloadCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bindings.yaml"), []byte("version: 1\nbindings:\n  - name: a\n    match: {subject: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "provost.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\ndata_dir: data\nbindings: bindings.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), app.Options{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var calls []string
	certs := []certReloader{
		{"grpc.tls", func() error { calls = append(calls, "grpc.tls"); return errors.New("broken key") }},
		{"serve.tls", func() error { calls = append(calls, "serve.tls"); return nil }},
	}
	err = reload(t.Context(), a, logger, certs...)
	if err == nil || !strings.Contains(err.Error(), "broken key") {
		t.Fatalf("reload: %v, want the certificate error", err)
	}
	if !slices.Equal(calls, []string{"grpc.tls", "serve.tls"}) {
		t.Fatalf("reloaded %v, want both listeners", calls)
	}
	for _, want := range []string{`"msg":"reload succeeded"`, `"msg":"certificate reload failed; the previous certificate keeps serving","setting":"grpc.tls"`} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %s: %s", want, logs.String())
		}
	}
}
