package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: output written to the terminal
// end (a character device, as a user's terminal) is read from the other.
func openPTY(t *testing.T) (term, reader *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal (%v); CI must have one", err)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlockpt: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("ptsname: %v", errno)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return s, m
}

// capture runs fn with w as its standard error and returns what reached r.
func capture(t *testing.T, w, r *os.File, fn func(stderr io.Writer)) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- b.String()
	}()
	fn(w)
	w.Close() // the reader sees the end (a pipe's EOF, a terminal's EIO)
	select {
	case s := <-got:
		return s
	case <-time.After(followWait):
		t.Fatal("the reader did not end")
		return ""
	}
}

// Progress is drawn on standard error when it is a terminal, and nothing
// is drawn when it is a pipe: index catch-up, export, trail verify and
// backtest. The bar's delay is 0 here, so any work would draw it.
func TestTrailProgressOnlyOnATerminal(t *testing.T) {
	env := trailEnv{now: time.Now, terminal: isTerminal}
	bindings := filepath.Join(t.TempDir(), "bindings.yaml")
	if err := os.WriteFile(bindings, []byte("version: 1\nbindings:\n  - name: r\n    match: {subject: \"svc:r\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		args  []string
		label string
	}{
		{[]string{"show"}, "indexing ["},
		{[]string{"export"}, "exporting ["},
		{[]string{"verify"}, "verifying ["},
		{[]string{"backtest", "--bindings", bindings}, "replaying ["},
	}
	for _, r := range runs {
		t.Run(r.args[0], func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				dir := goldenDataDir(t, goldenRecords) // a fresh index to catch up
				var w, rd *os.File
				if tty {
					w, rd = openPTY(t)
				} else {
					var err error
					if rd, w, err = os.Pipe(); err != nil {
						t.Fatal(err)
					}
					defer rd.Close()
				}
				var code int
				errOut := capture(t, w, rd, func(stderr io.Writer) {
					args := append([]string{r.args[0], "--data-dir", dir}, r.args[1:]...)
					code = env.cmd(context.Background(), args, strings.NewReader(""), io.Discard, stderr)
				})
				if code != exitOK && !(r.args[0] == "backtest" && code == exitFail) {
					t.Fatalf("tty %v: exit %d: %s", tty, code, errOut)
				}
				if drawn := strings.Contains(errOut, r.label); drawn != tty {
					t.Errorf("on a terminal %v, progress drawn %v: %q", tty, drawn, errOut)
				}
				if !tty && strings.Contains(errOut, "\r") {
					t.Errorf("a pipe got a carriage return: %q", errOut)
				}
			}
		})
	}
}
