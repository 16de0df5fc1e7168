package provost_test

import (
	"net/http/httptest"
	"testing"

	"github.com/provost-dev/provost"
)

// TestFromHTTPTarget: the target is the request line's bytes in origin
// form; an absolute-form line (RFC 9112 §3.2.2) is judged by its path and
// query rather than refused as request_target_invalid.
func TestFromHTTPTarget(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"/v1/a%2e?x=1", "/v1/a%2e?x=1"},
		{"http://api.example/v1/a?x=1", "/v1/a?x=1"},
	} {
		r := httptest.NewRequest("GET", c.line, nil)
		if got := provost.FromHTTP(r).Target; got != c.want {
			t.Errorf("%s: Target %q, want %q", c.line, got, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/v1/b", nil)
	r.RequestURI = "" // built in process: no request line
	if got := provost.FromHTTP(r).Target; got != "/v1/b" {
		t.Errorf("in-process request: Target %q, want /v1/b", got)
	}
}
