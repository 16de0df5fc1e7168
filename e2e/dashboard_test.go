package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// sessionCookie is the dashboard's session cookie.
const sessionCookie = "provost_ui"

// TestDashboard runs the demo's scenarios against a real `provost serve`
// with the dashboard on, then reads and uses /ui in headless chromium as
// an admin, a read-only user and an anonymous visitor. The subtests run
// in order on one server: the revocation comes last, after the tests that
// must find the copied token not revoked.
func TestDashboard(t *testing.T) {
	chromiumPath(t) // skip (or fail on CI) before building anything
	s := startServed(t, buildProvost(t), true)
	p := playScenarios(t, s)
	if p.copied.fingerprint == "" {
		t.Fatal("the scenarios gave no fingerprint for the copied token")
	}
	admin := newBrowser(t, "admin")
	login(t, admin, s, s.adminToken)

	t.Run("overview", func(t *testing.T) { testOverview(t, admin.in(t), s) })
	t.Run("decisions list the denials", func(t *testing.T) { testDecisions(t, admin.in(t), s, p) })
	t.Run("copied token's credential page", func(t *testing.T) { testCredentialPage(t, admin.in(t), s, p) })
	t.Run("anonymous gets the login page only", func(t *testing.T) { testAnonymous(t, s, p) })
	t.Run("read-only cannot revoke", func(t *testing.T) { testReadOnly(t, admin.in(t), s, p) })
	t.Run("live stream", func(t *testing.T) { testLiveStream(t, admin.in(t), s) })
	t.Run("log status and verify now", func(t *testing.T) { testLogStatus(t, admin.in(t), s, len(p.decisions)) })
	t.Run("revoke", func(t *testing.T) { testRevoke(t, admin.in(t), s, p) })
	t.Run("receipt and trail", func(t *testing.T) { testInvestigation(t, admin.in(t), s, p) })
}

// login signs in at /ui/login with token as a person would: types it and
// clicks the form's submit button. It expects the contract's answer: the
// session cookie, and /ui/.
func login(t *testing.T, b *browser, s *served, token string) {
	t.Helper()
	b.open(s.ui + "/ui/login")
	if b.count(`input[name=token]`) != 1 {
		t.Fatalf("the login page has no single input[name=token]:\n%s", clip(b.html(), 2000))
	}
	b.do("signing in",
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token),
		chromedp.Click(chromedp.CSS(`form:has(input[name=token]) :is(button:not([type]), button[type=submit], input[type=submit])`)),
	)
	if !b.waitFor(`location.pathname === "/ui/" && document.readyState === "complete"`, 15*time.Second) {
		t.Fatalf("signing in did not lead to /ui/ (at %s):\n%s", b.location(), clip(b.html(), 2000))
	}
	if b.cookie(s.ui, sessionCookie) == "" {
		t.Fatalf("signed in, but the browser holds no %s cookie", sessionCookie)
	}
}

// cookie is the value of the browser's cookie name for base ("" when none).
func (b *browser) cookie(base, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/ui/"}})
	if err != nil {
		b.t.Fatalf("reading the cookies (%s): %v", b.name, err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// credentialURL is the credential page of fingerprint.
func credentialURL(s *served, fingerprint string) string {
	return s.ui + "/ui/credentials/" + url.PathEscape(fingerprint)
}

// postForm posts a form as a browser on the dashboard's own origin would
// (Origin set), with cookie ("" for none); redirects are not followed.
func postForm(t *testing.T, s *served, path, cookie string, form url.Values) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.ui+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.ui)
	req.Header.Set("Referer", s.ui+path)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return send(t, req)
}

// refusedToAnonymous reports whether an answer to a request without a
// session refuses it: 401 or 403, or a redirect to the login page.
func refusedToAnonymous(status int, h http.Header) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusSeeOther, http.StatusFound, http.StatusTemporaryRedirect:
		loc, err := url.Parse(h.Get("Location"))
		return err == nil && loc.Path == "/ui/login"
	}
	return false
}
