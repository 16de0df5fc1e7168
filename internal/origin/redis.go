package origin

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/fingerprint"
)

// Defaults for RedisConfig.
const (
	DefaultRedisPrefix  = "provost:origin:"
	DefaultRedisTimeout = 500 * time.Millisecond
)

// RedisConfig configures a Redis store. The zero value is usable.
type RedisConfig struct {
	// Prefix starts every Redis key the store writes; DefaultRedisPrefix
	// when empty. Replicas that share origin history must use the same
	// prefix. On Redis Cluster it must not contain '{' or '}', which
	// would change the keys' hash slots.
	Prefix string
	// Timeout bounds each Lookup, Record and Learned, on top of the
	// caller's context; DefaultRedisTimeout when zero, no bound of its own
	// when negative. Make the client with ContextTimeoutEnabled: without
	// it, go-redis ignores context deadlines on the socket and a silent
	// server holds each call for the client's own timeouts (seconds by
	// default: 5s in TestRedisTimeout's setting) instead.
	Timeout time.Duration
	// TTL, when positive, is how long a credential's whole history is
	// kept after its last recorded use: every Record sets it to expire TTL
	// later, and a credential unused for TTL is forgotten, so its next use
	// is judged as a first use. It bounds Redis's memory by the credentials
	// used within TTL; keep it longer than the detectors' Dormancy (720h by
	// default), or dormant revivals older than TTL go unflagged. Zero or
	// negative: histories are kept until Redis evicts them. Learned
	// origins are not covered: they are bounded by MaxLearned per binding.
	TTL time.Duration
}

// Redis is a Store shared by several replicas through Redis (a single
// server, Sentinel, or Cluster: any redis.UniversalClient), so the
// detectors of every replica see the origins every replica recorded. It
// answers exactly as the SQLite store does (times to the microsecond in
// UTC, at most MaxOrigins origins per credential and MaxLearned per
// binding, the last in CompareSeen order evicted first) and is safe for
// concurrent use.
//
// A credential's history is two keys, named by its fingerprint (never the
// credential) and sharing a Cluster hash slot:
//
//	Prefix{fp}:h  hash   origin fields -> last, first, uses:allowed
//	                     ""            -> the credential's LastSeen and Uses
//	Prefix{fp}:o  zset   last first workload\0network\0chain\0posture\0uses:allowed
//
// Times are 8 bytes, big-endian, in reverse time order, and no field holds
// a control character (Use.Validate), so the sorted set, every score 0,
// is in CompareSeen order by its members' bytes: Lookup reads it whole and
// Learned reads a range of it, each with one command, already ordered. A
// binding's learned origins are the same pair, Prefix learned:{binding}:h
// and :o.
//
// Record is one round trip: EVALSHA of a Lua script (EVAL once if the
// server's script cache lacks it), which Redis runs atomically, so uses
// recorded at once by several replicas all count. The script replaces the
// origin's member with its new counters and times; when the origin is new
// and the credential now has more than MaxOrigins, ZPOPMAX removes the
// members past MaxOrigins (possibly the new origin itself, when it is the
// least recently seen), as SQLite's DELETE ... OFFSET does; then it updates
// the credential's LastSeen and Uses and, with TTL set, the keys' expiry;
// with Learn set it does the same under the binding, bounded by MaxLearned.
// On Redis Cluster (or a Ring), where a credential and a binding live in
// different hash slots, a learn-mode Record is two script calls, each
// atomic; Lookup and Learned are one call everywhere.
//
// Memory: a credential with three origins of typical sizes (a SPIFFE ID, a
// /24, a short chain and posture class) takes about 2.1 KB with Redis's
// default encodings, as its entries are longer than 64 bytes; with
// zset-max-listpack-value and hash-max-listpack-value raised to 256, about
// 0.9 KB. A credential keeps at most MaxOrigins origins; bound the number
// of credentials with TTL and maxmemory with a volatile-* policy, or with
// noeviction, under which a full Redis refuses Record (before it writes
// anything) and still answers Lookup. Should Redis evict one key of a pair
// anyway, the other is dropped with it at the next Record and Lookup sees
// no history: the credential starts over, as after expiry. Redis
// replication is asynchronous: a failover may lose the last uses recorded,
// which, as with the embedded store's relaxed durability, only weakens the
// heuristics for a while.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	ttl     int64 // milliseconds, 0 for none
	split   bool  // record a learn-mode use in two calls (Cluster, Ring)
}

var _ Store = (*Redis)(nil)

// recordScript records one use. ARGV: 1 the origin's fields joined by NUL,
// 2 the time code of the use, 3 allowed (1 or 0), 4 the parts to update
// ("c" the credential, "l" the binding's learned origins, or "cl"),
// 5 MaxOrigins, 6 MaxLearned, 7 the credential's TTL in milliseconds (0:
// none). KEYS: the credential's zset and hash when 4 has "c", then the
// binding's zset and hash when it has "l".
//
// Time codes are compared byte by byte: Lua's < on strings follows the
// server's locale.
var recordScript = redis.NewScript(`
local F, at, allowed, what = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

local function later(a, b)
	for i = 1, 8 do
		local x, y = string.byte(a, i), string.byte(b, i)
		if x ~= y then return x < y end
	end
	return false
end

local function pair(z, h)
	if redis.call('EXISTS', z) ~= redis.call('EXISTS', h) then
		redis.call('DEL', z, h)
	end
end

local function upsert(z, h, max)
	local last, first, uses, ok = at, at, 1, allowed
	local old = redis.call('HGET', h, F)
	if old then
		local ol, of, c = string.sub(old, 1, 8), string.sub(old, 9, 16), string.sub(old, 17)
		redis.call('ZREM', z, ol .. of .. F .. '\0' .. c)
		if later(ol, last) then last = ol end
		if later(first, of) then first = of end
		local u, a = string.match(c, '^(%d+):(%d+)$')
		uses, ok = tonumber(u) + 1, tonumber(a) + allowed
	end
	local c = string.format('%d:%d', uses, ok)
	redis.call('HSET', h, F, last .. first .. c)
	redis.call('ZADD', z, 0, last .. first .. F .. '\0' .. c)
	if old then return end
	local extra = redis.call('ZCARD', z) - max
	if extra <= 0 then return end
	local gone = redis.call('ZPOPMAX', z, extra)
	for i = 1, #gone, 2 do
		local m = gone[i]
		local j = #m
		while string.byte(m, j) ~= 0 do j = j - 1 end
		redis.call('HDEL', h, string.sub(m, 17, j - 1))
	end
end

local n = 0
if string.find(what, 'c', 1, true) then
	local z, h = KEYS[1], KEYS[2]
	pair(z, h)
	upsert(z, h, tonumber(ARGV[5]))
	local last, uses = at, 1
	local s = redis.call('HGET', h, '')
	if s then
		last = string.sub(s, 1, 8)
		if later(at, last) then last = at end
		uses = tonumber(string.sub(s, 9)) + 1
	end
	redis.call('HSET', h, '', last .. string.format('%d', uses))
	local ttl = tonumber(ARGV[7])
	if ttl > 0 then
		redis.call('PEXPIRE', z, ttl)
		redis.call('PEXPIRE', h, ttl)
	end
	n = 2
end
if string.find(what, 'l', 1, true) then
	local z, h = KEYS[n + 1], KEYS[n + 2]
	pair(z, h)
	upsert(z, h, tonumber(ARGV[6]))
end
return 0
`)

// lookupScript reads a credential's sorted origins and its summary at once.
var lookupScript = redis.NewScript(`
return {redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('HGET', KEYS[2], '')}
`)

// NewRedis returns a store over client. It does not contact Redis; the
// first call does. The client stays the caller's to close.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) *Redis {
	if client == nil {
		panic("origin.NewRedis: nil client")
	}
	_, single := client.(*redis.Client)
	r := &Redis{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout, split: !single}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.timeout == 0 {
		r.timeout = DefaultRedisTimeout
	}
	if cfg.TTL > 0 {
		r.ttl = max(cfg.TTL.Milliseconds(), 1)
	}
	return r
}

// credentialKeys returns the keys of fp's history: its zset and its hash.
func (r *Redis) credentialKeys(fp string) (string, string) {
	k := r.prefix + "{" + fp + "}:"
	return k + "o", k + "h"
}

// learnedKeys returns the keys of binding's learned origins.
func (r *Redis) learnedKeys(binding string) (string, string) {
	k := r.prefix + "learned:{" + binding + "}:"
	return k + "o", k + "h"
}

func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout > 0 {
		return context.WithTimeout(ctx, r.timeout)
	}
	return ctx, func() {}
}

// Lookup implements Store with one script call.
func (r *Redis) Lookup(ctx context.Context, fp string) (History, error) {
	if !fingerprint.Valid(fp) {
		return History{}, fmt.Errorf("%w: lookup: not a fingerprint", ErrInvalid)
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	z, h := r.credentialKeys(fp)
	res, err := lookupScript.Run(ctx, r.client, []string{z, h}).Slice()
	if err != nil {
		return History{}, fmt.Errorf("origin: lookup: %w", err)
	}
	hist, err := decodeHistory(res)
	if err != nil {
		return History{}, fmt.Errorf("origin: lookup: %w", err)
	}
	return hist, nil
}

func decodeHistory(res []any) (History, error) {
	if len(res) != 2 {
		return History{}, fmt.Errorf("script answered %d values", len(res))
	}
	members, _ := res[0].([]any)
	summary, _ := res[1].(string)
	if len(members) == 0 || summary == "" {
		return History{}, nil // never recorded, or half evicted: starts over
	}
	if len(summary) < 9 {
		return History{}, fmt.Errorf("malformed summary")
	}
	uses, err := strconv.ParseInt(summary[8:], 10, 64)
	if err != nil {
		return History{}, fmt.Errorf("malformed summary")
	}
	h := History{LastSeen: fromDB(fromCode(summary[:8])), Uses: uses, Origins: make([]Seen, 0, len(members))}
	for _, m := range members {
		s, _ := m.(string)
		seen, err := decodeSeen(s)
		if err != nil {
			return History{}, err
		}
		h.Origins = append(h.Origins, seen)
	}
	return h, nil
}

// Record implements Store with one script call (two on Cluster with Learn
// set).
func (r *Redis) Record(ctx context.Context, u Use) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	z, h := r.credentialKeys(u.Fingerprint)
	keys, what := []string{z, h}, "c"
	if u.Learn {
		lz, lh := r.learnedKeys(u.Binding)
		if r.split {
			if err := r.run(ctx, u, []string{lz, lh}, "l"); err != nil {
				return fmt.Errorf("origin: record: learned: %w", err)
			}
		} else {
			keys, what = append(keys, lz, lh), "cl"
		}
	}
	if err := r.run(ctx, u, keys, what); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	return nil
}

func (r *Redis) run(ctx context.Context, u Use, keys []string, what string) error {
	allowed := 0
	if u.Allowed {
		allowed = 1
	}
	return recordScript.Run(ctx, r.client, keys, fields(u.Origin), timeCode(u.At.UnixMicro()),
		allowed, what, MaxOrigins, MaxLearned, r.ttl).Err()
}

// Learned implements Store with one ZRANGE BYLEX: the members whose
// LastSeen is at or after since are those whose time code is at most
// since's, so below the code of since less a microsecond.
func (r *Redis) Learned(ctx context.Context, binding string, since time.Time) ([]Seen, error) {
	upper := "+"
	if !since.IsZero() {
		if us := since.UnixMicro(); us != math.MinInt64 {
			upper = "(" + timeCode(us-1)
		}
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	z, _ := r.learnedKeys(binding)
	members, err := r.client.ZRangeByLex(ctx, z, &redis.ZRangeBy{Min: "-", Max: upper}).Result()
	if err != nil {
		return nil, fmt.Errorf("origin: learned: %w", err)
	}
	var list []Seen
	for _, m := range members {
		s, err := decodeSeen(m)
		if err != nil {
			return nil, fmt.Errorf("origin: learned: %w", err)
		}
		list = append(list, s)
	}
	return list, nil
}

// fields joins o's fields with NUL, which Use.Validate keeps out of them:
// bytewise, the result sorts as CompareSeen orders the fields.
func fields(o Origin) string {
	return o.Workload + "\x00" + o.Network + "\x00" + o.ProxyChain + "\x00" + o.Posture
}

// timeCode returns the 8 bytes that stand for Unix microseconds us:
// big-endian and inverted, so a later time sorts first bytewise.
func timeCode(us int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^(uint64(us) ^ 1<<63))
	return string(b[:])
}

// fromCode inverts timeCode; s has 8 bytes.
func fromCode(s string) int64 {
	return int64(^binary.BigEndian.Uint64([]byte(s)) ^ 1<<63)
}

// decodeSeen reads a sorted-set member: two time codes (last, first), the
// four fields and uses:allowed, joined by NUL.
func decodeSeen(m string) (Seen, error) {
	bad := fmt.Errorf("malformed origin entry")
	if len(m) < 16 {
		return Seen{}, bad
	}
	parts := strings.Split(m[16:], "\x00")
	if len(parts) != 5 {
		return Seen{}, bad
	}
	uses, allowed, ok := strings.Cut(parts[4], ":")
	if !ok {
		return Seen{}, bad
	}
	s := Seen{
		Origin:    Origin{Workload: parts[0], Network: parts[1], ProxyChain: parts[2], Posture: parts[3]},
		LastSeen:  fromDB(fromCode(m[:8])),
		FirstSeen: fromDB(fromCode(m[8:16])),
	}
	var err1, err2 error
	s.Uses, err1 = strconv.ParseInt(uses, 10, 64)
	s.Allowed, err2 = strconv.ParseInt(allowed, 10, 64)
	if err1 != nil || err2 != nil {
		return Seen{}, bad
	}
	return s, nil
}
