package app_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
)

// BenchmarkDecisionStores compares whole decisions (a bearer token, a
// network binding, origin history, durable evidence) on the embedded
// stores and on PostgreSQL + Redis, at the same parallelism:
//
//	go test -run '^$' -bench DecisionStores -benchtime 3000x -count 6 ./internal/app
func BenchmarkDecisionStores(b *testing.B) {
	const bindings = `version: 1
networks:
  office: [10.0.0.0/8]
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require: {networks: [office]}
`
	for _, shared := range []bool{false, true} {
		name := "embedded"
		cfg := ""
		if shared {
			name = "postgres+redis"
			pg := pgdbtest.FreshSchema(b)
			cfg = fmt.Sprintf("storage:\n  postgres: {dsn: %q}\n  redis: {addr: %q, key_prefix: %q}\n",
				pg.DSN, provosttest.RedisAddr(b), provosttest.KeyPrefix(b))
		}
		b.Run(name, func(b *testing.B) {
			w := provosttest.New(b, provosttest.Options{Bindings: bindings, Config: cfg})
			a := w.App("data-" + name)
			toks := make([]string, 64)
			for i := range toks {
				toks[i] = w.MustToken("svc:reports", nil)
			}
			benchChecks(b, a, toks)
		})
	}
}

func benchChecks(b *testing.B, a *app.App, toks []string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			j := i % len(toks) // each token always from its own host
			d, err := a.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/reports",
				Authorization: "Bearer " + toks[j], Peer: netip.AddrFrom4([4]byte{10, 0, byte(j), 1})})
			if err != nil || d.Outcome != "allow" {
				b.Fatalf("%v %v %v", d.Outcome, d.Codes(), err)
			}
		}
	})
}
