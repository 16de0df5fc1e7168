package origin_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/origin/origintest"
	"github.com/provost-dev/provost/reason"
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
	opts := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if opts, err = redis.ParseURL(addr); err != nil {
			tb.Fatalf("PROVOST_TEST_REDIS: %v", err)
		}
	}
	opts.ContextTimeoutEnabled = true // RedisConfig.Timeout reaches the socket
	return opts
}

// redisClient connects to the test Redis, closed at the end of the test.
// When Redis is unreachable the test is skipped, or fails in CI, which must
// never skip silently.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts := redisOptions(tb)
	c := redis.NewClient(opts)
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis at %s unreachable (CI is set, so this fails rather than skips): %v", opts.Addr, err)
		}
		tb.Skipf("Redis at %s unreachable: %v; start one with\n\t%s\nor point PROVOST_TEST_REDIS at one", opts.Addr, err, redisStart)
	}
	return c
}

// redisPrefix returns a random key prefix, so concurrent runs never share
// keys, and deletes every key under it at the end of the test.
func redisPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	crand.Read(b)
	prefix := "provost:test:origin:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys := redisKeys(tb, c, prefix)
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("cleaning up %s*: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}

// redisKeys returns the keys under prefix, sorted.
func redisKeys(tb testing.TB, c redis.UniversalClient, prefix string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("scanning %s*: %v", prefix, err)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// openRedis returns an opener for the conformance suite: each test gets its
// own key prefix, and opening again for the same test connects a new client
// (a restarted replica) to the same keys.
func openRedis(cfg origin.RedisConfig, split bool) func(t *testing.T) origin.Store {
	var mu sync.Mutex
	prefixes := map[*testing.T]string{}
	return func(t *testing.T) origin.Store {
		c := redisClient(t)
		mu.Lock()
		prefix, ok := prefixes[t]
		if !ok {
			prefix = redisPrefix(t, c)
			prefixes[t] = prefix
		}
		mu.Unlock()
		cfg := cfg
		cfg.Prefix = prefix
		s := origin.NewRedis(c, cfg)
		if split {
			origin.SplitRecord(s)
		}
		return s
	}
}

func TestRedisConformance(t *testing.T) {
	origintest.Run(t, openRedis(origin.RedisConfig{}, false))
}

// TestRedisConformanceCluster runs the suite with a learn-mode Record made
// of two script calls, as on Redis Cluster, and with a TTL.
func TestRedisConformanceCluster(t *testing.T) {
	origintest.Run(t, openRedis(origin.RedisConfig{TTL: time.Hour}, true))
}

// TestRedisTwoReplicas is what the copied-credential detector needs: two
// replicas, each with its own client, see each other's origins.
func TestRedisTwoReplicas(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	prefix := redisPrefix(t, c1)
	replicas := [2]*origin.Redis{
		origin.NewRedis(c1, origin.RedisConfig{Prefix: prefix}),
		origin.NewRedis(c2, origin.RedisConfig{Prefix: prefix}),
	}
	sanctioned := origin.Origin{Workload: "spiffe://example.org/agent-runtime", Network: "10.1.2.0/24", Posture: "hardened"}
	elsewhere := origin.Origin{Network: "198.51.100.0/24"}

	// A use allowed on replica 0, then the same credential on replica 1
	// from elsewhere a second later: replica 1 flags a copied credential.
	fp := origintest.NewFingerprint(t)
	if err := replicas[0].Record(ctx, origin.Use{Fingerprint: fp, Binding: "agents", Origin: sanctioned, At: t0, Allowed: true}); err != nil {
		t.Fatal(err)
	}
	h, err := replicas[1].Lookup(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	findings := origin.Detect(origin.Config{}, h, elsewhere, t0.Add(time.Second))
	if !slices.ContainsFunc(findings, func(f origin.Finding) bool { return f.Code == reason.CopiedCredential }) {
		t.Fatalf("replica 1 findings %+v, want %s; history %+v", findings, reason.CopiedCredential, h)
	}

	// Both replicas record at once, each from its own origin: no use is
	// lost, and both see the same history.
	fp = origintest.NewFingerprint(t)
	const each = 100
	var wg sync.WaitGroup
	for r, o := range []origin.Origin{sanctioned, elsewhere} {
		wg.Go(func() {
			for i := range each {
				u := origin.Use{Fingerprint: fp, Binding: "agents", Origin: o, At: t0.Add(time.Duration(2*i+r) * time.Millisecond), Allowed: r == 0, Learn: true}
				if err := replicas[r].Record(ctx, u); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := origin.History{LastSeen: t0.Add((2*each - 1) * time.Millisecond), Uses: 2 * each, Origins: []origin.Seen{
		{Origin: elsewhere, FirstSeen: t0.Add(time.Millisecond), LastSeen: t0.Add((2*each - 1) * time.Millisecond), Uses: each, Allowed: 0},
		{Origin: sanctioned, FirstSeen: t0, LastSeen: t0.Add((2*each - 2) * time.Millisecond), Uses: each, Allowed: each},
	}}
	for r, s := range replicas {
		h, err := s.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSeen(h.Origins, want.Origins) || !h.LastSeen.Equal(want.LastSeen) || h.Uses != want.Uses {
			t.Fatalf("replica %d: got %s\nwant %s", r, describe(h.LastSeen, h.Uses, h.Origins), describe(want.LastSeen, want.Uses, want.Origins))
		}
		l, err := s.Learned(ctx, "agents", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !sameSeen(l, want.Origins) {
			t.Fatalf("replica %d: learned %s", r, describe(time.Time{}, 0, l))
		}
	}
}

// TestRedisStorage checks what lands in Redis: the keys named in the doc,
// expiring with TTL for a credential and not for a binding, and nothing at
// all for a use whose fingerprint is a raw credential.
func TestRedisStorage(t *testing.T) {
	c := redisClient(t)
	prefix := redisPrefix(t, c)
	s := origin.NewRedis(c, origin.RedisConfig{Prefix: prefix, TTL: time.Hour})
	raw := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJl"
	err := s.Record(ctx, origin.Use{Fingerprint: raw, Binding: "ci", Origin: origin.Origin{Network: "n"}, At: t0, Learn: true})
	if !errors.Is(err, origin.ErrInvalid) || strings.Contains(err.Error(), raw) {
		t.Fatalf("Record(raw credential) = %v", err)
	}
	if keys := redisKeys(t, c, prefix); len(keys) != 0 {
		t.Fatalf("a raw credential's use wrote %q", keys)
	}

	fp := origintest.NewFingerprint(t)
	if err := s.Record(ctx, origin.Use{Fingerprint: fp, Binding: "ci{x}", Origin: origin.Origin{Network: "n"}, At: t0, Learn: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{prefix + "learned:{ci{x}}:h", prefix + "learned:{ci{x}}:o", prefix + "{" + fp + "}:h", prefix + "{" + fp + "}:o"}
	if got := redisKeys(t, c, prefix); !slices.Equal(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	for _, k := range want {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if learned := strings.Contains(k, "learned:"); learned && ttl != -1 || !learned && (ttl <= 59*time.Minute || ttl > time.Hour) {
			t.Errorf("%s: PTTL %s", k, ttl)
		}
	}

	// A short TTL: the whole history is forgotten, and starts over.
	short := origin.NewRedis(c, origin.RedisConfig{Prefix: prefix, TTL: 50 * time.Millisecond})
	fp = origintest.NewFingerprint(t)
	if err := short.Record(ctx, origin.Use{Fingerprint: fp, Origin: origin.Origin{Network: "n"}, At: t0, Allowed: true}); err != nil {
		t.Fatal(err)
	}
	if h, err := short.Lookup(ctx, fp); err != nil || h.Uses != 1 {
		t.Fatalf("before expiry: %+v, %v", h, err)
	}
	time.Sleep(150 * time.Millisecond)
	if h, err := short.Lookup(ctx, fp); err != nil || h.Uses != 0 || h.Origins != nil {
		t.Fatalf("after expiry: %+v, %v", h, err)
	}
}

// TestRedisHalfEvicted checks that a history whose sorted set or hash alone
// was evicted (maxmemory) reads as none and starts over, never doubling an
// origin.
func TestRedisHalfEvicted(t *testing.T) {
	c := redisClient(t)
	prefix := redisPrefix(t, c)
	s := origin.NewRedis(c, origin.RedisConfig{Prefix: prefix})
	a, b := origin.Origin{Network: "a"}, origin.Origin{Network: "b"}
	for _, suffix := range []string{"h", "o"} {
		fp := origintest.NewFingerprint(t)
		for i, o := range []origin.Origin{a, b} {
			if err := s.Record(ctx, origin.Use{Fingerprint: fp, Origin: o, At: t0.Add(time.Duration(i) * time.Second), Allowed: true}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Del(ctx, prefix+"{"+fp+"}:"+suffix).Err(); err != nil {
			t.Fatal(err)
		}
		if h, err := s.Lookup(ctx, fp); err != nil || h.Uses != 0 || h.Origins != nil {
			t.Fatalf("without %s: %+v, %v", suffix, h, err)
		}
		if err := s.Record(ctx, origin.Use{Fingerprint: fp, Origin: a, At: t0.Add(time.Hour), Allowed: true}); err != nil {
			t.Fatal(err)
		}
		h, err := s.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		want := []origin.Seen{{Origin: a, FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour), Uses: 1, Allowed: 1}}
		if h.Uses != 1 || !sameSeen(h.Origins, want) {
			t.Fatalf("without %s, then one use: %s", suffix, describe(h.LastSeen, h.Uses, h.Origins))
		}
	}
}

// TestRedisTimeout checks that Timeout bounds a call to a server that never
// answers.
func TestRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { io.Copy(io.Discard, conn); conn.Close() })
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	s := origin.NewRedis(c, origin.RedisConfig{Timeout: 100 * time.Millisecond})
	fp := origintest.NewFingerprint(t)
	for name, call := range map[string]func() error{
		"lookup":  func() error { _, err := s.Lookup(ctx, fp); return err },
		"record":  func() error { return s.Record(ctx, origin.Use{Fingerprint: fp, At: t0}) },
		"learned": func() error { _, err := s.Learned(ctx, "b", time.Time{}); return err },
	} {
		start := time.Now()
		err := call()
		if took := time.Since(start); err == nil || took > time.Second {
			t.Errorf("%s against a silent server: %v after %s, want an error within the 100ms timeout", name, err, took)
		}
	}
}

// TestRedisMatchesSQLite records the same random uses in Redis and SQLite
// and checks that every Lookup and Learned answer is the same, as
// TestMemoryMatchesSQLite does for Memory. MaxLearned eviction, which is
// slow in SQLite under the race detector, is compared with Memory, which
// TestMemoryMatchesSQLite holds to SQLite's answers.
func TestRedisMatchesSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("records two thousand uses in SQLite")
	}
	c := redisClient(t)
	rd := origin.NewRedis(c, origin.RedisConfig{Prefix: redisPrefix(t, c)})
	sq, err := origin.OpenSQLite(ctx, filepath.Join(t.TempDir(), "origin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	var ref origin.Store = sq
	rng := rand.New(rand.NewPCG(3, 4))
	fps := []string{origintest.NewFingerprint(t), origintest.NewFingerprint(t), origintest.NewFingerprint(t)}
	bindings := []string{"ci", "vendor"}
	zone := time.FixedZone("X", -7*3600)
	randomAt := func(spread int) time.Time {
		at := t0.Add(time.Duration(rng.IntN(spread)) * time.Second)
		if rng.IntN(4) == 0 {
			at = at.Add(time.Duration(rng.IntN(2000)) * time.Nanosecond).In(zone)
		}
		if rng.IntN(50) == 0 {
			at = at.AddDate(-80, 0, 0) // before 1970
		}
		return at
	}
	both := func(u origin.Use) {
		t.Helper()
		if err := ref.Record(ctx, u); err != nil {
			t.Fatalf("reference Record: %v", err)
		}
		if err := rd.Record(ctx, u); err != nil {
			t.Fatalf("Redis Record: %v", err)
		}
	}
	compare := func(when string, learnedOnly bool) {
		t.Helper()
		if learnedOnly {
			compareStores(t, when, rd, ref, nil, []string{"big"}, zone)
			return
		}
		compareStores(t, when, rd, ref, fps, append(bindings, "big", "none"), zone)
	}
	for i := range diffUses {
		both(origin.Use{
			Fingerprint: fps[rng.IntN(len(fps))],
			Binding:     bindings[rng.IntN(len(bindings))],
			Origin:      origin.Origin{Workload: "w" + strconv.Itoa(rng.IntN(3)), Network: "n" + strconv.Itoa(rng.IntN(40))},
			At:          randomAt(300),
			Allowed:     rng.IntN(3) > 0,
			Learn:       rng.IntN(2) == 0,
		})
		if i%20 == 19 {
			compare(fmt.Sprintf("after %d uses", i+1), false)
		}
	}
	for _, fp := range fps {
		if h, _ := rd.Lookup(ctx, fp); len(h.Origins) != origin.MaxOrigins {
			t.Fatalf("credential kept %d origins, want the test to fill MaxOrigins (%d)", len(h.Origins), origin.MaxOrigins)
		}
	}
	compare("before learning", false)
	ref = origin.NewMemory()
	networks := rng.Perm(origin.MaxLearned + 100)
	for range 200 {
		networks = append(networks, rng.IntN(len(networks)))
	}
	for i, n := range networks {
		both(origin.Use{
			Fingerprint: fps[0],
			Binding:     "big",
			Origin:      origin.Origin{Network: "n" + strconv.Itoa(n)},
			At:          randomAt(400),
			Allowed:     rng.IntN(2) == 0,
			Learn:       true,
		})
		if i >= origin.MaxLearned && i%25 == 24 {
			compare(fmt.Sprintf("after %d learned uses", i+1), true)
		}
	}
	compare("at the end", true)
	if l, _ := rd.Learned(ctx, "big", time.Time{}); len(l) != origin.MaxLearned {
		t.Fatalf("binding kept %d learned origins, want the test to fill MaxLearned (%d)", len(l), origin.MaxLearned)
	}
}
