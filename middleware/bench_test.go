package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/middleware"
	"github.com/provost-dev/provost/verdict"
)

// BenchmarkMiddleware measures the allow path: the middleware over a real
// engine, and the engine alone for the same request.
func BenchmarkMiddleware(b *testing.B) {
	w := provosttest.New(b, mw(provosttest.Options{}))
	eng := w.App("").Engine
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, allowed := middleware.DecisionFrom(r.Context()); !allowed {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	h := middleware.New(eng)(ok)
	r := httptest.NewRequest("GET", "/v1/orders", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", "Bearer "+w.MustToken("svc:ok", nil))
	r.Header.Set("X-Provost-Subject", "typed-by-the-client")

	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := eng.Check(context.Background(), provost.FromHTTP(r))
			if err != nil || d.Outcome != verdict.Allow {
				b.Fatalf("%v %v", d.Outcome, err)
			}
		}
	})
}
