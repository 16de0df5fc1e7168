package origin_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/origin"
)

// Sizes of BenchmarkStores: benchCredentials histories of benchOrigins
// origins each. Lookups walk the credentials with a stride coprime to their
// number, so up to benchCredentials lookups never repeat a credential (the
// SQLite store's in-process cache cannot help, as no shared store's could;
// it is reopened cold before each lookup run).
const (
	benchCredentials = 2048
	benchOrigins     = 3
)

// roundTrips counts what a go-redis client sends: one per command, one per
// pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

func benchUse(fps []string, i int, at time.Time) origin.Use {
	return origin.Use{
		Fingerprint: fps[i%len(fps)], Binding: "agents", At: at, Allowed: true,
		Origin: origin.Origin{
			Workload:   fmt.Sprintf("spiffe://example.org/ns/team%d/sa/svc%d", i%50, i%len(fps)),
			Network:    fmt.Sprintf("10.%d.%d.0/24", (i/len(fps))%benchOrigins, i%256),
			ProxyChain: "edge>mesh", Posture: "hardened",
		},
	}
}

// BenchmarkStores compares the backends on the two calls every decision
// makes: a Lookup before it (of a credential not looked up recently) and a
// Record after it (of a known origin, not in learn mode). roundtrips/op is
// what the Redis client sent; the other stores are in-process.
//
//	go test -race -run '^$' -bench BenchmarkStores -benchtime 2000x -count 3 ./internal/origin/
func BenchmarkStores(b *testing.B) {
	secret := make([]byte, fingerprint.SecretSize)
	rand.Read(secret)
	f, err := fingerprint.New(secret)
	if err != nil {
		b.Fatal(err)
	}
	fps := make([]string, benchCredentials)
	for i := range fps {
		fps[i] = f.Of(fmt.Sprint("credential-", i))
	}
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	fill := func(b *testing.B, s origin.Store) {
		b.Helper()
		start := time.Now()
		for i := range benchCredentials * benchOrigins {
			if err := s.Record(context.Background(), benchUse(fps, i, t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("recorded %d credentials x %d origins in %s", benchCredentials, benchOrigins, time.Since(start).Round(time.Millisecond))
	}

	type store struct {
		name string
		open func(b *testing.B) origin.Store
		// cold, when set, returns s reopened with an empty in-process
		// cache; each lookup run (of -count) starts with it.
		cold  func(b *testing.B, s origin.Store) origin.Store
		trips *roundTrips
	}
	trips := new(roundTrips)
	var sqlitePath string
	stores := []store{
		{name: "sqlite", open: func(b *testing.B) origin.Store {
			sqlitePath = filepath.Join(b.TempDir(), "origin.db")
			s, err := origin.OpenSQLite(context.Background(), sqlitePath)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, s)
			return s
		}, cold: func(b *testing.B, s origin.Store) origin.Store {
			s.(*origin.SQLite).Close()
			s, err := origin.OpenSQLite(context.Background(), sqlitePath)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{name: "memory", open: func(b *testing.B) origin.Store {
			s := origin.NewMemory()
			fill(b, s)
			return s
		}},
		{name: "redis", trips: trips, open: func(b *testing.B) origin.Store {
			c := redisClient(b)
			c.AddHook(trips)
			prefix := redisPrefix(b, c)
			s := origin.NewRedis(c, origin.RedisConfig{Prefix: prefix})
			fill(b, s)
			z, h := prefix+"{"+fps[0]+"}:o", prefix+"{"+fps[0]+"}:h"
			zb, _ := c.MemoryUsage(context.Background(), z).Result()
			hb, _ := c.MemoryUsage(context.Background(), h).Result()
			b.Logf("one credential with %d origins: %d bytes (sorted set %d, hash %d)", benchOrigins, zb+hb, zb, hb)
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			b.Cleanup(func() {
				if c, ok := s.(io.Closer); ok {
					c.Close()
				}
			})
			report := func(b *testing.B, before int64) {
				var n int64
				if st.trips != nil {
					n = st.trips.n.Load() - before
				}
				b.ReportMetric(float64(n)/float64(b.N), "roundtrips/op")
			}
			b.Run("lookup", func(b *testing.B) {
				ctx := context.Background()
				if st.cold != nil {
					s = st.cold(b, s)
				}
				b.ReportAllocs()
				before := trips.n.Load()
				i := 0
				for b.Loop() {
					h, err := s.Lookup(ctx, fps[(i*7919)%len(fps)])
					if err != nil || len(h.Origins) != benchOrigins {
						b.Fatalf("Lookup = %d origins, %v", len(h.Origins), err)
					}
					i++
				}
				report(b, before)
			})
			b.Run("record", func(b *testing.B) {
				ctx := context.Background()
				now := t0.Add(24 * time.Hour)
				b.ReportAllocs()
				before := trips.n.Load()
				i := 0
				for b.Loop() {
					if err := s.Record(ctx, benchUse(fps, i%(benchCredentials*benchOrigins), now.Add(time.Duration(i)*time.Microsecond))); err != nil {
						b.Fatal(err)
					}
					i++
				}
				report(b, before)
			})
		})
	}
}
