package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/shellrun"
)

// firstHourStep is a step of docs/nginx.md's "Try it on the demo's world":
// a comment (empty for commands before any comment in a block), its
// commands, and the output the doc shows after it ("" when none).
type firstHourStep struct {
	shellrun.Step
	shown string
}

// firstHourDoc is that section, taken apart.
type firstHourDoc struct {
	conf     string // the first-hour-nginx.conf block
	bindings string // the bindings.yaml excerpt
	steps    []firstHourStep
}

// parseFirstHourDoc reads the section of docs/nginx.md a newcomer follows
// literally: its sh blocks (each "# comment" line starts a step), the
// text blocks of output shown after them, the nginx.conf and the
// bindings excerpt.
func parseFirstHourDoc(t *testing.T, doc string) firstHourDoc {
	t.Helper()
	_, sec, ok := strings.Cut(doc, "\n## Try it on the demo's world\n")
	if !ok {
		t.Fatal(`docs/nginx.md has no "## Try it on the demo's world" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var d firstHourDoc
	for _, m := range regexp.MustCompile("(?s)```([a-z]+)\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		lang, text := m[1], m[2]
		switch {
		case lang == "nginx" && strings.HasPrefix(text, "# first-hour-nginx.conf"):
			d.conf = text
		case lang == "yaml" && strings.HasPrefix(text, "# first-hour/bindings.yaml"):
			d.bindings = text
		case lang == "sh":
			comment := false
			for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
				switch c, isComment := strings.CutPrefix(l, "# "); {
				case isComment:
					d.steps = append(d.steps, firstHourStep{Step: shellrun.Step{Comment: c}})
					comment = true
				case comment:
					d.steps[len(d.steps)-1].Cmds = append(d.steps[len(d.steps)-1].Cmds, l)
				default:
					d.steps = append(d.steps, firstHourStep{Step: shellrun.Step{Cmds: []string{l}}})
				}
			}
		case lang == "text" && len(d.steps) > 0:
			d.steps[len(d.steps)-1].shown = text
		default:
			t.Fatalf("docs/nginx.md's first-hour section has a %s block this test does not know:\n%s", lang, text)
		}
	}
	if d.conf == "" || d.bindings == "" || len(d.steps) == 0 {
		t.Fatalf("docs/nginx.md's first-hour section lacks the nginx.conf, the bindings excerpt or the commands: %+v", d)
	}
	return d
}

// TestNginxFirstHour follows docs/nginx.md's "Try it on the demo's world"
// as a newcomer would: `provost demo --keep`, `provost serve` on the kept
// world, the section's whole nginx.conf in a real nginx started by the
// section's command, and its curl requests, run by a shell with the
// provost built from this tree and nginx on PATH. Only the three ports
// change. Each request must answer the status and reasons its comment
// names and the output the doc shows; typed identity headers must not
// reach the application; a refusal's request id must be in nginx's access
// log; the section's stop command must stop nginx. The conf must also keep
// every header line of the production recipe (same section of the doc).
func TestNginxFirstHour(t *testing.T) {
	nginx := findNginx(t)
	shellrun.NeedCurl(t)
	doc := mustRead(t, "../../docs/nginx.md")
	fh := parseFirstHourDoc(t, doc)
	checkFirstHourConfSafety(t, nginxDocConf(t, doc, "# /etc/nginx/nginx.conf\n"), fh.conf)

	serveAt := slices.IndexFunc(fh.steps, func(s firstHourStep) bool {
		return len(s.Cmds) == 1 && strings.HasPrefix(s.Cmds[0], "provost serve ")
	})
	if serveAt < 1 || !strings.HasPrefix(fh.steps[0].Cmds[0], "provost demo --keep first-hour") {
		t.Fatalf("the section does not start with provost demo --keep first-hour, then provost serve: %+v", fh.steps)
	}
	bin := shellrun.Build(t, "../..")
	if err := os.Symlink(nginx, filepath.Join(bin, "nginx")); err != nil {
		t.Fatal(err)
	}
	env := shellrun.Env{Bin: bin, Dir: t.TempDir()}
	before := func(ss []firstHourStep) (out []shellrun.Step) {
		for _, s := range ss {
			out = append(out, s.Step)
		}
		return out
	}
	shellrun.Script(t, env, before(fh.steps[:serveAt]))
	checkBindingsExcerpt(t, fh.bindings, filepath.Join(env.Dir, "first-hour", "bindings.yaml"))
	provostAddr := shellrun.Serve(t, env, fh.steps[serveAt].Cmds[0])

	// The documented addresses, on free ports here.
	ports := strings.NewReplacer("127.0.0.1:8080", provostAddr,
		"127.0.0.1:8081", "127.0.0.1:"+strconv.Itoa(freePort(t)),
		"127.0.0.1:9000", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	for _, a := range []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:9000"} {
		if !strings.Contains(fh.conf, a) {
			t.Fatalf("the first-hour nginx.conf does not name %s: update this test with the doc", a)
		}
	}
	if err := os.WriteFile(filepath.Join(env.Dir, "first-hour-nginx.conf"), []byte(ports.Replace(fh.conf)), 0o600); err != nil {
		t.Fatal(err)
	}
	rest := fh.steps[serveAt+1:]
	for i := range rest {
		for j, c := range rest[i].Cmds {
			rest[i].Cmds[j] = ports.Replace(c)
		}
	}
	pidFile := filepath.Join(env.Dir, "first-hour-nginx", "nginx.pid")
	t.Cleanup(func() { stopDaemonNginx(t, pidFile) })
	outs, _ := shellrun.Script(t, env, before(rest))

	checked := map[string]int{}
	for i, s := range rest {
		out := strings.ReplaceAll(outs[i], "\r", "")
		if s.shown != "" {
			checkShown(t, s.Comment, s.shown, out)
		}
		want, reasons := s.Expect()
		if want == "" {
			continue
		}
		checked[want]++
		as := shellrun.Answers(out)
		m := regexp.MustCompile(`\((\d{3})\b`).FindStringSubmatch(s.Comment)
		if len(as) != 1 || m == nil {
			t.Errorf("step %q: %d answers (want 1), or no (status) in its comment:\n%s", s.Comment, len(as), out)
			continue
		}
		a := as[0]
		if strconv.Itoa(a.Status) != m[1] || (want == "allow") != (a.Status == 200) {
			t.Errorf("step %q: status %d, want %s (%s)\n%s", s.Comment, a.Status, m[1], want, out)
		}
		if want == "deny" && a.Decision != "deny" {
			t.Errorf("step %q: X-Provost-Decision %q, want deny\n%s", s.Comment, a.Decision, out)
		}
		for _, r := range reasons {
			if !slices.Contains(a.Reasons, r) {
				t.Errorf("step %q: reasons %v lack %s", s.Comment, a.Reasons, r)
			}
		}
		cmds := strings.Join(s.Cmds, "\n")
		for _, typed := range regexp.MustCompile(`-H "X-Provost-[A-Za-z-]+: ([^"]+)"`).FindAllStringSubmatch(cmds, -1) {
			checked["typed X-Provost-*"]++
			if strings.Contains(out, typed[1]) {
				t.Errorf("step %q: the client's %q reached the application:\n%s", s.Comment, typed[1], out)
			}
		}
		if strings.Contains(cmds, `-H "X-Forwarded-For: `) {
			checked[want+" typed X-Forwarded-For"]++
		}
		if want == "deny" {
			checkAccessLogNames(t, filepath.Join(env.Dir, "first-hour-nginx", "access.log"), s.Comment, out)
		}
	}
	for _, k := range []string{"allow", "deny", "typed X-Provost-*", "deny typed X-Forwarded-For"} {
		if checked[k] == 0 {
			t.Errorf("no step of the section is a %s request", k)
		}
	}
	if last := rest[len(rest)-1]; !strings.Contains(strings.Join(last.Cmds, "\n"), " -s quit") {
		t.Errorf("the section does not end by stopping nginx: %+v", last)
	} else if !waitGone(pidFile, 15*time.Second) {
		t.Errorf("nginx still runs after the section's stop command (%s)", pidFile)
	}
}

// checkFirstHourConfSafety requires the first-hour nginx.conf to keep
// every header the production recipe sets, blanks, copies from Provost's
// answer or shows a refusal.
func checkFirstHourConfSafety(t *testing.T, recipe, firstHour string) {
	t.Helper()
	for _, re := range []string{`(?m)^\s*proxy_set_header\s+(\S+)`, `(?m)^\s*auth_request_set\s+(\S+)`, `(?m)^\s*add_header\s+(\S+)`, `(?m)^\s*error_page\s+(\d+)`} {
		has := map[string]bool{}
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(firstHour, -1) {
			has[strings.ToLower(m[1])] = true
		}
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(recipe, -1) {
			if !has[strings.ToLower(m[1])] {
				t.Errorf("the first-hour nginx.conf lacks the recipe's %s", m[0])
			}
		}
	}
}

// checkBindingsExcerpt requires every line of the doc's excerpt (but its
// comment) to be a line of the kept world's bindings.yaml.
func checkBindingsExcerpt(t *testing.T, excerpt, file string) {
	t.Helper()
	kept := strings.Split(mustRead(t, file), "\n")
	for _, l := range strings.Split(strings.TrimSpace(excerpt), "\n")[1:] {
		if !slices.Contains(kept, l) {
			t.Errorf("the doc's bindings excerpt has %q, which is not a line of the kept %s", l, file)
		}
	}
}

// checkShown requires each line of the output the doc shows to be a line
// of out, in order; "…" stands for any text, and a line of "…" alone
// is skipped.
func checkShown(t *testing.T, step, shown, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	at := 0
	for _, l := range strings.Split(strings.TrimSpace(shown), "\n") {
		if strings.TrimSpace(l) == "…" {
			continue
		}
		parts := strings.Split(l, "…")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".+") + "$")
		i := slices.IndexFunc(lines[at:], re.MatchString)
		if i < 0 {
			t.Errorf("step %q: the doc shows %q, not in the output (after line %d):\n%s", step, l, at, out)
			return
		}
		at += i + 1
	}
}

// checkAccessLogNames requires nginx's access log to name the refusal's
// request id with its decision and reasons, as the doc says.
func checkAccessLogNames(t *testing.T, accessLog, step, out string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^X-Request-Id: ([0-9a-f]{32})$`).FindStringSubmatch(out)
	r := regexp.MustCompile(`(?m)^X-Provost-Reasons: (\S+)$`).FindStringSubmatch(out)
	if m == nil || r == nil {
		t.Errorf("step %q: the refusal has no X-Request-Id or X-Provost-Reasons:\n%s", step, out)
		return
	}
	want := "request_id=" + m[1] + " decision=deny reasons=" + r[1]
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(mustRead(t, accessLog), want) {
		if time.Now().After(deadline) {
			t.Errorf("step %q: nginx's access log has no %q:\n%s", step, want, mustRead(t, accessLog))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGone waits for nginx to remove its pid file, which it does on exit.
func waitGone(pidFile string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(pidFile); os.IsNotExist(err) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopDaemonNginx stops the nginx the section started (a daemon, not the
// test's child) when the section's own stop command did not: SIGQUIT,
// then SIGKILL.
func stopDaemonNginx(t *testing.T, pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return // never started, or stopped
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Errorf("nginx pid file %s: %q", pidFile, b)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	if !waitGone(pidFile, 10*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("nginx (pid %d) did not stop on SIGQUIT", pid)
	}
}
