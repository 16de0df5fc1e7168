package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
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

// The trail commands other than verify read a data directory's log: with the
// evidence log in PostgreSQL they refuse, naming where to go instead.
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
	for _, args := range [][]string{{"show"}, {"export"}, {"timeline"}, {"backtest", "--bindings", bindings}} {
		var out, errb bytes.Buffer
		code := run(t.Context(), append(append([]string{"trail"}, args...), "--config", cfg), strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), "is in PostgreSQL") || !strings.Contains(errb.String(), "docs/scale-out.md") {
			t.Fatalf("trail %s: exit %d: %s", args[0], code, errb.String())
		}
	}
}

// trail verify --config verifies the shared log in PostgreSQL, read-only,
// and reports a record changed in the database.
func TestTrailVerifySharedEvidence(t *testing.T) {
	pg := pgdbtest.FreshSchema(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "evidence.key")
	if _, err := evidencelog.CreateKeyFile(keyFile, "provost.test/shared"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "provost.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "version: 1\nstorage:\n  postgres: {dsn: %q, evidence_key_file: evidence.key}\n", pg.DSN), 0o600); err != nil {
		t.Fatal(err)
	}
	// Decisions logged by a replica, as app.Data opens the shared log.
	pool := pgdbtest.Open(t, pg)
	l, err := evidencelog.OpenPostgres(t.Context(), pool, evidencelog.PostgresOptions{KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := l.Append(t.Context(), fmt.Appendf(nil, `{"decision":%d}`, i)); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := l.Checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Close()

	verify := func(extra ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"trail", "verify", "--config", cfg}, extra...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := verify()
	if code != exitOK || !strings.HasPrefix(out, "verified 5 records") || !strings.Contains(out, "at size 3") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	// Without the key file: the key pinned in the database, said so.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = verify(); code != exitOK || !strings.HasPrefix(out, "verified 5 records") || !strings.Contains(errs, "pinned in the database") {
		t.Fatalf("without the key file: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs = verify("--key", "provost.test/shared+00000000+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="); code != exitFail || !strings.Contains(errs, "NOT VERIFIED") {
		t.Fatalf("another key: exit %d: %s", code, errs)
	}
	if _, err := pool.Exec(t.Context(), `UPDATE evidence_leaf SET record = '{"decision":"forged"}' WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = verify(); code != exitFail || !strings.Contains(errs, "NOT VERIFIED") || !strings.Contains(errs, "record 1 ") {
		t.Fatalf("forged record: exit %d: %s%s", code, out, errs)
	}
}
