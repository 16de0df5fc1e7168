// Package packaging_test checks the packaging a user installs from: the release
// script, the systemd unit and the Dockerfile (docs/install.md).
package packaging_test

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// need skips the test without tool, or fails it on CI, where nothing may
// skip silently.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI is set: install it)", tool)
		}
		t.Skipf("%s is not installed; skipping", tool)
	}
	return p
}

const releaseVersion = "v0.0.0-releasetest"

var (
	releaseOnce sync.Once
	releaseDir  string
	releaseOut  string
	releaseErr  error
)

// release runs scripts/release.sh once, for the host's platform only (the
// script's default builds linux/amd64 and linux/arm64).
func release(t *testing.T) (dir, binary string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the release script builds linux binaries; this host is %s", runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("builds a release binary; skipped with -short")
	}
	releaseOnce.Do(func() {
		releaseDir, releaseErr = os.MkdirTemp("", "provost-release")
		if releaseErr != nil {
			return
		}
		cmd := exec.Command("bash", "../../scripts/release.sh", "--version", releaseVersion, "--out", releaseDir, "--platforms", "linux/"+runtime.GOARCH)
		out, err := cmd.CombinedOutput()
		releaseOut = string(out)
		if err != nil {
			releaseErr = fmt.Errorf("release.sh: %v\n%s", err, out)
		}
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releaseDir, filepath.Join(releaseDir, "provost-"+releaseVersion+"-linux-"+runtime.GOARCH)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if releaseDir != "" {
		os.RemoveAll(releaseDir)
	}
	os.Exit(code)
}

// The release script builds a static, -trimpath binary that reports the
// version it was given, and a SHA256SUMS that matches it.
func TestReleaseScript(t *testing.T) {
	dir, bin := release(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("%v\nrelease.sh said:\n%s", err, releaseOut)
	}
	sum := sha256.Sum256(data)
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(bin) + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", sums, want)
	}

	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "provost "+releaseVersion+"\n") {
		t.Errorf("--version of the release binary:\n%s\nwant the first line provost %s", out, releaseVersion)
	}

	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"-trimpath": "true", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": runtime.GOARCH} {
		if settings[k] != v {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
		}
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the release binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the release binary needs shared libraries: %v", libs)
	}
}

func TestReleaseScriptRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"--version", "1.0 beta"},
		{"--version", "$(id)"},
		{"--platforms", "linux"},
		{"--frobnicate"},
	} {
		cmd := exec.Command("bash", append([]string{"../../scripts/release.sh", "--out", t.TempDir()}, args...)...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), "release.sh:") {
			t.Errorf("release.sh %v: exit %d, %q; want exit 2 with a message", args, code, out)
		}
	}
}

// unitSettings reads a systemd unit's Key=Value lines, by key, in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

const unitFile = "../../deploy/systemd/provost.service"

// The unit keeps its hardening: each setting docs/install.md promises.
func TestSystemdUnitHardening(t *testing.T) {
	got := unitSettings(t, unitFile)
	for k, want := range map[string]string{
		"User": "provost", "StateDirectory": "provost", "StateDirectoryMode": "0700", "UMask": "0077",
		"ReadWritePaths": "/var/lib/provost", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
		"RestrictNamespaces": "yes", "SystemCallArchitectures": "native", "ExecReload": "/bin/kill -HUP $MAINPID",
		"ExecStart": "/usr/local/bin/provost serve --config /etc/provost/provost.yaml --data-dir /var/lib/provost",
	} {
		if v := got[k]; len(v) != 1 || v[0] != want {
			t.Errorf("%s=%q, want exactly %s=%s", k, v, k, want)
		}
	}
	if !slices.Contains(got["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter=%q, want @system-service among them", got["SystemCallFilter"])
	}
}

// systemd-analyze verifies the unit without a warning, and rates its
// exposure at most 2.0 (of 10).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	// verify checks that ExecStart's program exists: point it at one that
	// does, here, changing nothing else.
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "provost.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/provost", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", unit)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}

	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", unit).CombinedOutput()
	if err != nil && strings.Contains(string(out), "offline") {
		t.Skipf("this systemd-analyze cannot rate a unit offline: %s", out)
	}
	m := regexp.MustCompile(`Overall exposure level for provost\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0:\n%s", level, out)
	}
}

// The unit's ExecStart names flags provost serve has.
func TestSystemdUnitFlagsExist(t *testing.T) {
	_, bin := release(t)
	args := strings.Fields(unitSettings(t, unitFile)["ExecStart"][0])
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	for _, a := range args[2:] {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(out), "-"+strings.TrimLeft(a, "-")) {
			t.Errorf("provost serve has no flag %s:\n%s", a, out)
		}
	}
}

// The Dockerfile builds a static, stamped binary onto a distroless base and
// runs it as a non-root user; .dockerignore keeps secrets out of the
// build context.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			froms = append(froms, line)
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[1], "FROM gcr.io/distroless/static") || !strings.HasSuffix(froms[1], ":nonroot") {
		t.Errorf("stages %q: want a build stage and a distroless static :nonroot final stage", froms)
	}
	for _, want := range []string{"ARG VERSION=", "CGO_ENABLED=0 go build -trimpath", "-X main.version=${VERSION}", "\nUSER nonroot:nonroot\n"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**/provost-data", ".git"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// docs/install.md links only to files that exist.
func TestInstallDocLinks(t *testing.T) {
	data, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`).FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(m[1], "://") {
			continue
		}
		if _, err := os.Stat(filepath.Join("../../docs", m[1])); err != nil {
			t.Errorf("docs/install.md links to %s: %v", m[1], err)
		}
	}
}
