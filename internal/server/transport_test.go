package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/verdict"
)

// seenTransport is a Checker that denies and remembers the transport the
// context it was last asked with names.
type seenTransport struct {
	mu  sync.Mutex
	got transport.Name
}

func (s *seenTransport) Check(ctx context.Context, _ *provost.Request) (*provost.Decision, error) {
	s.mu.Lock()
	s.got = transport.From(ctx)
	s.mu.Unlock()
	d := &provost.Decision{Outcome: verdict.Deny}
	d.Credential.Verdict = verdict.Rejected
	return d, nil
}

// The check API and forward-auth name themselves to the checker, for
// provost_decisions_total.
func TestServerNamesItsTransports(t *testing.T) {
	w := newFixture(t)
	c := &seenTransport{}
	h := New(Deps{Checker: c, Policy: w.app.Policy}, config.Serve{}, slog.New(slog.DiscardHandler)).Handler()
	for _, tc := range []struct {
		name string
		req  *http.Request
		want transport.Name
	}{
		{"check API", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, PathCheck, strings.NewReader(`{"method":"GET","target":"/r"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), transport.CheckAPI},
		{"forward-auth", httptest.NewRequest(http.MethodGet, PathForwardAuth, nil), transport.ForwardAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.mu.Lock()
			c.got = ""
			c.mu.Unlock()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req)
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.got != tc.want {
				t.Errorf("transport %q, want %q (status %d %s)", c.got, tc.want, rec.Code, rec.Body)
			}
		})
	}
}
