package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for RedisConfig.
const (
	DefaultRedisPrefix  = "provost:replay:"
	DefaultRedisTimeout = 500 * time.Millisecond
	DefaultRedisSlack   = time.Minute
)

// maxMillis bounds the Unix millisecond times sent to Redis: Lua numbers are
// doubles, exact for integers up to 2^53 (about 285,000 years from 1970).
const maxMillis = 1<<53 - 1

// ErrUnavailable is returned, wrapping the cause (a network error, a
// timeout, a Redis error reply), when Redis could not answer. The answer is
// unknown and the caller must fail closed. Redis may nonetheless have
// recorded the key, so a later check of the same key may report a replay:
// that errs on the safe side.
var ErrUnavailable = errors.New("replay cache (redis) unavailable")

// RedisConfig configures a Redis cache. The zero value is usable.
type RedisConfig struct {
	// Prefix starts every Redis key the cache writes; DefaultRedisPrefix
	// when empty. Replicas that share a replay cache must use the same
	// prefix.
	Prefix string
	// Timeout bounds each Seen, on top of the caller's context;
	// DefaultRedisTimeout when zero, no bound of its own when negative.
	// The bound holds whatever the client's options; setting the
	// client's ContextTimeoutEnabled as well lets go-redis drop a
	// connection stuck on a timed-out call at once, rather than after its
	// ReadTimeout.
	Timeout time.Duration
	// Slack is how much longer than a key's until Redis keeps the key, so
	// replicas whose clocks run behind the recording replica's still find
	// it. Liveness is decided by the stored until, never by Redis's expiry.
	// DefaultRedisSlack when zero; none when negative.
	Slack time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Redis is a replay cache shared by several replicas through Redis (a
// single server, Sentinel, or Cluster: any redis.UniversalClient). It is
// safe for concurrent use.
//
// Each Seen is one round trip: EVALSHA of a small Lua script (EVAL once if
// the server's script cache lacks it), which Redis runs atomically. The
// script stores the key's until (Unix milliseconds, on the caller's clock)
// as the value, and compares it with the caller's now:
//
//	GET key; if stored until > now: replay
//	else if until > now: SET key until PX (until-now+slack); new
//	else: new, nothing recorded
//
// So the caller's clock alone decides liveness (the contract, and what
// makes replicas agree whatever Redis's clock says), and a replay with an
// earlier until never shortens a live entry. The Redis TTL is relative to
// the caller's now and only removes keys once they are certainly expired.
// now is rounded down and until up to the millisecond, so a key is never
// forgotten early; it may be remembered up to a millisecond longer.
//
// Keys are stored as Prefix followed by the hex SHA-256 of the key: every
// Redis key has the same bounded length, holds no caller bytes (no
// credential, no cluster hash tag, no glob characters), and keys differing
// anywhere stay distinct.
//
// The Redis server must not evict keys on its own: use maxmemory-policy
// noeviction, so a full Redis refuses writes (Seen fails closed) rather than
// forgetting live entries. Redis replication is asynchronous: a failover
// may lose entries recorded just before it.
//
// Redis does not implement Horizon: its memory outlives Provost's restarts.
// It does not outlive a restart of a Redis without persistence (RDB or AOF),
// which forgets every entry.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	slack   int64 // milliseconds
	now     func() time.Time
}

var _ Cache = (*Redis)(nil)

// seenScript is the check-and-record step. KEYS[1] is the Redis key; ARGV
// holds now, until and the clean-up TTL, all in milliseconds. It returns 1
// for a replay and 0 for a new key. A stored value that is not a number
// (another program wrote the key) is an error: the caller fails closed.
var seenScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local stored = redis.call('GET', KEYS[1])
if stored then
	local u = tonumber(stored)
	if not u then
		return redis.error_reply('ERR provost replay: stored value is not a time')
	end
	if now < u then
		return 1
	end
end
if tonumber(ARGV[2]) > now then
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 0
`)

// NewRedis returns a cache over client. It does not contact Redis; the
// first Seen does. The client stays the caller's to close.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) *Redis {
	if client == nil {
		panic("replay.NewRedis: nil client")
	}
	r := &Redis{
		client:  client,
		prefix:  cfg.Prefix,
		timeout: cfg.Timeout,
		now:     cfg.Now,
	}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.timeout == 0 {
		r.timeout = DefaultRedisTimeout
	}
	switch {
	case cfg.Slack == 0:
		r.slack = DefaultRedisSlack.Milliseconds()
	case cfg.Slack > 0:
		r.slack = (cfg.Slack + time.Millisecond - 1).Milliseconds()
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Key returns the Redis key that stores key: Prefix followed by the hex
// SHA-256 of key.
func (r *Redis) Key(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, 0, len(r.prefix)+hex.EncodedLen(len(sum)))
	b = append(b, r.prefix...)
	b = hex.AppendEncode(b, sum[:])
	return string(b)
}

// Seen implements Cache. A context that has already ended is refused with
// its error, without contacting Redis.
func (r *Redis) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	if key == "" {
		return false, ErrEmptyKey
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	now := r.now()
	nowMs := millis(now, false)
	untilMs := nowMs // records nothing
	if until.After(now) {
		untilMs = millis(until, true) // > nowMs
	}
	ttl := min(max(untilMs-nowMs, 1)+r.slack, maxMillis)

	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	keys := []string{r.Key(key)}
	var n int64
	var err error
	if ctx.Done() == nil {
		n, err = seenScript.Run(ctx, r.client, keys, nowMs, untilMs, ttl).Int64()
	} else {
		// go-redis bounds socket reads and writes by the context only
		// when the client has ContextTimeoutEnabled; without it a call
		// waits out ReadTimeout. Waiting in a goroutine makes the
		// context's end bound Seen whatever the client's options. An
		// abandoned call ends by the client's own timeouts (waiting for
		// a pool connection ends with the context, cancelled on return),
		// and an answer it gets is dropped: the key may then be recorded
		// although Seen failed, which errs on the safe side.
		done := make(chan seenResult, 1)
		go func() {
			n, err := seenScript.Run(ctx, r.client, keys, nowMs, untilMs, ttl).Int64()
			done <- seenResult{n, err}
		}()
		select {
		case res := <-done:
			n, err = res.n, res.err
		case <-ctx.Done():
			select {
			case res := <-done: // answered just in time
				n, err = res.n, res.err
			default:
				return false, fmt.Errorf("%w: %w", ErrUnavailable, context.Cause(ctx))
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch n {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: script answered %d", ErrUnavailable, n)
}

type seenResult struct {
	n   int64
	err error
}

// millis converts t to Unix milliseconds, rounding down, or up when up is
// set, and clamping to ±maxMillis (the zero Time is far in the past but
// inside the range).
func millis(t time.Time, up bool) int64 {
	const limit = maxMillis / 1000
	switch sec := t.Unix(); {
	case sec >= limit:
		return maxMillis
	case sec <= -limit:
		return -maxMillis
	}
	ms := t.UnixMilli() // rounds down: the nanoseconds part is never negative
	if up && t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}
