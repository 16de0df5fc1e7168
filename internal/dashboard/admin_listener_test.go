package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/provosttest"
)

// With ui.listener: admin, the admin listener serves /ui (its own
// authentication) and every admin route still needs the admin API's.
func TestOnTheAdminListener(t *testing.T) {
	tok := "adm_" + randomHex(t)
	w := provosttest.New(t, provosttest.Options{Bindings: testBindings, Config: fmt.Sprintf(`admin:
  listen: 127.0.0.1:0
  token_sha256: %s
ui: {enabled: true, listener: admin}
`, sum(tok))})
	a := w.App("")
	d, err := New(Options{App: a})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go d.Run(ctx)
	srv, err := admin.New(admin.Options{App: a, UI: d.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		d.Close()
	})
	base := "http://" + ln.Addr().String()
	get := func(path string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(PathLogin)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != ContentSecurityPolicy || !strings.Contains(body, `name="token"`) {
		t.Errorf("GET /ui/login on the admin listener: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get("/ui/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /ui/ unauthenticated: %d, want 303", resp.StatusCode)
	}
	// The admin bearer token is not a dashboard credential: the
	// dashboard asks for a session.
	if resp, _ := get("/ui/", "Authorization", "Bearer "+tok); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /ui/ with the admin bearer token: %d, want 303", resp.StatusCode)
	}
	if resp, _ := get("/v1/status"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/status without a token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get("/v1/status", "Authorization", "Bearer "+tok); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/status with the token: %d, want 200", resp.StatusCode)
	}
	if resp, _ := get("/uix"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /uix: %d, want the admin API's 401", resp.StatusCode)
	}
	_ = url.Values{}
}
