package admin

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLimiterBucket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(0.5, 2, clk.now)
	for i := range 2 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= time.Second || wait > 2*time.Second {
		t.Fatalf("past the burst: %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key was limited by the first")
	}
	for range 5 { // refused requests cost nothing
		l.allow("a")
	}
	clk.advance(2 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("no token after the refill time")
	}
}

func TestLimiterBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(1, 2, clk.now)
	l.maxKeys = 4
	for i := range 4 {
		if ok, _ := l.allow("k" + strconv.Itoa(i)); !ok {
			t.Fatalf("key %d refused", i)
		}
	}
	// Full of keys that are not idle: a new key is refused, memory stays bounded.
	for i := range 100 {
		if ok, wait := l.allow("new" + strconv.Itoa(i)); ok || wait <= 0 {
			t.Fatalf("new key %d admitted into a full limiter", i)
		}
	}
	if n := l.size(); n != 4 {
		t.Fatalf("%d keys, want 4", n)
	}
	// Once the buckets have refilled they are idle and make room.
	clk.advance(2 * time.Second)
	if ok, _ := l.allow("new"); !ok {
		t.Fatal("new key refused after the others went idle")
	}
	if n := l.size(); n != 1 {
		t.Fatalf("%d keys after the sweep, want 1", n)
	}
	// Idle keys are forgotten from time to time even when not full.
	l.allow("other")
	clk.advance(time.Minute)
	l.allow("last")
	if n := l.size(); n != 1 {
		t.Fatalf("%d keys a minute later, want 1", n)
	}
}

func TestLimiterManyAddresses(t *testing.T) {
	l := newLimiter(10, 20, time.Now)
	for i := range maxLimiterKeys + 500 {
		l.allow("198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256))
	}
	if n := l.size(); n > maxLimiterKeys {
		t.Fatalf("%d keys, bound %d", n, maxLimiterKeys)
	}
}
