package admin

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds of a limiter's memory.
const (
	// maxLimiterKeys bounds the keys (source addresses or clients) one
	// limiter remembers, so that a flood from many distinct addresses
	// cannot grow memory without limit.
	maxLimiterKeys = 10000
	// sweepEvery is how often a limiter drops its idle keys, at most: a
	// full limiter does not scan its map on every request of a flood.
	sweepEvery = time.Second
)

// limiter is a token bucket (golang.org/x/time/rate) per key, in a bounded
// map. A key whose bucket has refilled is idle: forgetting it changes
// nothing, so idle keys are dropped. When the map is full of keys that
// are not idle, a new key is refused (fail closed) until some are.
type limiter struct {
	rate    rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	keys      map[string]*rate.Limiter
	lastSweep time.Time
}

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, maxKeys: maxLimiterKeys, now: now,
		keys: make(map[string]*rate.Limiter), lastSweep: now()}
}

// allow takes a token from key's bucket; when there is none it says how
// long until there will be one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute {
		l.sweep(now) // forget the idle keys from time to time, full or not
	}
	lim, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.maxKeys && now.Sub(l.lastSweep) >= sweepEvery {
			l.sweep(now)
		}
		if len(l.keys) >= l.maxKeys {
			return false, sweepEvery // too many keys at once: fail closed
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.keys[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, sweepEvery
	}
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now) // a refused request costs no token
		return false, wait
	}
	return true, 0
}

// sweep drops the idle keys: those whose bucket is full again.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
}

// size is the number of keys remembered.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
