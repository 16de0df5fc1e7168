package provost_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/shellrun"
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

// quickStartSkipped are the quick start's commands a test does not run,
// and why; every one must still be in the README.
var quickStartSkipped = map[string]string{
	"./scripts/test.sh":        "it runs this whole test suite (CI runs it)",
	"go install ./cmd/provost": "the test built the binary and put it first on PATH",
}

// quickStartCommands are the commands of the README's quick start, in
// order: each sh block's lines, with what follows " # " as the comment
// (a curl's promised decision).
func quickStartCommands(t *testing.T) []shellrun.Step {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Quick start")
	section, _, _ = strings.Cut(section, "\n## ")
	if !ok {
		t.Fatal("README.md has no quick start")
	}
	var steps []shellrun.Step
	for rest := section; ; {
		var block string
		var found bool
		if _, rest, found = strings.Cut(rest, "```sh\n"); !found {
			break
		}
		block, rest, _ = strings.Cut(rest, "```")
		for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
			cmd, comment, _ := strings.Cut(line, " # ")
			if cmd = strings.TrimSpace(cmd); cmd != "" {
				steps = append(steps, shellrun.Step{Comment: strings.TrimSpace(comment), Cmds: []string{cmd}})
			}
		}
	}
	return steps
}

// The README's quick start, run literally where it is runnable: in a
// folder holding a copy of examples/, by a shell, with the built binary
// for "go run ./cmd/provost" and "provost"; `provost serve` starts on a
// free port (the commands' 127.0.0.1:8080 becomes it), and each curl must
// answer the decision its comment promises.
func TestReadmeQuickStartRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs the demo and a server; skipped under -short")
	}
	shellrun.NeedCurl(t)
	steps := quickStartCommands(t)
	bin := shellrun.Build(t, ".")
	env := shellrun.Env{Bin: bin, Dir: t.TempDir(), From: "http://127.0.0.1:8080"}
	if out, err := exec.Command("cp", "-R", "examples", filepath.Join(env.Dir, "examples")).CombinedOutput(); err != nil {
		t.Fatalf("copying examples: %v %s", err, out)
	}
	seen := map[string]bool{}
	checked := map[string]int{}
	var phase []shellrun.Step
	flush := func() {
		if len(phase) == 0 {
			return
		}
		outs, _ := shellrun.Script(t, env, phase)
		for k, n := range shellrun.Verify(t, phase, outs) {
			checked[k] += n
		}
		phase = nil
	}
	for _, s := range steps {
		cmd := s.Cmds[0]
		if _, skip := quickStartSkipped[cmd]; skip {
			seen[cmd] = true
			continue
		}
		s.Cmds[0] = strings.Replace(cmd, "go run ./cmd/provost", "provost", 1)
		if strings.HasPrefix(s.Cmds[0], "provost serve") {
			flush()
			env.To = "http://" + shellrun.Serve(t, env, s.Cmds[0])
			continue
		}
		phase = append(phase, s)
	}
	flush()
	for cmd, why := range quickStartSkipped {
		if !seen[cmd] {
			t.Errorf("the quick start no longer has %q (skipped because %s): update quickStartSkipped", cmd, why)
		}
	}
	if checked["allow"] == 0 || checked["deny"] == 0 {
		t.Errorf("the quick start sends no allowed or no denied request: %v", checked)
	}
}
