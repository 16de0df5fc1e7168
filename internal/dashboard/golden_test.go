package dashboard

import (
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/provost-dev/provost/internal/golden"
)

// The login page and the page of an ambiguous prefix, as a browser gets
// them (the random CSRF token replaced). Run go test -update to accept a
// change.
func TestGoldenPages(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	a := e.get(c, "/ui/login?next=/ui/log")
	if a.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", a.StatusCode)
	}
	token := regexp.MustCompile(`(value|content)="[A-Za-z0-9_-]{43}"`)
	golden.Check(t, filepath.Join("testdata", "login.golden.html"), []byte(token.ReplaceAllString(a.body, `$1="CSRF"`)), "")
	c = e.login(e.roTok)
	a = e.get(c, "/ui/decisions/99")
	if a.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing decision: %d", a.StatusCode)
	}
	golden.Check(t, filepath.Join("testdata", "missing-decision.golden.html"), []byte(token.ReplaceAllString(a.body, `$1="CSRF"`)), "")
}
