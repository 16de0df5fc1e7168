// Package golden compares test output with golden files, for tests only.
// Run a test with -update to rewrite the files it compares with.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is the test binary's -update flag; the binary of any package
// importing golden has it.
var update = flag.Bool("update", false, "rewrite the golden files")

// Check compares got with the file at path, rewriting the file first with
// -update. msg, when not empty, says what to do when they differ.
func Check(t testing.TB, path string, got []byte, msg string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		if msg == "" {
			msg = "run go test -update to accept"
		}
		t.Errorf("%s differs (%s):\ngot:\n%s\nwant:\n%s", path, msg, got, want)
	}
}

// Quoted fails unless the Markdown file doc quotes the file example
// verbatim in a ```text block: it keeps a worked example in a doc true.
func Quoted(t testing.TB, doc, example string) {
	t.Helper()
	d, err := os.ReadFile(filepath.FromSlash(doc))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(d), "```text\n"+string(want)+"```\n") {
		t.Fatalf("%s does not quote %s verbatim in a ```text block", doc, example)
	}
}
