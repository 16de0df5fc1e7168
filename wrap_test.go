package provost_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Use wraps every decision, whatever calls Check; wrappers nest in order.
func TestUseWrapsEveryCheck(t *testing.T) {
	w, a := newWorld(t)
	var outer, inner atomic.Int64
	var order []string
	a.Engine.Use(func(next provost.CheckFunc) provost.CheckFunc {
		return func(ctx context.Context, r *provost.Request) (*provost.Decision, error) {
			inner.Add(1)
			order = append(order, "inner")
			return next(ctx, r)
		}
	})
	a.Engine.Use(func(next provost.CheckFunc) provost.CheckFunc {
		return func(ctx context.Context, r *provost.Request) (*provost.Decision, error) {
			outer.Add(1)
			order = append(order, "outer")
			d, err := next(ctx, r)
			if d == nil {
				t.Error("the wrapped function returned no decision")
			}
			return d, err
		}
	})
	d := check(t, a, &provost.Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.MustToken("svc:reports", nil), Peer: addr("10.40.1.1")})
	if d.Outcome != verdict.Allow || outer.Load() != 1 || inner.Load() != 1 || strings.Join(order, ",") != "outer,inner" {
		t.Fatalf("decision %s, calls %d/%d, order %v", d.Outcome, outer.Load(), inner.Load(), order)
	}
}

// JWKSStats reports the counters of remote key sources.
func TestJWKSStats(t *testing.T) {
	w, a := newWorld(t)
	// The issuer's key set, served instead of read from its file.
	keys, err := os.ReadFile(filepath.Join(w.Dir, "issuer.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(keys)
	}))
	defer srv.Close()
	cfg, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	w.Write("provost.yaml", strings.Replace(string(cfg), "jwks_file: issuer.jwks.json", "jwks_url: "+srv.URL+"/jwks", 1))
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(t, a, &provost.Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.MustToken("svc:reports", nil), Peer: addr("10.40.1.1")})
	st := a.Policy().Summary().RemoteKeys
	if len(st) != 1 || st[0].Issuer != wIssuer || st[0].Fetches != 1 || st[0].Failures != 0 || st[0].LastSuccess.IsZero() || hits.Load() != 1 {
		t.Fatalf("stats %+v, hits %d", st, hits.Load())
	}
}

// A wrapper that breaks the contract (an error with an allow, or with no
// decision) cannot make Check allow.
func TestCheckDeniesOnError(t *testing.T) {
	for _, name := range []string{"allow with an error", "no decision", "no decision and no error"} {
		t.Run(name, func(t *testing.T) {
			w, a := newWorld(t)
			a.Engine.Use(func(next provost.CheckFunc) provost.CheckFunc {
				return func(ctx context.Context, r *provost.Request) (*provost.Decision, error) {
					d, _ := next(ctx, r)
					switch name {
					case "no decision":
						return nil, errors.New("broken wrapper")
					case "no decision and no error":
						return nil, nil
					}
					return d, errors.New("broken wrapper")
				}
			})
			d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.MustToken("svc:reports", nil), Peer: addr("10.40.1.1")})
			if err == nil || d == nil || d.Outcome != verdict.Deny || d.Credential.Reason != reason.InternalError {
				t.Fatalf("decision %+v, err %v", d, err)
			}
		})
	}
}
