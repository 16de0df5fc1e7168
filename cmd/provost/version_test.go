package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-03-04T05:06:07Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    buildInfo
	}{
		{"stamped wins over the module version", "v1.2.3",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v9.9.9"}, Settings: vcs},
			buildInfo{Version: "v1.2.3", Revision: "0123abcd", Time: "2026-03-04T05:06:07Z", Modified: true, GoVersion: "go1.26.1"}},
		{"go install module@version", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.4.0"}},
			buildInfo{Version: "v0.4.0", GoVersion: "go1.26.1"}},
		{"a checkout without a tag", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:2]},
			buildInfo{Version: "dev", Revision: "0123abcd", Time: "2026-03-04T05:06:07Z", GoVersion: "go1.26.1"}},
		{"no build information", "dev", nil, buildInfo{Version: "dev", GoVersion: runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readBuildInfo(tc.stamped, func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil })
			if got != tc.want {
				t.Errorf("readBuildInfo = %+v, want %+v", got, tc.want)
			}
		})
	}
	var out bytes.Buffer
	buildInfo{Version: "v1.2.3", Revision: "0123abcd", Time: "2026-03-04T05:06:07Z", Modified: true, GoVersion: "go1.26.1"}.write(&out)
	want := "provost v1.2.3\ncommit: 0123abcd (modified)\ncommit time: 2026-03-04T05:06:07Z\ngo: go1.26.1\n"
	if out.String() != want {
		t.Errorf("write:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, stderr := runCLI(t, "", args...)
		if code != exitOK || !strings.HasPrefix(out, "provost ") || !strings.Contains(out, "\ngo: go1.") || stderr != "" {
			t.Errorf("%v: %d %q %q", args, code, out, stderr)
		}
	}
	if code, out, _ := runCLI(t, "", "version", "-h"); code != exitOK || !strings.HasPrefix(out, "usage: provost version") {
		t.Errorf("version -h: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "", "version", "extra"); code != exitUsage || !strings.Contains(stderr, "usage:") {
		t.Errorf("version extra: %d %q", code, stderr)
	}
}

// A binary built with -ldflags -X main.version reports that version; one
// built without reports what Go recorded: the module version or dev, the
// commit when built in a checkout, and the Go version.
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice; skipped with -short")
	}
	dir := t.TempDir()
	build := func(name string, args ...string) string {
		t.Helper()
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", args, err, out)
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", name, err)
		}
		return string(out)
	}
	stamped := build("stamped", "-ldflags", "-X main.version=v7.7.7-test")
	if !strings.HasPrefix(stamped, "provost v7.7.7-test\n") || !strings.Contains(stamped, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("stamped build says:\n%s", stamped)
	}

	// GOFLAGS may hold -buildvcs=false; ask for the VCS stamp in a checkout.
	rev, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	var vcs []string
	if gitErr == nil {
		vcs = []string{"-buildvcs=true"}
	}
	plain := build("plain", vcs...)
	first, _, _ := strings.Cut(plain, "\n")
	v := strings.TrimPrefix(first, "provost ")
	if v == first || v == "" || v == "v7.7.7-test" || (v != "dev" && !strings.HasPrefix(v, "v")) {
		t.Errorf("unstamped build's first line %q: want provost dev or provost vX.Y.Z...", first)
	}
	if !strings.Contains(plain, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("unstamped build does not name the Go version:\n%s", plain)
	}
	if gitErr == nil {
		if want := "commit: " + strings.TrimSpace(string(rev)); !strings.Contains(plain, want) {
			t.Errorf("built in a git checkout, the binary should say %q:\n%s", want, plain)
		}
	}
}
