package dashboard

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login attempts: each source address may fail loginBurst times in a row,
// then once every 60/loginPerMinute seconds; the limiter remembers at most
// maxLimiterKeys addresses.
const (
	loginPerMinute = 10
	loginBurst     = 10
	maxLimiterKeys = 10000
)

// maxStreams bounds the live decision streams open at once.
const maxStreams = 32

// limiter is a token bucket per key, bounded in keys: a key whose bucket
// has refilled is forgotten, and when max keys are busy a new key is
// refused.
type limiter struct {
	mu      sync.Mutex
	keys    map[string]*rate.Limiter
	perSec  rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time
}

func newLimiter(perMinute float64, burst, maxKeys int, now func() time.Time) *limiter {
	return &limiter{keys: map[string]*rate.Limiter{}, perSec: rate.Limit(perMinute / 60), burst: burst, maxKeys: maxKeys, now: now}
}

// blocked reports whether key has no failure left to spend.
func (l *limiter) blocked(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.keys[key]
	if !ok {
		return len(l.keys) >= l.maxKeys && !l.prune()
	}
	return lim.TokensAt(l.now()) < 1
}

// fail spends one of key's failures.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.maxKeys && !l.prune() {
			return
		}
		lim = rate.NewLimiter(l.perSec, l.burst)
		l.keys[key] = lim
	}
	lim.AllowN(l.now(), 1)
}

// prune forgets the keys whose buckets are full again; it reports whether
// there is room for a new key.
func (l *limiter) prune() bool {
	now := l.now()
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	return len(l.keys) < l.maxKeys
}

// clientAddr is the IP address of a peer.
func clientAddr(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// streamSlots counts the live streams open.
type streamSlots struct {
	mu  sync.Mutex
	n   int
	max int
}

func (s *streamSlots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= s.max {
		return false
	}
	s.n++
	return true
}

func (s *streamSlots) release() {
	s.mu.Lock()
	s.n--
	s.mu.Unlock()
}
