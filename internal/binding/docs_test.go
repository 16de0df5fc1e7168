package binding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// block returns the first fenced block of the given language in doc.
func block(t *testing.T, doc, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no %s block", lang)
	}
	body, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("unterminated %s block", lang)
	}
	return body
}

// TestDocs keeps docs/bindings.md true: its example is testdata/example.yaml,
// its error example is what Parse says, and its CEL examples compile.
func TestDocs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "bindings.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	example, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if block(t, doc, "yaml") != string(example) {
		t.Error("the example in docs/bindings.md differs from testdata/example.yaml")
	}
	typo := strings.Replace(string(example), "networks: [build-hosts, 192.0.2.0/24]", "networks: [build-hosts, buid-hosts]", 1)
	_, err = Parse("bindings.yaml", []byte(typo))
	if err == nil || !strings.Contains(doc, "\n"+err.Error()+"\n") {
		t.Errorf("the error example in docs/bindings.md is not what Parse says: %v", err)
	}
	env, err := newRuleEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(block(t, doc, "cel")), "\n") {
		if _, err := env.compile(line); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}
