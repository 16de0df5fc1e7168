package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serveLogs runs provost serve with args on the embedded default in a
// temporary directory, asks for /healthz once it listens, stops it, and
// returns its exit code and log lines.
func serveLogs(t *testing.T, args ...string) (int, []map[string]any) {
	t.Helper()
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	done := make(chan int, 1)
	go func() { done <- cmdServe(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), io.Discard, &logs) }()
	deadline := time.Now().Add(30 * time.Second)
	var addr string
	for addr == "" {
		for _, m := range logLines(t, logs.String()) {
			if m["msg"] == "listening" {
				addr, _ = m["addr"].(string)
			}
		}
		select {
		case code := <-done:
			t.Fatalf("provost serve exited %d before listening:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("provost serve did not listen:\n%s", logs.String())
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	code := <-done
	return code, logLines(t, logs.String())
}

func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(s, "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue // a line still being written
		}
		lines = append(lines, m)
	}
	return lines
}

// serve --pid-file is proxy's: the file holds the process id while the
// server runs and is gone when it stops.
func TestServePIDFile(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "provost.pid")
	t.Chdir(t.TempDir())
	addr, stop := serveCLI(t, "--pid-file", pidFile)
	if got, err := os.ReadFile(pidFile); err != nil || string(got) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("the pid file holds %q (%v)", got, err)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("the pid file is left behind: %v", err)
	}
	// A pid file that cannot be written stops the start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // should it serve anyway
	defer cancel()
	var errOut strings.Builder
	code := cmdServe(ctx, []string{"--listen", "127.0.0.1:0", "--pid-file", filepath.Join(t.TempDir(), "none", "provost.pid")}, io.Discard, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "--pid-file") {
		t.Errorf("an unwritable pid file: exit %d, %s", code, errOut.String())
	}
}

// serve --debug logs at debug level: health probes show; without it they
// do not. proxy --debug sets the same level (logLevel).
func TestServeDebug(t *testing.T) {
	probeLogged := func(lines []map[string]any) bool {
		for _, m := range lines {
			if m["msg"] == "request" && m["path"] == "/healthz" && m["level"] == slog.LevelDebug.String() {
				return true
			}
		}
		return false
	}
	code, lines := serveLogs(t, "--debug")
	if code != exitOK || !probeLogged(lines) {
		t.Errorf("--debug: exit %d, the health probe logged: %v", code, probeLogged(lines))
	}
	code, lines = serveLogs(t)
	if code != exitOK || probeLogged(lines) {
		t.Errorf("without --debug: exit %d, the health probe logged: %v", code, probeLogged(lines))
	}
	if logLevel(true) != slog.LevelDebug || logLevel(false) != slog.LevelInfo {
		t.Error("logLevel")
	}
}
