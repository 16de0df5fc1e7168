package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/provosttest"
)

func TestConfigCheckCLI(t *testing.T) {
	code, out, errb := runCLI(t, "", "config", "check", "--config", "../../examples/provost.yaml")
	if code != exitOK || !strings.Contains(out, "examples/provost.yaml: OK") || !strings.Contains(out, "6 bindings") {
		t.Fatalf("the examples: exit %d\n%s%s", code, out, errb)
	}

	w := provosttest.New(t, provosttest.Options{Bindings: demo.Bindings})
	os.Remove(filepath.Join(w.Dir, "issuer.jwks.json"))
	w.Write("hop-edge.pem", "garbage")
	code, out, _ = runCLI(t, "", "config", "check", "--config", w.ConfigFile())
	if code != exitFail {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{
		w.ConfigFile() + ":", "issuers[0].jwks_file: ", "issuer.jwks.json does not exist",
		"trust.hops[0].public_key: hop-edge.pem", "2 problems",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Lint warnings fail the check unless accepted.
	w = provosttest.New(t, provosttest.Options{Bindings: "version: 1\nbindings:\n  - name: x\n    match: {subject: \"*\"}\n"})
	if code, out, _ := runCLI(t, "", "config", "check", "--config", w.ConfigFile()); code != exitFail || !strings.Contains(out, "warning") {
		t.Fatalf("warnings: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "", "config", "check", "--config", w.ConfigFile(), "--warnings-ok"); code != exitOK || !strings.Contains(out, ": OK") {
		t.Fatalf("--warnings-ok: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{{"config"}, {"config", "nope"}, {"config", "check", "extra"}, {"config", "check", "--bogus"}} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	if code, out, _ := runCLI(t, "", "config", "-h"); code != exitOK || !strings.Contains(out, "config check") {
		t.Errorf("config -h: exit %d %q", code, out)
	}
}

// bindings lint --config fails when the configuration names a JWKS file
// that does not exist: serve would refuse it.
func TestBindingsLintChecksTheConfigurationsFiles(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: demo.Bindings})
	if code, out, errb := runCLI(t, "", "bindings", "lint", "--config", w.ConfigFile()); code != exitOK {
		t.Fatalf("a good world: exit %d\n%s%s", code, out, errb)
	}
	os.Remove(filepath.Join(w.Dir, "issuer.jwks.json"))
	code, _, errb := runCLI(t, "", "bindings", "lint", "--config", w.ConfigFile())
	if code != exitUsage || !strings.Contains(errb, "issuers[0].jwks_file") || !strings.Contains(errb, "does not exist") {
		t.Fatalf("missing jwks_file: exit %d\n%s", code, errb)
	}
}
