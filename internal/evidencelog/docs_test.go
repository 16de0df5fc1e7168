package evidencelog

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// logSection is docs/evidence.md from "## The log" on.
func logSection(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/evidence.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## The log\n")
	if !ok {
		t.Fatal("docs/evidence.md has no ## The log section")
	}
	return section
}

// TestDocsExamplesAreGolden keeps the checkpoint, verifier key and receipt
// shown in docs/evidence.md equal to the golden files.
func TestDocsExamplesAreGolden(t *testing.T) {
	section := logSection(t)
	for _, name := range []string{"example.checkpoint", "example.vkey", "example.receipt.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(section, "```\n"+string(b)+"```") && !strings.Contains(section, "```json\n"+string(b)+"```") {
			t.Errorf("docs/evidence.md does not show testdata/%s verbatim in a code block", name)
		}
	}
}

// TestDocsPythonVerifier runs the documentation's independent Python
// receipt verifier on the golden receipt, and on a changed one, when
// Python with the cryptography package is available.
func TestDocsPythonVerifier(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python3")
	}
	if err := exec.Command("python3", "-c", "import cryptography").Run(); err != nil {
		t.Skip("python3 with the cryptography package is not available")
	}
	_, src, _ := strings.Cut(logSection(t), "```python\n")
	src, _, ok := strings.Cut(src, "```")
	if !ok {
		t.Fatal("no python block under ## The log")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "verify.py")
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", script, "testdata/example.receipt.json", "testdata/example.vkey").CombinedOutput()
	if err != nil || string(out) != "{\"example\":3}\n" {
		t.Fatalf("python verifier: %v: %s", err, out)
	}
	good, err := os.ReadFile("testdata/example.receipt.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, bytes.Replace(good, []byte(`"index":3`), []byte(`"index":2`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("python3", script, bad, "testdata/example.vkey").CombinedOutput(); err == nil {
		t.Fatalf("python verifier accepted a receipt with another index: %s", out)
	}
}
