package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/devworld"
	"github.com/provost-dev/provost/internal/provosttest"
)

// keptWorld runs `provost demo --keep DIR` once for the tests that need a
// kept world, and returns DIR.
func keptWorld(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "world")
	if code, out, errb := runCLI(t, "", "demo", "--keep", dir); code != exitOK {
		t.Fatalf("demo --keep: exit %d\n%s%s", code, out, errb)
	}
	return dir
}

// claims decodes a compact JWS's payload (no verification: the engine
// tests verify).
func claims(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jws), ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDevCommands(t *testing.T) {
	dir := keptWorld(t)
	code, out, errb := runCLI(t, "", "dev", "token", "--world", dir, "--sub", "svc:reports", "--ttl", "10m",
		"--claim", "team=payments", "--claims", `{"act":{"sub":"ops"}}`, "--dpop")
	if code != exitOK || !strings.Contains(errb, devWarning) {
		t.Fatalf("dev token: exit %d\n%s", code, errb)
	}
	c := claims(t, out)
	if c["sub"] != "svc:reports" || c["iss"] != provosttest.Issuer || c["team"] != "payments" || c["act"].(map[string]any)["sub"] != "ops" {
		t.Fatalf("claims %v", c)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 600 {
		t.Fatalf("ttl %v", exp-iat)
	}
	if cnf, _ := c["cnf"].(map[string]any); cnf["jkt"] == nil {
		t.Fatalf("--dpop: no cnf.jkt in %v", c)
	}
	tok := strings.TrimSpace(out)

	code, out, errb = runCLI(t, "", "dev", "dpop", "--config", filepath.Join(dir, "provost.yaml"), "--method", "POST", "--url", "/v1/tools/run?x=1", "--token", tok)
	if code != exitOK || !strings.Contains(errb, devWarning) {
		t.Fatalf("dev dpop: exit %d\n%s", code, errb)
	}
	if p := claims(t, out); p["htu"] != demo.KeptOrigin+"/v1/tools/run" || p["htm"] != "POST" || p["ath"] == nil {
		t.Fatalf("proof %v", p)
	}

	code, out, _ = runCLI(t, "", "dev", "svid", "--world", dir, "--jwt", "spiffe://demo.provost.test/agents/support-bot")
	if s := claims(t, out); code != exitOK || s["sub"] != "spiffe://demo.provost.test/agents/support-bot" {
		t.Fatalf("JWT-SVID: exit %d %v", code, s)
	}
	code, out, _ = runCLI(t, "", "dev", "svid", "--world", dir, "spiffe://demo.provost.test/payments/api")
	if code != exitOK || !strings.Contains(out, "BEGIN CERTIFICATE") || !strings.Contains(out, "BEGIN PRIVATE KEY") {
		t.Fatalf("X.509-SVID: exit %d %q", code, out)
	}
	certOut, keyOut := filepath.Join(t.TempDir(), "svid.pem"), filepath.Join(t.TempDir(), "svid-key.pem")
	if code, _, errb := runCLI(t, "", "dev", "svid", "--world", dir, "--cert-out", certOut, "--key-out", keyOut, "spiffe://demo.provost.test/x"); code != exitOK {
		t.Fatalf("--cert-out: exit %d %s", code, errb)
	}
	if fi, err := os.Stat(keyOut); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	code, out, _ = runCLI(t, "", "dev", "posture", "--world", dir, "--host", "db-1", "--runner", "hardened", "--token", tok)
	if p := claims(t, out); code != exitOK || p["host_id"] != "db-1" || p["aud"] != demo.KeptOrigin {
		t.Fatalf("posture: exit %d %v", code, p)
	}
}

// provost dev refuses a configuration that is not a kept demo world, says
// why, and still warns.
func TestDevRefusesProductionKeys(t *testing.T) {
	prod := provosttest.New(t, provosttest.Options{})
	code, out, errb := runCLI(t, "", "dev", "token", "--config", prod.ConfigFile(), "--sub", "svc:x")
	if code != exitFail || out != "" || !strings.Contains(errb, "refused") || !strings.Contains(errb, devWarning) {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errb)
	}
	dir := keptWorld(t)
	key := filepath.Join(dir, devworld.KeysDir, devworld.KeyFile(devworld.KeyIssuer))
	os.Chmod(key, 0o640)
	if code, out, errb := runCLI(t, "", "dev", "token", "--world", dir, "--sub", "svc:x"); code != exitFail || out != "" || !strings.Contains(errb, "chmod 600") {
		t.Fatalf("a key readable by its group: exit %d %q\n%s", code, out, errb)
	}
}

func TestDevUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"dev"}, {"dev", "nope"},
		{"dev", "token", "--sub", "x"},                                       // no world
		{"dev", "token", "--world", dir, "--config", "x.yaml", "--sub", "x"}, // both
		{"dev", "token", "--world", dir},                                     // no subject
		{"dev", "token", "--world", dir, "--sub", "x", "--claims", "[1]"},
		{"dev", "token", "--world", dir, "--sub", "x", "--claim", "novalue"},
		{"dev", "dpop", "--world", dir, "--method", "GET"},
		{"dev", "svid", "--world", dir},
		{"dev", "svid", "--world", dir, "--cert-out", "c.pem", "spiffe://demo.provost.test/x"},
	} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	// Each usage error names what was wrong, not only the usage.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "svid", "--world", dir}, "want 1 argument(s) after the flags, got 0"},
		{[]string{"dev", "token", "--sub", "x"}, "give exactly one of --world DIR and --config FILE"},
	} {
		if code, _, errOut := runCLI(t, "", c.args...); code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to say %q", c.args, code, errOut, c.want)
		}
	}
	if code, out, _ := runCLI(t, "", "dev", "--help"); code != exitOK || !strings.Contains(out, "provost dev COMMAND") {
		t.Errorf("dev --help: exit %d %q", code, out)
	}
}

// --keep takes its folder as --keep=DIR or as the next argument, and -v
// may follow it.
func TestDemoKeepFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"extra"}, exitUsage},
		{[]string{"--keep", "a", "b"}, exitUsage},
		{[]string{"--keep=a", "b"}, exitUsage},
	} {
		if code := cmdDemo(context.Background(), c.args, io.Discard, io.Discard); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
	}
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errb := runCLI(t, "", "demo", "--keep="+dir); code != exitOK {
		t.Fatalf("--keep=DIR: exit %d %s", code, errb)
	}
	if _, err := os.Stat(filepath.Join(dir, devworld.KeysDir, devworld.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "w")
	if code, _, errb := runCLI(t, "", "demo", "--keep", dir, "-v"); code != exitOK || !strings.Contains(errb, `"level"`) {
		t.Fatalf("--keep DIR -v: exit %d %.300s", code, errb)
	}
	if code, _, _ := runCLI(t, "", "demo", "--keep", dir); code != exitFail {
		t.Fatalf("--keep into a kept world: exit %d", code)
	}
}
