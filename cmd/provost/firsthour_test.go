package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/shellrun"
)

// parseNextSteps reads the steps `provost demo --keep` prints after "Try
// it yourself": indented "  # N. comment" lines, each followed by its
// indented commands, up to the first line that is not indented (the
// pointer to docs/nginx.md).
func parseNextSteps(t *testing.T, out string) []shellrun.Step {
	t.Helper()
	_, after, ok := strings.Cut(out, "Try it yourself")
	if !ok {
		t.Fatalf("the demo printed no next steps:\n%s", out)
	}
	var steps []shellrun.Step
	for _, l := range strings.Split(after, "\n")[1:] {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "  ") {
			break
		}
		l = strings.TrimPrefix(l, "  ")
		switch {
		case strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "# "):
			_, comment, _ := strings.Cut(l, ". ")
			steps = append(steps, shellrun.Step{Comment: comment})
		case len(steps) > 0:
			steps[len(steps)-1].Cmds = append(steps[len(steps)-1].Cmds, l)
		}
	}
	return steps
}

// The first hour, as a newcomer lives it: `provost demo --keep DIR`, then
// the commands it prints, run literally by a shell with the built binary
// on PATH (only the server's port differs: it listens on a free one):
// provost serve on the kept world, provost dev token, dpop and svid, and
// curl requests over real HTTP whose decisions must be the ones the
// printed comments promise.
func TestFirstHour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo and a server; skipped under -short")
	}
	shellrun.NeedCurl(t)
	bin := shellrun.Build(t, "../..")
	work := filepath.Join(t.TempDir(), "first hour") // a space: the printed commands must quote
	demoCmd := exec.Command(filepath.Join(bin, "provost"), "demo", "--keep", filepath.Join(work, "world"))
	out, err := demoCmd.Output()
	if err != nil {
		t.Fatalf("provost demo --keep: %v\n%s", err, out)
	}
	steps := parseNextSteps(t, string(out))
	// The demo ends by naming docs/nginx.md's section for the kept world:
	// it must exist.
	if doc, err := os.ReadFile("../../docs/nginx.md"); err != nil || !strings.Contains(string(out), `docs/nginx.md, "Try it on the demo's world"`) ||
		!strings.Contains(string(doc), "\n## Try it on the demo's world\n") {
		t.Errorf("the demo's pointer to docs/nginx.md, or that section, is missing (%v)", err)
	}
	if len(steps) < 5 || len(steps[0].Cmds) != 1 || !strings.HasPrefix(steps[0].Cmds[0], "provost serve --config ") {
		t.Fatalf("the next steps do not start by serving the kept world: %+v", steps)
	}
	env := shellrun.Env{Bin: bin, Dir: t.TempDir(), From: demo.ServeURL}
	env.To = "http://" + shellrun.Serve(t, env, steps[0].Cmds[0])
	outs, stderr := shellrun.Script(t, env, steps[1:])
	if n := strings.Count(stderr, devWarning); n < 5 {
		t.Errorf("provost dev warned %d times on stderr:\n%s", n, stderr)
	}
	checked := shellrun.Verify(t, steps[1:], outs)
	for _, k := range []string{"allow", "deny", "dpop allow", "dpop deny"} {
		if checked[k] == 0 {
			t.Errorf("no printed step was a %s request", k)
		}
	}
	last := outs[len(outs)-1]
	if !strings.Contains(steps[len(steps)-1].Cmds[0], "trail show") || !strings.Contains(last, "svc:reports") || !strings.Contains(last, "agent:tool-caller") {
		t.Errorf("the evidence log does not show the requests:\n%s", last)
	}
}
