package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/evidencelog"
)

func TestEvidenceNewKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evidence.key")
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"evidence", "new-key", path, "--name", "provost.test/shared"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	vkey := strings.TrimSpace(out.String())
	if !strings.HasPrefix(vkey, "provost.test/shared+") {
		t.Fatalf("verifier key %q", vkey)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// The key is the one the shared log signs with.
	if got, err := evidencelog.CreateKeyFile(path, "provost.test/shared"); err != nil || got != vkey {
		t.Fatalf("%s %v, want %s", got, err, vkey)
	}
	out.Reset()
	errb.Reset()
	if code := run(t.Context(), []string{"evidence", "new-key", path}, strings.NewReader(""), &out, &errb); code != exitUsage {
		t.Fatalf("without --name: exit %d", code)
	}
}

// The trail commands read a data directory's log: with the evidence log in
// PostgreSQL they refuse, naming where to go instead.
func TestTrailRefusesSharedEvidence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "provost.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\nstorage:\n  postgres: {dsn: \"host=db\", evidence_key_file: evidence.key}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bindings := filepath.Join(dir, "bindings.yaml")
	if err := os.WriteFile(bindings, []byte("version: 1\nbindings:\n  - name: r\n    match: {subject: \"svc:r\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify"}, {"show"}, {"backtest", "--bindings", bindings}} {
		var out, errb bytes.Buffer
		code := run(t.Context(), append(append([]string{"trail"}, args...), "--config", cfg), strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), "is in PostgreSQL") || !strings.Contains(errb.String(), "docs/scale-out.md") {
			t.Fatalf("trail %s: exit %d: %s", args[0], code, errb.String())
		}
	}
}
