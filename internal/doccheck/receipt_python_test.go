package doccheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// python3 finds a python3 with the cryptography package: the one on PATH,
// else Debian's. Without one the test fails on CI (CI set) and is skipped
// elsewhere, saying what to install.
func python3(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		tried = append(tried, path)
		if exec.Command(path, "-c", "import cryptography").Run() == nil {
			return path
		}
	}
	why := "no python3 found"
	if len(tried) > 0 {
		why = "no python3 with the cryptography package (tried " + strings.Join(tried, ", ") + ")"
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: CI must run the receipt verifier of docs/evidence.md (scripts/test.sh installs Debian's python3-cryptography)", why)
	}
	t.Skipf("%s: install Debian's python3-cryptography (apt-get install python3-cryptography) to run the verifier of docs/evidence.md", why)
	return ""
}

// pythonVerifier writes the ```python block of docs/evidence.md, as it is,
// to a file and returns its path.
func pythonVerifier(t *testing.T) string {
	t.Helper()
	doc := readDoc(t, "evidence.md")
	if n := strings.Count(doc, "```python\n"); n != 1 {
		t.Fatalf("docs/evidence.md has %d python blocks, want 1 (the receipt verifier)", n)
	}
	_, src, _ := strings.Cut(doc, "```python\n")
	src, _, ok := strings.Cut(src, "```")
	if !ok {
		t.Fatal("the python block of docs/evidence.md is not closed")
	}
	script := filepath.Join(t.TempDir(), "verify.py")
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return script
}

// keyPart is the base64 key of a note verifier key, name+hash+key.
func keyPart(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[len(parts)-1]
}

// logWith opens an evidence log (the SQLite log of a data directory, as
// `provost serve` runs it) whose verifier key holds "+" in its base64 part
// (plus) or not (!plus): it makes keys until one does, and puts it in the
// log's key file before the log first opens.
func logWith(t *testing.T, plus bool) *evidencelog.Log {
	t.Helper()
	const name = "provost.evidence/doccheck"
	for range 200 { // each key holds a "+" with probability about 1/2
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(keyPart(vkey), "+") != plus {
			continue
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "log.key"), []byte(skey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := evidencelog.Open(context.Background(), dir, evidencelog.Options{Name: name, CheckpointInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if l.VerifierKey() != vkey {
			t.Fatalf("the log did not take the key made for it (log.key): %s, want %s", l.VerifierKey(), vkey)
		}
		return l
	}
	t.Fatalf("200 keys in a row with \"+\" in them: %v", !plus)
	return nil
}

// TestDocsReceiptVerifierPython runs docs/evidence.md's Python receipt
// verifier, extracted from the doc as it is, with python3 on receipts of a
// real evidence log: every record's receipt under a verifier key whose
// base64 holds "+" (the verifier once split the key at every "+" and
// crashed on about half of all keys) and under one whose base64 does not.
// It must print each record, and must refuse a receipt with another index,
// a changed record, or another log's key.
func TestDocsReceiptVerifierPython(t *testing.T) {
	py := python3(t)
	script := pythonVerifier(t)
	dir := t.TempDir()
	ctx := context.Background()
	run := func(receipt []byte, vkey string) (string, error) {
		t.Helper()
		rf, kf := filepath.Join(dir, "receipt.json"), filepath.Join(dir, "log.vkey")
		if err := os.WriteFile(rf, receipt, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kf, []byte(vkey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, script, rf, kf).CombinedOutput()
		return string(out), err
	}
	for _, plus := range []bool{true, false} {
		t.Run(fmt.Sprintf("key with + %v", plus), func(t *testing.T) {
			l := logWith(t, plus)
			vkey := l.VerifierKey()
			const n = 5
			var receipts [][]byte
			for i := range n {
				if _, err := l.Append(ctx, fmt.Appendf(nil, `{"decision":"allow","n":%d}`, i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range int64(n) {
				rc, err := l.Receipt(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if err := evidencelog.VerifyReceipt(rc, vkey); err != nil {
					t.Fatalf("Provost's own verifier refuses receipt %d: %v", i, err)
				}
				b, err := json.Marshal(rc)
				if err != nil {
					t.Fatal(err)
				}
				receipts = append(receipts, b)
				want := fmt.Sprintf(`{"decision":"allow","n":%d}`+"\n", i)
				if out, err := run(b, vkey); err != nil || out != want {
					t.Errorf("receipt %d under key %s: %v: %s (want %q)", i, vkey, err, out, want)
				}
			}
			other := logWith(t, plus).VerifierKey()
			for name, bad := range map[string][]byte{
				"another index":    bytes.Replace(receipts[3], []byte(`"index":3`), []byte(`"index":2`), 1),
				"a changed record": changeRecord(t, receipts[1]),
			} {
				if out, err := run(bad, vkey); err == nil {
					t.Errorf("the verifier accepted a receipt with %s: %s", name, out)
				}
			}
			if out, err := run(receipts[0], other); err == nil {
				t.Errorf("the verifier accepted a receipt under another log's key: %s", out)
			}
		})
	}
}

// changeRecord returns the receipt with one byte of its record changed.
func changeRecord(t *testing.T, receipt []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(receipt, &m); err != nil {
		t.Fatal(err)
	}
	rc, err := evidencelog.ParseReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	rc.Record = bytes.Replace(rc.Record, []byte("allow"), []byte("alloW"), 1)
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b, receipt) {
		t.Fatal("the record did not change")
	}
	return b
}
