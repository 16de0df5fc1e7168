package evidencelog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashEnv = "EVIDENCELOG_CRASH_DIR"

// TestCrashSafety kills (SIGKILL) a process appending durably from several
// goroutines and signing checkpoints, at a random instant, again and again;
// after each crash the log must open, verify, and hold every record whose
// Append had returned.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	acked := map[int64]string{}
	for run := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, "EVIDENCELOG_CRASH_RUN="+strconv.Itoa(run))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill once it has answered a few appends, at a varying moment.
		var n int
		deadline := time.After(20 * time.Second)
		target := 20 + 37*run
		for n < target {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("run %d: child exited: %s", run, stderr.String())
				}
				parseAck(t, line, acked)
				n++
			case <-deadline:
				t.Fatalf("run %d: only %d appends answered: %s", run, n, stderr.String())
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for line := range lines {
			parseAck(t, line, acked)
		}
		cmd.Wait()

		l, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatalf("run %d: reopen after SIGKILL: %v", run, err)
		}
		if err := l.Verify(ctx, nil); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for idx, rec := range acked {
			got, err := l.Entries(ctx, idx, idx+1)
			if err != nil || len(got) != 1 || string(got[0]) != rec {
				t.Fatalf("run %d: answered record %d (%q) reads back as %q, %v", run, idx, rec, got, err)
			}
		}
		t.Logf("run %d: %d records answered so far, log has %d", run, len(acked), l.Size())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func parseAck(t *testing.T, line string, acked map[int64]string) {
	t.Helper()
	idx, rec, ok := strings.Cut(line, "\t")
	i, err := strconv.ParseInt(idx, 10, 64)
	if !ok || err != nil {
		t.Fatalf("bad line from child: %q", line)
	}
	if prev, dup := acked[i]; dup && prev != rec {
		t.Fatalf("index %d answered for %q and %q", i, prev, rec)
	}
	acked[i] = rec
}

// crashChild appends until it is killed, printing "index\trecord" for each
// answered Append, and signs checkpoints meanwhile.
func crashChild(dir string) {
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	run := os.Getenv("EVIDENCELOG_CRASH_RUN")
	var mu sync.Mutex
	for g := range 8 {
		go func() {
			for k := 0; ; k++ {
				rec := fmt.Sprintf("run %s writer %d record %d", run, g, k)
				e, err := l.Append(ctx, []byte(rec))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("%d\t%s\n", e.Index, rec)
				mu.Unlock()
			}
		}()
	}
	go func() {
		for {
			if _, err := l.Checkpoint(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(30 * time.Second) // the parent kills it long before
	os.Exit(3)
}
