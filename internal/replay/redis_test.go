package replay_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/replay/replaytest"
)

const redisStart = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`

// redisOptions returns the test Redis's options: PROVOST_TEST_REDIS (an
// address or a redis:// URL), or 127.0.0.1:6379.
func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	addr := os.Getenv("PROVOST_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if strings.Contains(addr, "://") {
		opts, err := redis.ParseURL(addr)
		if err != nil {
			tb.Fatalf("PROVOST_TEST_REDIS: %v", err)
		}
		return opts
	}
	return &redis.Options{Addr: addr}
}

// newRedisClient connects to the test Redis, closed at the end of the test.
// When Redis is unreachable the test is skipped, or fails in CI, which must
// never skip silently.
func newRedisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts := redisOptions(tb)
	c := redis.NewClient(opts)
	tb.Cleanup(func() { c.Close() })
	// A plain dial first: go-redis retries a refused dial for seconds.
	err := redisDial(opts.Addr)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = c.Ping(ctx).Err()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis at %s unreachable (CI is set, so this fails rather than skips): %v", opts.Addr, err)
		}
		tb.Skipf("Redis at %s unreachable: %v; start one with\n\t%s\nor point PROVOST_TEST_REDIS at one", opts.Addr, err, redisStart)
	}
	return c
}

// redisDial reports whether anything listens at addr, once per address.
func redisDial(addr string) error {
	v, _ := dialed.LoadOrStore(addr, sync.OnceValue(func() error {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}))
	return v.(func() error)()
}

var dialed sync.Map // address -> func() error

// testPrefix returns a random key prefix, so concurrent runs never share
// keys, and deletes every key under it at the end of the test.
func testPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "provost:test:replay:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestRedisConformance(t *testing.T) {
	c := newRedisClient(t)
	replaytest.Run(t, func(t *testing.T, now func() time.Time) replay.Cache {
		return replay.NewRedis(c, replay.RedisConfig{Prefix: testPrefix(t, c), Now: now})
	})
}

// TestRedisTwoReplicas races two replicas, each with its own client and
// connection pool, on the same keys: exactly one check in all wins.
func TestRedisTwoReplicas(t *testing.T) {
	c1, c2 := newRedisClient(t), newRedisClient(t)
	prefix := testPrefix(t, c1)
	replicas := []*replay.Redis{
		replay.NewRedis(c1, replay.RedisConfig{Prefix: prefix}),
		replay.NewRedis(c2, replay.RedisConfig{Prefix: prefix}),
	}
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	const perReplica, rounds = 32, 20
	for r := range rounds {
		key := "dpop:jkt:jti-" + strconv.Itoa(r)
		var wins, replays [2]atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, rep := range replicas {
			for range perReplica {
				wg.Go(func() {
					<-start
					seen, err := rep.Seen(ctx, key, until)
					switch {
					case err != nil:
						t.Errorf("replica %d: Seen(%s): %v", i, key, err)
					case seen:
						replays[i].Add(1)
					default:
						wins[i].Add(1)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		w := wins[0].Load() + wins[1].Load()
		rp := replays[0].Load() + replays[1].Load()
		if w != 1 || rp != 2*perReplica-1 {
			t.Fatalf("round %d: %d checks won (replica 0: %d, replica 1: %d) and %d saw a replay; want exactly 1 and %d",
				r, w, wins[0].Load(), wins[1].Load(), rp, 2*perReplica-1)
		}
	}
}

// TestRedisStorage checks what lands in Redis: a bounded key that is the
// prefix and the key's SHA-256, never the key itself, holding the until in
// Unix milliseconds, with a TTL that is clean-up only.
func TestRedisStorage(t *testing.T) {
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	r := replay.NewRedis(c, replay.RedisConfig{Prefix: prefix, Now: func() time.Time { return now }, Slack: 30 * time.Second})
	ctx := context.Background()
	secret := "dpop:jkt:" + strings.Repeat("s", 64<<10)
	until := now.Add(90 * time.Second).Add(time.Microsecond) // rounds up
	if seen, err := r.Seen(ctx, secret, until); err != nil || seen {
		t.Fatalf("Seen = %v, %v; want false, nil", seen, err)
	}
	sum := sha256.Sum256([]byte(secret))
	want := prefix + hex.EncodeToString(sum[:])
	if got := r.Key(secret); got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys under prefix = %q, want [%q]", keys, want)
	}
	val, err := c.Get(ctx, want).Result()
	if err != nil {
		t.Fatal(err)
	}
	if wantVal := strconv.FormatInt(until.UnixMilli()+1, 10); val != wantVal {
		t.Fatalf("stored value %q, want %q (until in Unix ms, rounded up)", val, wantVal)
	}
	ttl, err := c.PTTL(ctx, want).Result()
	if err != nil {
		t.Fatal(err)
	}
	// until-now is 90.001 s, plus 30 s slack.
	if ttl <= 119*time.Second || ttl > 120*time.Second+time.Millisecond {
		t.Fatalf("TTL = %v, want about 2m0.001s", ttl)
	}

	// An until not after now records nothing.
	if seen, err := r.Seen(ctx, "nothing", now); err != nil || seen {
		t.Fatalf("Seen = %v, %v; want false, nil", seen, err)
	}
	if n, err := c.Exists(ctx, r.Key("nothing")).Result(); err != nil || n != 0 {
		t.Fatalf("Exists = %d, %v; want 0", n, err)
	}
}

// TestRedisDefaultPrefix checks the default prefix, on a key no one else
// uses, deleted afterwards.
func TestRedisDefaultPrefix(t *testing.T) {
	c := newRedisClient(t)
	r := replay.NewRedis(c, replay.RedisConfig{})
	b := make([]byte, 16)
	rand.Read(b)
	key := "test:" + hex.EncodeToString(b)
	rk := r.Key(key)
	t.Cleanup(func() { c.Del(context.Background(), rk) })
	if !strings.HasPrefix(rk, replay.DefaultRedisPrefix) || len(rk) != len(replay.DefaultRedisPrefix)+64 {
		t.Fatalf("Key = %q", rk)
	}
	ctx := context.Background()
	if seen, err := r.Seen(ctx, key, time.Now().Add(time.Minute)); err != nil || seen {
		t.Fatalf("Seen = %v, %v; want false, nil", seen, err)
	}
	if seen, err := r.Seen(ctx, key, time.Now().Add(time.Minute)); err != nil || !seen {
		t.Fatalf("Seen = %v, %v; want true, nil", seen, err)
	}
}

// TestRedisOneRoundTrip counts the commands each Seen sends once the
// script is in the server's cache: one.
func TestRedisOneRoundTrip(t *testing.T) {
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	var cmds atomic.Int64
	var names sync.Map
	c.AddHook(countHook{n: &cmds, names: &names})
	r := replay.NewRedis(c, replay.RedisConfig{Prefix: prefix})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if _, err := r.Seen(ctx, "warm-up", until); err != nil { // may load the script: EVALSHA, EVAL
		t.Fatal(err)
	}
	cmds.Store(0)
	const n = 100
	for i := range n {
		for range 2 { // new, then replay
			if _, err := r.Seen(ctx, "k"+strconv.Itoa(i), until); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Seen(ctx, "expired"+strconv.Itoa(i), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cmds.Load(); got != 3*n {
		var seen []string
		names.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
		t.Fatalf("%d Seen calls sent %d commands (%v), want one each", 3*n, got, seen)
	}
}

type countHook struct {
	n     *atomic.Int64
	names *sync.Map
}

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.n.Add(1)
			h.names.Store(c.Name(), true)
		}
		return next(ctx, cmds)
	}
}
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		h.names.Store(cmd.Name(), true)
		return next(ctx, cmd)
	}
}

// TestRedisForeignValueFailsClosed checks that a key holding something other
// than an until (another program wrote it) is an error, not an answer.
func TestRedisForeignValueFailsClosed(t *testing.T) {
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	r := replay.NewRedis(c, replay.RedisConfig{Prefix: prefix})
	ctx := context.Background()
	if err := c.Set(ctx, r.Key("text"), "not a time", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, r.Key("hash"), "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"text", "hash"} {
		seen, err := r.Seen(ctx, k, time.Now().Add(time.Minute))
		if !errors.Is(err, replay.ErrUnavailable) {
			t.Fatalf("Seen(%s) = %v, %v; want ErrUnavailable", k, seen, err)
		}
	}
}

// TestRedisDown checks that an unreachable Redis is an error: the caller
// fails closed. It needs no Redis.
func TestRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	r := replay.NewRedis(c, replay.RedisConfig{})
	seen, err := r.Seen(context.Background(), "k", time.Now().Add(time.Minute))
	if !errors.Is(err, replay.ErrUnavailable) || seen {
		t.Fatalf("Seen = %v, %v; want false, ErrUnavailable", seen, err)
	}
}

// TestRedisTimeout checks the per-call timeout against a server that accepts
// connections and never answers. It needs no Redis.
func TestRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	conns.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	r := replay.NewRedis(c, replay.RedisConfig{Timeout: 100 * time.Millisecond})
	begin := time.Now()
	seen, err := r.Seen(context.Background(), "k", time.Now().Add(time.Minute))
	if !errors.Is(err, replay.ErrUnavailable) || seen {
		t.Fatalf("Seen = %v, %v; want false, ErrUnavailable", seen, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one matching context.DeadlineExceeded", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("Seen took %v with a 100ms timeout", d)
	}
}

func TestRedisEmptyKeyNoRedis(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	r := replay.NewRedis(c, replay.RedisConfig{})
	if _, err := r.Seen(context.Background(), "", time.Now().Add(time.Minute)); !errors.Is(err, replay.ErrEmptyKey) {
		t.Fatalf("err = %v, want ErrEmptyKey", err)
	}
}

// BenchmarkRedisSeen measures one Seen against the test Redis, from many
// goroutines: half new keys, half replays.
func BenchmarkRedisSeen(b *testing.B) {
	c := newRedisClient(b)
	prefix := testPrefix(b, c)
	r := replay.NewRedis(c, replay.RedisConfig{Prefix: prefix})
	ctx := context.Background()
	var ids atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := ids.Add(1)
		buf := make([]byte, 0, 48)
		for i := int64(0); pb.Next(); i++ {
			// Each key is checked twice: new, then a replay.
			buf = strconv.AppendInt(append(strconv.AppendInt(append(buf[:0], "dpop:"...), id, 10), ':'), i/2, 10)
			// Short lifetimes keep the benchmark's keys from piling up.
			seen, err := r.Seen(ctx, string(buf), time.Now().Add(5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			if seen != (i%2 == 1) {
				b.Fatalf("key %s: seen = %v, want %v", buf, seen, i%2 == 1)
			}
		}
	})
}
