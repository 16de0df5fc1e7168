package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// trailDir is a data directory whose evidence log holds n records and
// checkpoints at sizes n/2 and n.
func trailDir(t *testing.T, n int64) string {
	t.Helper()
	dir := t.TempDir()
	l, err := evidencelog.Open(t.Context(), app.LayoutOf(dir).Evidence, evidencelog.Options{Name: "provost.evidence/trail-test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(t.Context(), []byte(`{"record":`+strconv.FormatInt(i, 10)+`}`)); err != nil {
			t.Fatal(err)
		}
		if i+1 == n/2 || i+1 == n {
			if _, err := l.Checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runTrailVerify(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := trailVerify(t.Context(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func tamper(t *testing.T, dir string, qs ...string) {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(app.LayoutOf(dir).Evidence, "evidence.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestTrailVerify(t *testing.T) {
	dir := trailDir(t, 20)
	code, out, stderr := runTrailVerify(t, "--data-dir", dir)
	if code != exitOK || !strings.HasPrefix(out, "verified 20 records, tree root ") || !strings.Contains(out, "at size 20") ||
		!strings.Contains(out, "provost.evidence/trail-test+") || stderr != "" {
		t.Fatalf("exit %d, out %q, err %q", code, out, stderr)
	}
	// The data directory named by a configuration file.
	cfg := filepath.Join(dir, "provost.yaml")
	os.WriteFile(cfg, []byte("version: 1\ndata_dir: .\n"), 0o600)
	if code, out, stderr := runTrailVerify(t, "--config", cfg); code != exitOK || !strings.HasPrefix(out, "verified 20 records") {
		t.Fatalf("--config: exit %d, %q %q", code, out, stderr)
	}

	cases := []struct {
		name string
		qs   []string
		want string
	}{
		{"changed record", []string{`UPDATE evidence_leaf SET record = CAST('{"record":99}' AS BLOB) WHERE idx = 7`}, "record changed"},
		{"removed record", []string{`DELETE FROM evidence_leaf WHERE idx = 19`}, "record missing"},
		{"reordered pair", []string{
			`UPDATE evidence_leaf SET idx = -1 WHERE idx = 3`, `UPDATE evidence_leaf SET idx = 3 WHERE idx = 4`, `UPDATE evidence_leaf SET idx = 4 WHERE idx = -1`,
		}, "records reordered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := trailDir(t, 20)
			tamper(t, dir, c.qs...)
			code, out, stderr := runTrailVerify(t, "--data-dir", dir)
			if code != exitFail || out != "" || !strings.Contains(stderr, "NOT VERIFIED") || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, out %q, err %q; want %q", code, out, stderr, c.want)
			}
		})
	}
	t.Run("another log put back", func(t *testing.T) {
		dir := trailDir(t, 20)
		old := trailDir(t, 10)
		db := filepath.Join(filepath.Base(app.LayoutOf("").Evidence), "evidence.db")
		b, err := os.ReadFile(filepath.Join(old, db))
		if err != nil {
			t.Fatal(err)
		}
		// Another log's database put back: signed by another key.
		os.Remove(filepath.Join(dir, db+"-wal"))
		os.Remove(filepath.Join(dir, db+"-shm"))
		os.WriteFile(filepath.Join(dir, db), b, 0o600)
		code, _, stderr := runTrailVerify(t, "--data-dir", dir)
		if code != exitFail || !strings.Contains(stderr, "NOT VERIFIED") {
			t.Fatalf("exit %d, err %q", code, stderr)
		}
	})
	if code, _, stderr := runTrailVerify(t, "--data-dir", t.TempDir()); code != exitFail || !strings.Contains(stderr, "no evidence log") {
		t.Errorf("empty data dir: exit %d, %q", code, stderr)
	}
	if code, _, _ := runTrailVerify(t, "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
	if code, _, _ := runTrailVerify(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitUsage {
		t.Errorf("missing config: exit %d", code)
	}
}

// The bar shows only on a terminal, once the work has run for its delay,
// at most every progressInterval, and ends its line.
func TestProgressBar(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var buf bytes.Buffer
	env := trailEnv{now: clock, terminal: func(io.Writer) bool { return true }, progressDelay: time.Second}
	p := env.progress(&buf, "verifying")
	const total = 200_000
	for done := int64(1000); done <= total; done += 1000 {
		now = now.Add(10 * time.Millisecond) // 100 updates a second offered
		p.update(done, total)
	}
	p.done()
	draws := strings.Count(buf.String(), "\r")
	// 200 updates over 2s, the first second hidden: at most ~10 a second, plus the final one.
	if draws < 6 || draws > 12 || !strings.Contains(buf.String(), "verifying [") ||
		!strings.Contains(buf.String(), "100% 200000/200000 records\n") {
		t.Fatalf("%d draws: %q", draws, buf.String())
	}
	// Not a terminal, or quick work: nothing drawn.
	for name, env := range map[string]trailEnv{
		"not a terminal": {now: clock, terminal: func(io.Writer) bool { return false }},
		"quick":          {now: clock, terminal: func(io.Writer) bool { return true }, progressDelay: time.Second},
	} {
		buf.Reset()
		p := env.progress(&buf, "verifying")
		p.update(total/2, total)
		p.update(total, total)
		p.done()
		if buf.Len() != 0 || p.total != total {
			t.Errorf("%s: drew %q", name, buf.String())
		}
	}
	if isTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
}

func TestTrailVerifyJSON(t *testing.T) {
	dir := trailDir(t, 20)
	var out, errb bytes.Buffer
	if code := trailVerify(t.Context(), []string{"--data-dir", dir, "--json"}, nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res struct {
		Verified    bool   `json:"verified"`
		Records     int64  `json:"records"`
		VerifierKey string `json:"verifier_key"`
		Checkpoint  struct {
			Size int64  `json:"size"`
			Root string `json:"root"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.Verified || res.Records != 20 || res.Checkpoint.Size != 20 ||
		res.Checkpoint.Root == "" || !strings.HasPrefix(res.VerifierKey, "provost.evidence/trail-test+") {
		t.Fatalf("%+v, %v: %s", res, err, out.String())
	}
	tamper(t, dir, `DELETE FROM evidence_leaf WHERE idx = 19`)
	out.Reset()
	var bad struct {
		Verified bool   `json:"verified"`
		Problem  string `json:"problem"`
	}
	code := trailVerify(t.Context(), []string{"--data-dir", dir, "--json"}, nil, &out, &errb)
	if err := json.Unmarshal(out.Bytes(), &bad); code != exitFail || err != nil || bad.Verified || !strings.Contains(bad.Problem, "record missing") {
		t.Fatalf("tampered: exit %d, %+v, %v", code, bad, err)
	}
	// One record: "1 record".
	out.Reset()
	if code := trailVerify(t.Context(), []string{"--data-dir", trailDir(t, 1)}, nil, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "verified 1 record, ") {
		t.Errorf("one record: exit %d, %q", code, out.String())
	}
}
