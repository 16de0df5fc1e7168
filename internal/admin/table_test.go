package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/admin/admintest"
)

// TestRoutesTableIsWhatIsServed holds admin.Routes (what docs/openapi.yaml
// is checked against) to the running admin API: each route is answered by
// a handler, not by the 404 or 405 fallbacks, and every other method of
// its path is 405 with an Allow header naming the path's methods.
func TestRoutesTableIsWhatIsServed(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	methods := map[string][]string{}
	for _, rt := range admin.Routes() {
		path := strings.ReplaceAll(rt.Path, "{id}", "rev_00000000000000000000000000000000")
		if rt.Method != http.MethodHead {
			methods[path] = append(methods[path], rt.Method)
		}
		body := ""
		if rt.Method == http.MethodPost && path == "/v1/revocations" {
			body = `{"kind":"jti","value":"table-test"}`
		}
		resp, b := e.call(t, c, "token", rt.Method, path, body)
		if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(string(b), "no admin route") {
			t.Errorf("%s %s: %d %s, but admin.Routes lists it", rt.Method, rt.Path, resp.StatusCode, b)
		}
	}
	if len(methods) == 0 {
		t.Fatal("admin.Routes is empty")
	}
	for path, ms := range methods {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if slices.Contains(ms, m) {
				continue
			}
			resp, b := e.call(t, c, "token", m, path, "")
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != strings.Join(ms, ", ") {
				t.Errorf("%s %s: %d (Allow %q) %s; want 405, Allow %q", m, path, resp.StatusCode, resp.Header.Get("Allow"), b, strings.Join(ms, ", "))
			}
		}
	}
}
