package provost

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Use wraps every decision, whatever calls Check; wrappers nest in order.
func TestUseWrapsEveryCheck(t *testing.T) {
	w := newWorld(t)
	var outer, inner atomic.Int64
	var order []string
	w.eng.Use(func(next CheckFunc) CheckFunc {
		return func(ctx context.Context, r *Request) (*Decision, error) {
			inner.Add(1)
			order = append(order, "inner")
			return next(ctx, r)
		}
	})
	w.eng.Use(func(next CheckFunc) CheckFunc {
		return func(ctx context.Context, r *Request) (*Decision, error) {
			outer.Add(1)
			order = append(order, "outer")
			d, err := next(ctx, r)
			if d == nil {
				t.Error("the wrapped function returned no decision")
			}
			return d, err
		}
	})
	d := w.check(&Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.token("svc:reports", nil), Peer: addr("10.40.1.1")})
	if d.Outcome != verdict.Allow || outer.Load() != 1 || inner.Load() != 1 || strings.Join(order, ",") != "outer,inner" {
		t.Fatalf("decision %s, calls %d/%d, order %v", d.Outcome, outer.Load(), inner.Load(), order)
	}
}

// JWKSStats reports the counters of remote key sources.
func TestJWKSStats(t *testing.T) {
	w := newWorld(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuer.Public(), KeyID: "sts-1", Use: "sig"}}})
	}))
	defer srv.Close()
	cfg, err := os.ReadFile(w.dir + "/provost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w.write("provost.yaml", strings.Replace(string(cfg), "jwks_file: issuer.jwks.json", "jwks_url: "+srv.URL+"/jwks", 1))
	if err := w.reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.check(&Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.token("svc:reports", nil), Peer: addr("10.40.1.1")})
	st := w.eng.Policy().Summary().RemoteKeys
	if len(st) != 1 || st[0].Issuer != wIssuer || st[0].Fetches != 1 || st[0].Failures != 0 || st[0].LastSuccess.IsZero() || hits.Load() != 1 {
		t.Fatalf("stats %+v, hits %d", st, hits.Load())
	}
}

// A wrapper that breaks the contract (an error with an allow, or with no
// decision) cannot make Check allow.
func TestCheckDeniesOnError(t *testing.T) {
	for _, name := range []string{"allow with an error", "no decision", "no decision and no error"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.eng.Use(func(next CheckFunc) CheckFunc {
				return func(ctx context.Context, r *Request) (*Decision, error) {
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
			d, err := w.eng.Check(context.Background(), &Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.token("svc:reports", nil), Peer: addr("10.40.1.1")})
			if err == nil || d == nil || d.Outcome != verdict.Deny || d.Credential.Reason != reason.InternalError {
				t.Fatalf("decision %+v, err %v", d, err)
			}
		})
	}
}
