// Package shellrun runs the shell commands a document gives a reader, as
// the reader would, for tests that keep those documents true: the README's
// quick start and the next steps `provost demo --keep` prints. Commands run
// in /bin/sh with the test's `provost` binary first on PATH; `provost
// serve` is started in the background on a free loopback port, and the
// documented server URL is replaced by that port's.
package shellrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Step is a comment and the commands under it.
type Step struct {
	Comment string
	Cmds    []string
}

// Expect is what a step's comment promises: "allowed" or "denied" (or
// "allow", "deny", "200", "403") and the reason codes it names (words with
// an underscore, such as network_not_approved). Want is "" when the
// comment promises no decision.
func (s Step) Expect() (want string, reasons []string) {
	c := strings.ToLower(s.Comment)
	switch {
	case regexp.MustCompile(`\b(allowed|allow)\b`).MatchString(c) && !strings.Contains(c, "denied") && !strings.Contains(c, "deny"):
		want = "allow"
	case regexp.MustCompile(`\b(denied|deny)\b`).MatchString(c):
		want = "deny"
	}
	return want, regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`).FindAllString(c, -1)
}

// Env is where the commands run.
type Env struct {
	Bin string // the folder holding the provost binary, first on PATH
	Dir string // the working directory
	// From and To replace the documented server URL in every command
	// (http://127.0.0.1:8080 by the address Serve started on).
	From, To string
}

func (e Env) environ() []string {
	return append(os.Environ(), "PATH="+e.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Serve starts cmd (a `provost serve ...` line) with --listen 127.0.0.1:0
// and returns the address it listens on. It is stopped (SIGTERM, then
// waited for) when the test ends; a non-zero exit fails the test.
func Serve(t testing.TB, e Env, cmd string) string {
	t.Helper()
	cmd = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cmd), "&"))
	c := exec.Command("sh", "-c", "exec "+cmd+" --listen 127.0.0.1:0")
	c.Dir, c.Env = e.Dir, e.environ()
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "listening" {
				addr <- m.Addr
			}
		}
	}()
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		err := c.Wait()
		<-done
		if err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, log.String())
		}
	})
	select {
	case a := <-addr:
		return a
	case <-done:
		t.Fatalf("%s exited before listening:\n%s", cmd, log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s", cmd)
	}
	return ""
}

// marker separates the steps' outputs.
const marker = "@@shellrun-step "

// Script runs the steps in one shell (so variables carry from one step to
// the next), stopping at the first command that fails (set -e). It returns
// each step's standard output and the whole standard error.
func Script(t testing.TB, e Env, steps []Step) (outs []string, stderr string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("set -eu\n")
	for i, s := range steps {
		fmt.Fprintf(&b, "echo '%s%d'\n", marker, i)
		for _, c := range s.Cmds {
			if e.From != "" {
				c = strings.ReplaceAll(c, e.From, e.To)
			}
			b.WriteString(c + "\n")
		}
	}
	c := exec.Command("sh", "-c", b.String())
	c.Dir, c.Env = e.Dir, e.environ()
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("the commands failed (%v):\n%s\nstdout:\n%s\nstderr:\n%s", err, b.String(), out.String(), errb.String())
	}
	outs = make([]string, len(steps))
	parts := strings.Split(out.String(), marker)
	for _, p := range parts[1:] {
		n, rest, _ := strings.Cut(p, "\n")
		if i, err := strconv.Atoi(n); err == nil && i < len(outs) {
			outs[i] = rest
		}
	}
	return outs, errb.String()
}

// Answer is what one HTTP answer in a step's output said.
type Answer struct {
	Status   int
	Decision string
	Reasons  []string
}

// Answers reads the HTTP answers in out: `curl -i` headers (status line,
// X-Provost-Decision, X-Provost-Reasons) and check API JSON bodies.
func Answers(out string) []Answer {
	var as []Answer
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "HTTP/"):
			a := Answer{}
			if f := strings.Fields(l); len(f) > 1 {
				a.Status, _ = strconv.Atoi(f[1])
			}
			as = append(as, a)
		case len(as) > 0 && headerIs(l, "X-Provost-Decision"):
			as[len(as)-1].Decision = headerValue(l)
		case len(as) > 0 && headerIs(l, "X-Provost-Reasons"):
			as[len(as)-1].Reasons = strings.Split(headerValue(l), ",")
		case strings.HasPrefix(l, "{"):
			var d struct {
				Decision string
				Reasons  []struct{ Code string }
			}
			if json.Unmarshal([]byte(l), &d) == nil && d.Decision != "" {
				a := Answer{Status: 200, Decision: d.Decision}
				for _, r := range d.Reasons {
					a.Reasons = append(a.Reasons, r.Code)
				}
				as = append(as, a)
			}
		}
	}
	return as
}

func headerIs(line, name string) bool {
	return len(line) > len(name) && strings.EqualFold(line[:len(name)+1], name+":")
}

func headerValue(line string) string {
	_, v, _ := strings.Cut(line, ":")
	return strings.TrimSpace(v)
}

// Build builds ./cmd/provost of the module at root into a new folder and
// returns that folder (the binary is named provost).
func Build(t testing.TB, root string) string {
	t.Helper()
	dir := t.TempDir()
	c := exec.Command("go", "build", "-o", filepath.Join(dir, "provost"), "./cmd/provost")
	c.Dir = root
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// NeedCurl skips the test when curl is missing, except under CI (the
// variable CI set), where it fails: nothing skips silently in CI.
func NeedCurl(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed; the documented commands use it (apt-get install curl)")
		}
		t.Skip("curl is not installed; the documented commands use it (apt-get install curl)")
	}
}

// Verify holds each step that promises a decision (Expect) to the one
// HTTP answer in its output: the decision, 200 for allow and not 200 for
// deny, and the reason codes it names. It returns how many steps promised
// each decision, counting "dpop allow" and "dpop deny" for steps that send
// a DPoP header too.
func Verify(t testing.TB, steps []Step, outs []string) map[string]int {
	t.Helper()
	checked := map[string]int{}
	for i, s := range steps {
		want, reasons := s.Expect()
		if want == "" {
			continue
		}
		as := Answers(outs[i])
		if len(as) != 1 {
			t.Errorf("step %q: %d answers in\n%s", s.Comment, len(as), outs[i])
			continue
		}
		a := as[0]
		if a.Decision != want || (want == "allow") != (a.Status == 200) {
			t.Errorf("step %q: %d %s %v, want %s\n%s", s.Comment, a.Status, a.Decision, a.Reasons, want, outs[i])
		}
		for _, r := range reasons {
			if !slices.Contains(a.Reasons, r) {
				t.Errorf("step %q: reasons %v lack %s", s.Comment, a.Reasons, r)
			}
		}
		checked[want]++
		if strings.Contains(strings.Join(s.Cmds, "\n"), "DPoP:") {
			checked["dpop "+want]++
		}
	}
	return checked
}
