package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
)

// A panic inside a decision is a bug of Provost's own: the caller gets a
// 500 that says the request is not allowed (never an allow, never a cut
// connection), on the check API and on forward-auth, and the panic is
// logged with the request id.
func TestHandlerPanicFailsClosed(t *testing.T) {
	w := newFixture(t)
	d := ForApp(w.app)
	d.Checker = provost.CheckFunc(func(context.Context, *provost.Request) (*provost.Decision, error) {
		panic("a bug in a checker")
	})
	s := New(d, config.Serve{}, w.logger())
	h := s.Handler()

	cases := []struct {
		name string
		req  *http.Request
	}{
		{"check API", func() *http.Request {
			body, _ := json.Marshal(map[string]any{"method": "GET", "target": "/v1/reports",
				"authorization": "Bearer " + w.MustToken("svc:reports", nil), "peer": "10.40.7.7"})
			r := httptest.NewRequest(http.MethodPost, PathCheck, strings.NewReader(string(body)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}()},
		{"forward-auth", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, PathForwardAuth, nil)
			r.Header.Set("Authorization", "Bearer "+w.MustToken("svc:reports", nil))
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Original-URI", "/v1/reports")
			return r
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.req)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500; body %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), "not allowed") {
				t.Errorf("the answer does not say the request is not allowed: %s", rec.Body)
			}
			id := rec.Header().Get(HeaderRequestID)
			if id == "" {
				t.Fatal("no request id on the answer")
			}
			found := false
			for _, l := range w.logs.lines(t) {
				if l["msg"] == "handler panic" && l["request_id"] == id {
					found = true
				}
			}
			if !found {
				t.Errorf("no 'handler panic' log line names request %s:\n%s", id, w.logs.String())
			}
		})
	}
}
