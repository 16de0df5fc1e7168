package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/app"
)

func TestGuardNewDataDir(t *testing.T) {
	secret := func(dir string) {
		os.MkdirAll(dir, 0o700)
		os.WriteFile(app.LayoutOf(dir).Secret, bytes.Repeat([]byte{1}, 32), 0o600)
	}
	for _, c := range []struct {
		name    string
		setup   func(root string) (dataDir, config string)
		allow   bool
		refused bool
	}{
		{"first start, nothing around", func(r string) (string, string) { return filepath.Join(r, "data"), filepath.Join(r, "provost.yaml") }, false, false},
		{"the data directory has its secret", func(r string) (string, string) {
			secret(filepath.Join(r, "data"))
			secret(filepath.Join(r, "old"))
			return filepath.Join(r, "data"), filepath.Join(r, "provost.yaml")
		}, false, false},
		{"data_dir: . beside provost-data (the copied default)", func(r string) (string, string) {
			secret(filepath.Join(r, "provost-data"))
			return r, filepath.Join(r, "provost.yaml")
		}, false, true},
		{"a sibling data directory", func(r string) (string, string) {
			secret(filepath.Join(r, "data"))
			return filepath.Join(r, "data2"), filepath.Join(r, "conf", "provost.yaml")
		}, false, true},
		{"a data directory in the configuration's folder", func(r string) (string, string) {
			secret(filepath.Join(r, "conf", "state"))
			return filepath.Join(r, "elsewhere", "data"), filepath.Join(r, "conf", "provost.yaml")
		}, false, true},
		{"stores without their secret", func(r string) (string, string) {
			os.MkdirAll(filepath.Join(r, "data", "evidence"), 0o700)
			return filepath.Join(r, "data"), filepath.Join(r, "provost.yaml")
		}, false, true},
		{"--new-data-dir", func(r string) (string, string) {
			secret(filepath.Join(r, "provost-data"))
			return r, filepath.Join(r, "provost.yaml")
		}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, cfg := c.setup(t.TempDir())
			err := guardNewDataDir(dir, cfg, c.allow)
			if got := errors.Is(err, errNewDataDir); got != c.refused {
				t.Fatalf("refused %v, want %v: %v", got, c.refused, err)
			}
			if err != nil && !strings.Contains(err.Error(), "--new-data-dir") {
				t.Fatalf("the refusal does not say how to proceed: %v", err)
			}
		})
	}
}

// checkIndex asks the server for one decision and returns the index of its
// evidence record.
func checkIndex(t *testing.T, addr string) int64 {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/check", "application/json",
		strings.NewReader(`{"method":"GET","target":"/x","authorization":"Bearer a.b.c","peer":"10.0.0.1"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Evidence *struct{ Index int64 }
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil || d.Evidence == nil {
		t.Fatalf("no evidence in the answer: %v", err)
	}
	return d.Evidence.Index
}

// The embedded default's file says to copy it; copied as printed (its own
// cp line, run by a shell), Provost keeps the same data directory: the
// evidence log goes on where it was and no new secret appears.
func TestEmbeddedDefaultIsCopyableAsPrinted(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	addr, stop := serveCLI(t)
	first := checkIndex(t, addr)
	stop()
	text, err := os.ReadFile(filepath.Join(defaultDataDir, defaultFileName))
	if err != nil {
		t.Fatal(err)
	}
	var cp string
	for _, l := range strings.Split(string(text), "\n") {
		if s, ok := strings.CutPrefix(l, "#   cp "); ok {
			cp = "cp " + s
		}
	}
	if cp == "" {
		t.Fatalf("the default says no cp command:\n%s", text)
	}
	if out, err := exec.Command("sh", "-c", cp).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", cp, err, out)
	}
	addr, stop = serveCLI(t, "--config", "provost.yaml")
	if got := checkIndex(t, addr); got != first+1 {
		t.Fatalf("after the copy the evidence index is %d, want %d: another data directory", got, first+1)
	}
	stop()
	if _, err := os.Stat(app.LayoutOf(".").Secret); err == nil {
		t.Fatal("a new server secret was written beside the copy")
	}
}

// The old trap: a configuration whose data_dir resolves beside the
// existing data directory. serve refuses to start and says why, until
// --new-data-dir says it is meant.
func TestServeRefusesANewDataDirNextToAnOldOne(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, stop := serveCLI(t)
	stop()
	os.WriteFile("provost.yaml", []byte("version: 1\ndata_dir: .\n"), 0o600)
	var errb bytes.Buffer
	code := cmdServe(context.Background(), []string{"--config", "provost.yaml", "--listen", "127.0.0.1:0"}, io.Discard, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "refusing to start a new data directory") || !strings.Contains(errb.String(), filepath.Join(dir, defaultDataDir)) {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if _, err := os.Stat(app.LayoutOf(".").Secret); err == nil {
		t.Fatal("a secret was written although serve refused")
	}
	_, stop = serveCLI(t, "--config", "provost.yaml", "--new-data-dir")
	stop()
	if _, err := os.Stat(app.LayoutOf(".").Secret); err != nil {
		t.Fatalf("--new-data-dir did not start a new data directory: %v", err)
	}
}
