package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/trail"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// followWait is the bound on waiting for a follower: a guard against a
// hang, not a timing assertion.
const followWait = time.Minute

// waitLines waits until out holds n lines.
func waitLines(t *testing.T, out fmt.Stringer, n int) []string {
	t.Helper()
	deadline := time.Now().Add(followWait)
	for {
		s := out.String()
		if strings.Count(s, "\n") >= n {
			return lines(s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d lines, have %d:\n%s", followWait, n, strings.Count(s, "\n"), s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logged returns the log's records in [from, to).
func logged(t *testing.T, dir string, from, to int64) []string {
	t.Helper()
	l, err := evidencelog.Open(t.Context(), app.LayoutOf(dir).Evidence, evidencelog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []string
	for i := from; i < to; {
		batch, err := l.Entries(t.Context(), i, to)
		if err != nil || len(batch) == 0 {
			t.Fatalf("entries at %d: %v", i, err)
		}
		for _, b := range batch {
			out = append(out, string(b))
		}
		i += int64(len(batch))
	}
	return out
}

// follower runs trail export --follow in the background.
type follower struct {
	out    syncBuffer
	errb   syncBuffer
	cancel context.CancelFunc
	done   chan int
}

func startFollow(dir string, args ...string) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{cancel: cancel, done: make(chan int, 1)}
	args = append([]string{"export", "--follow", "--data-dir", dir, "--poll", "10ms"}, args...)
	go func() { f.done <- goldenEnv.cmd(ctx, args, strings.NewReader(""), &f.out, &f.errb) }()
	return f
}

// stop cancels the follower, as SIGINT does to the command's context, and
// requires a clean exit.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	if code := <-f.done; code != exitOK {
		t.Fatalf("follow exited %d: %s", code, f.errb.String())
	}
}

// many is n records of the golden world's kinds, one a minute.
func many(n int) []goldenRecord {
	out := make([]goldenRecord, n)
	for i := range out {
		g := goldenRecords[i%len(goldenRecords)]
		g.at = time.Duration(i) * time.Minute
		g.path = fmt.Sprintf("/v1/r/%d", i)
		out[i] = g
	}
	return out
}

func TestTrailFollow(t *testing.T) {
	dir := goldenDataDir(t, many(1200)) // more than one batch before the follower starts
	pos := filepath.Join(t.TempDir(), "export.pos")

	// A writer appends while the follower runs.
	f := startFollow(dir, "--position", pos)
	l, err := evidencelog.Open(t.Context(), app.LayoutOf(dir).Evidence, evidencelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendGolden(t, l, many(300))
	waitLines(t, &f.out, 1500)
	f.stop(t)
	got := lines(f.out.String()) // all it wrote, also after the wait
	if want := logged(t, dir, 0, 1500); !slices.Equal(got, want) {
		t.Fatalf("followed %d lines; not the log's 1500 records in order", len(got))
	}
	saved, err := trail.ReadPosition(pos)
	if err != nil || saved.Next != 1500 || saved.Log != l.VerifierKey() {
		t.Fatalf("saved position %+v, %v", saved, err)
	}

	// Restarted from the position: the records appended since, and none
	// of those shipped before.
	appendGolden(t, l, many(25))
	f = startFollow(dir, "--position", pos)
	waitLines(t, &f.out, 25) // caught up; then more arrive while it follows
	appendGolden(t, l, many(5))
	waitLines(t, &f.out, 30)
	f.stop(t)
	got = lines(f.out.String())
	if want := logged(t, dir, 1500, 1530); !slices.Equal(got, want) {
		t.Fatalf("after the restart: %d lines, want records 1500 to 1529", len(got))
	}

	// OCSF, filtered: both events of each step-up, from the start.
	f = startFollow(dir, "--format", "ocsf", "--decision", "step_up")
	steps := 1530 / len(goldenRecords) // one step-up per round of the golden records
	waitLines(t, &f.out, 2*steps)
	f.stop(t)
	got = lines(f.out.String())
	for i, line := range got {
		var ev struct {
			Class    int `json:"class_uid"`
			Unmapped struct {
				Provost struct {
					Decision string `json:"decision"`
				} `json:"provost"`
			} `json:"unmapped"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Class != []int{3002, 6003}[i%2] || ev.Unmapped.Provost.Decision != "step_up" {
			t.Fatalf("ocsf line %d: %+v, %v", i, ev, err)
		}
	}
	if len(got) != 2*steps {
		t.Fatalf("%d ocsf lines, want %d", len(got), 2*steps)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTrailFollowRefusesAForeignPosition(t *testing.T) {
	dir := goldenDataDir(t, goldenRecords)
	other := goldenDataDir(t, goldenRecords)
	pos := filepath.Join(t.TempDir(), "export.pos")
	f := startFollow(other, "--position", pos)
	waitLines(t, &f.out, len(goldenRecords))
	f.stop(t)
	// The same records in another log (another key): refused, nothing written.
	code, out, errOut := runTrailEnv(goldenEnv, dir, "", "export", "--follow", "--position", pos)
	if code != exitFail || out != "" || !strings.Contains(errOut, "does not match the evidence log") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	os.WriteFile(pos, []byte("{}{"), 0o600)
	if code, _, errOut := runTrailEnv(goldenEnv, dir, "", "export", "--follow", "--position", pos); code != exitFail || !strings.Contains(errOut, pos) {
		t.Fatalf("a corrupt position: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runTrailEnv(goldenEnv, dir, "", "export", "--position", pos); code != exitUsage || !strings.Contains(errOut, "--follow") {
		t.Fatalf("--position without --follow: exit %d, %s", code, errOut)
	}
}

// The binary ends a follow cleanly on SIGINT and SIGTERM, with the
// position of what it wrote saved, and resumes from it.
func TestTrailFollowSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provost binary; skipped under -short")
	}
	bin := filepath.Join(t.TempDir(), "provost")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := goldenDataDir(t, many(40))
	pos := filepath.Join(t.TempDir(), "export.pos")
	run := func(sig syscall.Signal, n int) []string {
		cmd := exec.Command(bin, "trail", "export", "--follow", "--data-dir", dir, "--position", pos, "--poll", "10ms")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		var got []string
		for len(got) < n {
			line, err := r.ReadString('\n')
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("after %d lines: %v; stderr: %s", len(got), err, errb.String())
			}
			got = append(got, strings.TrimSuffix(line, "\n"))
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(r)
		if err := cmd.Wait(); err != nil || len(rest) != 0 {
			t.Fatalf("after %v: %v, %d more bytes; stderr: %s", sig, err, len(rest), errb.String())
		}
		return got
	}
	if got := run(syscall.SIGINT, 40); !slices.Equal(got, logged(t, dir, 0, 40)) {
		t.Fatal("the first run did not write the log's 40 records")
	}
	l, err := evidencelog.Open(t.Context(), app.LayoutOf(dir).Evidence, evidencelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendGolden(t, l, many(7))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := run(syscall.SIGTERM, 7); !slices.Equal(got, logged(t, dir, 40, 47)) {
		t.Fatal("the second run did not write exactly the 7 records appended since")
	}
	if p, err := trail.ReadPosition(pos); err != nil || p.Next != 47 {
		t.Fatalf("position %+v, %v", p, err)
	}
}
