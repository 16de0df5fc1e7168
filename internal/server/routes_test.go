package server

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// allMethods are the methods each route is tried with.
var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace}

// TestRoutesTableIsWhatIsServed holds Routes (what docs/openapi.yaml is
// checked against) to the handlers: every route answers every method it
// lists with something other than 404 and 405, and every other method with
// 405 and an Allow header naming exactly its methods; a path below a route
// that is not Below, and a path next to the table's, answer 404. The SSF
// receiver refuses a wrong method with an RFC 8935 error of its own
// (internal/ssf tests it): here it is a stand-in.
func TestRoutesTableIsWhatIsServed(t *testing.T) {
	w := newFixture(t)
	d := ForApp(w.app)
	d.SSFEvents = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusAccepted) })
	d.SSFJWKS, d.SSFConfiguration = []byte(`{"keys":[]}`), []byte(`{}`)
	h := New(d, config.Serve{}, nil).Handler()
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		return rec
	}
	routes := Routes()
	if len(routes) == 0 {
		t.Fatal("Routes is empty")
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		if seen[rt.Path] || !strings.HasPrefix(rt.Path, "/") {
			t.Errorf("route %q: a path must start with / and appear once", rt.Path)
		}
		seen[rt.Path] = true
		for _, path := range []string{rt.Path, rt.Path + "/below"} {
			for _, m := range allMethods {
				rec := do(m, path)
				switch {
				case path != rt.Path && !rt.Below:
					if rec.Code != http.StatusNotFound {
						t.Errorf("%s %s: %d, want 404 (the route does not take paths below it)", m, path, rec.Code)
					}
				case rt.Methods == nil || slices.Contains(rt.Methods, m):
					if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
						t.Errorf("%s %s: %d, but Routes says the route takes %s", m, path, rec.Code, m)
					}
				case rt.Path != PathSSFEvents:
					if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != strings.Join(rt.Methods, ", ") {
						t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", m, path, rec.Code, rec.Header().Get("Allow"), strings.Join(rt.Methods, ", "))
					}
				}
			}
		}
	}
	for _, path := range []string{"/", "/v1", "/v1/checks", "/v1/log/", "/v1/log/nope", "/v1/forward-authx"} {
		if rec := do(http.MethodGet, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
	// A route that Needs configuration is not there without it.
	bare := New(ForApp(w.app), config.Serve{}, nil).Handler()
	for _, rt := range routes {
		if rt.Needs == "" {
			continue
		}
		rec := httptest.NewRecorder()
		bare.ServeHTTP(rec, httptest.NewRequest(rt.Methods[0], rt.Path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s %s without %s: %d, want 404", rt.Methods[0], rt.Path, rt.Needs, rec.Code)
		}
	}
}
