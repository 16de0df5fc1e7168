package provost_test

import (
	"os"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// The README shows the complete bindings example; it must stay the file
// the binding package tests.
func TestReadmeBindingsExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("internal/binding/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(example)+"```") {
		t.Fatal("README.md no longer shows internal/binding/testdata/example.yaml verbatim")
	}
	for _, cmd := range []string{"go run ./cmd/provost demo", "go run ./cmd/provost check --config examples/provost.yaml examples/requests/*.json", "./scripts/test.sh"} {
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README.md lost the command %q", cmd)
		}
	}
}

// The README's configuration reference is a real configuration: the strict
// loader accepts it, so no field in it is misspelt or stale.
func TestReadmeConfigurationParses(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Configuration (`provost.yaml`)")
	if !ok {
		t.Fatal("README.md has no configuration section")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in the configuration section")
	}
	block = strings.ReplaceAll(block, "fp1:...", "fp1:"+strings.Repeat("A", 43))
	block = strings.ReplaceAll(block, `"<hex>"`, strings.Repeat("0", 64))
	if _, err := config.Parse("README.md", []byte(block)); err != nil {
		t.Fatalf("the README's configuration does not load: %v", err)
	}
}

// The README's embedding snippets are the examples' code, verbatim: the
// lines between "// README: NAME" and "// README: end" in example_test.go.
func TestReadmeEmbeddingMatchesExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	snippets := map[string]string{}
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		name, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "// README: ")
		if !ok || name == "end" {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], "\t"))]
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "// README: end"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		snippets[name] = strings.Join(body, "\n")
	}
	for _, name := range []string{"open", "check"} {
		s, ok := snippets[name]
		if !ok {
			t.Fatalf("example_test.go has no README: %s block", name)
		}
		if !strings.Contains(string(readme), "```go\n"+s+"\n```") {
			t.Errorf("README.md does not show the %q snippet of example_test.go verbatim:\n%s", name, s)
		}
	}
}
