package provosttest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy on loopback between Provost and one backend
// (Redis, PostgreSQL) that a test can cut and heal, so an outage of the
// backend is played without touching the server itself, which other tests
// and programs may share.
//
// Cut resets every live connection and, until Heal, resets every new one
// as soon as it is accepted: to a client this is what a stopped server
// looks like (its connections drop, and new ones fail at once). The
// listener itself stays open, so the address never changes and no other
// program can take its port between Cut and Heal.
type FaultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cut     bool
	closed  bool
	conns   map[net.Conn]struct{} // both ends of every live pair
	refused int
	wg      sync.WaitGroup
}

// NewFaultProxy starts a proxy on 127.0.0.1:0 forwarding to target
// (host:port). It is closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	p := &FaultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address (host:port): configure it in place of the
// backend's.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every live connection and makes the proxy reset new ones
// until Heal.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
}

// Heal makes the proxy forward new connections again.
func (p *FaultProxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Live is the number of connections being forwarded.
func (p *FaultProxy) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Refused is the number of connections reset on arrival while cut.
func (p *FaultProxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// Close stops the proxy and drops every connection.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		reset(c)
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *FaultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // a transient accept error
			continue
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		if refuse {
			p.refused++
		}
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *FaultProxy) forward(c net.Conn) {
	defer p.wg.Done()
	b, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		reset(c)
		return
	}
	p.mu.Lock()
	if p.cut || p.closed { // cut while dialling
		p.refused++
		p.mu.Unlock()
		reset(c)
		reset(b)
		return
	}
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	// One side ended (or Cut reset both): end the pair, both ways.
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
	c.Close()
	b.Close()
	<-done
}

// reset closes c with a TCP reset rather than an orderly shutdown, as a
// crashed or stopped server's kernel does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
