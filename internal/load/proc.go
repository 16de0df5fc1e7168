package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// controlTimeout bounds one control exchange with a child.
const controlTimeout = 10 * time.Second

// Proc is a server child process (see Serve), seen from `provost bench`.
// Its methods are not safe for concurrent use.
type Proc struct {
	Target string
	// Addr is the loopback address the child listens on.
	Addr string

	cmd    *exec.Cmd
	in     *os.File // the child's standard input, written by us
	out    *os.File // the child's standard output, read by us
	lines  *bufio.Reader
	stderr *tail
	waited chan struct{} // closed when the child has been waited for
	err    error         // what Wait returned
}

// Start runs a server child for target: the command exe args..., which
// must end up in Serve (for Provost, `provost bench serve --target ...`).
// It waits up to timeout for the child's address and refuses one that is
// not loopback. ctx ending kills the child.
func Start(ctx context.Context, target, exe string, args []string, timeout time.Duration) (*Proc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &Proc{Target: target, in: inW, out: outR, lines: bufio.NewReader(outR), stderr: &tail{max: 4 << 10}, waited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, exe, args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.Cancel = func() error { return p.cmd.Process.Kill() }
	p.cmd.WaitDelay = 2 * time.Second
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("load: starting the %s server: %w", target, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.waited)
	}()
	line, err := p.readLine(timeout)
	if err == nil {
		p.Addr, err = listening(line)
	}
	if err != nil {
		p.kill()
		return nil, p.failed("starting", err)
	}
	return p, nil
}

// listening reads the child's first line: "listening ADDR", ADDR a
// loopback address.
func listening(line string) (string, error) {
	addr, ok := strings.CutPrefix(line, lineListening+" ")
	if !ok {
		return "", fmt.Errorf("unexpected first line %q", line)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return "", fmt.Errorf("the server listens on %q, not a loopback address: refusing to send load there", addr)
	}
	return addr, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// CPU is the CPU time, user and system, the child has used so far, as it
// reports it for itself (getrusage RUSAGE_SELF): the server's alone, not
// the load client's.
func (p *Proc) CPU() (time.Duration, error) {
	if err := p.in.SetWriteDeadline(time.Now().Add(controlTimeout)); err != nil {
		return 0, err
	}
	if _, err := p.in.WriteString(lineCPU + "\n"); err != nil {
		return 0, p.failed("asking", err)
	}
	line, err := p.readLine(controlTimeout)
	if err != nil {
		return 0, p.failed("asking", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != lineCPU {
		return 0, p.failed("asking", fmt.Errorf("unexpected answer %q", line))
	}
	user, err1 := strconv.ParseInt(f[1], 10, 64)
	system, err2 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, p.failed("asking", err)
	}
	return time.Duration(user + system), nil
}

func (p *Proc) readLine(timeout time.Duration) (string, error) {
	if err := p.out.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	line, err := p.lines.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// failed describes an error talking to the child, with what it wrote to
// standard error.
func (p *Proc) failed(doing string, err error) error {
	msg := fmt.Sprintf("load: %s the %s server: %v", doing, p.Target, err)
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		msg += "; it said: " + s
	}
	return errors.New(msg)
}

// Stop ends the child: it closes the child's standard input, which makes
// it shut down gracefully, waits up to timeout, and kills it after that.
// The child has exited and been waited for when Stop returns.
func (p *Proc) Stop(timeout time.Duration) error {
	p.in.Close()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.waited:
	case <-t.C:
		p.kill()
		return p.failed("stopping", fmt.Errorf("it did not exit within %s and was killed", timeout))
	}
	p.out.Close()
	if p.err != nil {
		return p.failed("stopping", p.err)
	}
	return nil
}

// kill kills the child and waits for it.
func (p *Proc) kill() {
	p.in.Close()
	p.cmd.Process.Kill()
	<-p.waited
	p.out.Close()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = bytes.Clone(t.buf[over:])
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
