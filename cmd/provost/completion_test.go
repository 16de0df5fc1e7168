package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// needTool returns the path of a program the test needs; without it the
// test fails on CI (CI set) and skips elsewhere.
func needTool(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (%s); scripts/test.sh installs it", name, why)
		}
		t.Skipf("%s is not installed (%s); scripts/test.sh installs it", name, why)
	}
	return path
}

// completionScriptOf runs provost completion SHELL.
func completionScriptOf(t *testing.T, shell string) string {
	t.Helper()
	code, out, errOut := runArgs(t, "completion", shell)
	if code != exitOK || errOut != "" || out == "" {
		t.Fatalf("provost completion %s: exit %d, stderr %q, %d bytes", shell, code, errOut, len(out))
	}
	return out
}

// Each script names every command path and every flag of the table, in
// the form its shell reads; internal commands are left out.
func TestCompletionScriptsCoverTheTable(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			script := completionScriptOf(t, shell)
			commands().walk(false, func(c *command) {
				key := completionKey(c)
				if !strings.Contains(script, key) {
					t.Errorf("%s is not in the script", key)
				}
				for _, s := range c.visibleSubs() {
					var want string
					switch shell {
					case "bash":
						want = s.name // in the subs word list
					case "zsh":
						want = singleQuoted(s.name + ":" + oneLine(s.summary))
					case "fish":
						want = "-a " + fishQuoted(s.name)
					}
					if !strings.Contains(script, want) {
						t.Errorf("%s: subcommand %s is not in the script as %q", key, s.name, want)
					}
				}
				for _, d := range append(flagDocs(c.flagSet()), helpFlag) {
					var want string
					switch shell {
					case "bash":
						want = d.dashed()
					case "zsh":
						want = "'" + d.dashed() + ":"
					case "fish":
						want = fishQuoted("__provost_at "+key) + " -l " + d.name
						if len(d.name) == 1 {
							want = fishQuoted("__provost_at "+key) + " -s " + d.name
						} else if d.name == helpFlag.name {
							want = fishQuoted("__provost_at "+key) + " -s h -l help"
						}
					}
					if !strings.Contains(script, want) {
						t.Errorf("%s: flag %s is not in the script as %q", key, d.dashed(), want)
					}
				}
			})
			if strings.Contains(script, "provost/bench/serve") {
				t.Error("the internal bench serve is in the script")
			}
		})
	}
}

// bash reads the script (bash -n), and completing with it offers what
// the table says.
func TestCompletionBash(t *testing.T) {
	bash := needTool(t, "bash", "the bash completion script is checked with it")
	path := filepath.Join(t.TempDir(), "provost.bash")
	if err := os.WriteFile(path, []byte(completionScriptOf(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	cases := []struct {
		words []string // the command line, the word being completed last
		want  string   // COMPREPLY, space-separated
	}{
		{[]string{"provost", "tr"}, "trail"},
		{[]string{"provost", "re"}, "revoke revocations receipt"},
		{[]string{"provost", "--v"}, "--version"},
		{[]string{"provost", "trail", "s"}, "show"},
		{[]string{"provost", "trail", "show", "--f"}, "--fingerprint"},
		{[]string{"provost", "trail", "show", "--config", ""}, ""}, // a file: the shell's own completion
		{[]string{"provost", "serve", "--p"}, "--pid-file"},
		{[]string{"provost", "proxy", "--d"}, "--data-dir --debug"},
		{[]string{"provost", "dev", "token", "--world", "w", "--s"}, "--sub"},
		{[]string{"provost", "revocations", ""}, "list delete"},
		{[]string{"provost", "completion", ""}, "bash zsh fish"},
		{[]string{"provost", "demo", "-"}, "--keep -v --help"},
		{[]string{"provost", "bench", "s"}, ""}, // bench serve is internal
	}
	var script strings.Builder
	script.WriteString("source " + singleQuoted(path) + "\n")
	for _, c := range cases {
		quoted := make([]string, len(c.words))
		for i, w := range c.words {
			quoted[i] = singleQuoted(w)
		}
		script.WriteString("COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" + strconv.Itoa(len(c.words)-1) +
			"; COMPREPLY=(); _provost; echo \"${COMPREPLY[*]}\"\n")
	}
	out, err := exec.Command(bash, "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("bash printed %d lines for %d cases:\n%s", len(got), len(cases), out)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%q: completes to %q, want %q", c.words, got[i], c.want)
		}
	}
}

// zsh and fish read their scripts, where they are installed: neither is
// part of this project's test image (scripts/test.sh does not install
// them), so elsewhere the content checks above are what covers them.
func TestCompletionZshFishSyntax(t *testing.T) {
	for _, sh := range []struct{ shell, flag string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(sh.shell, func(t *testing.T) {
			script := completionScriptOf(t, sh.shell)
			bin, err := exec.LookPath(sh.shell)
			if err != nil {
				t.Logf("%s is not installed: its script is checked for content only (TestCompletionScriptsCoverTheTable)", sh.shell)
				return
			}
			path := filepath.Join(t.TempDir(), "provost."+sh.shell)
			if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, sh.flag, path).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", sh.shell, sh.flag, err, out)
			}
		})
	}
}
