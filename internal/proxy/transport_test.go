package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/verdict"
)

// seenTransport is a Checker that denies and remembers the transport the
// context it was asked with names.
type seenTransport struct{ got chan transport.Name }

func (s seenTransport) Check(ctx context.Context, _ *provost.Request) (*provost.Decision, error) {
	s.got <- transport.From(ctx)
	d := &provost.Decision{Outcome: verdict.Deny}
	d.Credential.Verdict = verdict.Rejected
	return d, nil
}

// The proxy names itself to the checker, for provost_decisions_total.
func TestProxyNamesItsTransport(t *testing.T) {
	c := seenTransport{got: make(chan transport.Name, 1)}
	p, err := New(c, config.Proxy{Upstream: "http://127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/r", nil))
	if rec.Code == http.StatusOK {
		t.Fatalf("a denial was answered %d", rec.Code)
	}
	select {
	case got := <-c.got:
		if got != transport.Proxy {
			t.Errorf("transport %q, want %q", got, transport.Proxy)
		}
	default:
		t.Fatal("the checker was not asked")
	}
}
