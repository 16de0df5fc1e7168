package evidence

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestDocsExampleIsGolden keeps the example in docs/evidence.md equal to
// the golden allow record.
func TestDocsExampleIsGolden(t *testing.T) {
	doc, err := os.ReadFile("../../docs/evidence.md")
	if err != nil {
		t.Fatal(err)
	}
	_, records, ok := strings.Cut(string(doc), "\n## Records\n")
	_, example, ok2 := strings.Cut(records, "```json\n")
	example, _, ok3 := strings.Cut(example, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/evidence.md has no json example under ## Records")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(example)); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/allow.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := append(compact.Bytes(), '\n'); !bytes.Equal(got, want) {
		t.Errorf("the docs example is not testdata/allow.json:\n%s\n%s", got, want)
	}
}
