package provost

import (
	"os"
	"strings"
	"testing"
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
