package dashboard

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/revocation"
)

// route is one /ui route as a test asks it.
type route struct {
	method, path string
	kind         string // public, page, api, stream, post
}

// routesOf lists every route, with the fixture's decision and credential.
func routesOf(p played) []route {
	idx := strconv.FormatInt(p.copiedIndex, 10)
	return []route{
		{"GET", "/ui/static/dashboard.css", "public"},
		{"GET", "/ui/static/dashboard.js", "public"},
		{"GET", "/ui/login", "public"},
		{"GET", "/ui/", "page"},
		{"GET", "/ui/decisions", "page"},
		{"GET", "/ui/decisions?outcome=deny", "page"},
		{"GET", "/ui/decisions/" + idx, "page"},
		{"GET", "/ui/credentials/" + p.reportsFP, "page"},
		{"GET", "/ui/credentials/" + p.reportsFP + "/revoke", "page"},
		{"GET", "/ui/log", "page"},
		{"GET", "/ui/no-such-page", "page"},
		{"GET", "/ui/api/decisions", "api"},
		{"GET", "/ui/api/receipts/" + idx, "api"},
		{"GET", "/ui/api/verify", "api"},
		{"GET", "/ui/api/nothing", "api"},
		{"GET", "/ui/api/decisions/stream", "stream"},
		{"POST", "/ui/logout", "post"},
		{"POST", "/ui/log/verify", "post"},
		{"POST", "/ui/credentials/" + p.reportsFP + "/revoke", "post"},
	}
}

// wantHeaders fails unless every security header is on a.
func wantHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP %q", what, csp)
	}
}

// stream opens the live stream and returns its response once its headers
// came; cancel ends it.
func (e *env) stream(c *http.Client, query string) (*http.Response, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/ui/api/decisions/stream"+query, nil)
	c2 := *c
	c2.Timeout = 0
	resp, err := c2.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("stream: %v", err)
	}
	return resp, func() { cancel(); resp.Body.Close() }
}

// Every route answers with the security headers, whoever asks, and admits
// only who it should: pages redirect to the login page, the API answers
// 401, posts are refused, for anyone without a session or certificate.
func TestEveryRouteHeadersAndAuth(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	anon := e.client()
	stranger := e.client(e.cert(strangerCN, ""))
	admin := e.login(e.adminTok)
	readonly := e.login(e.roTok)
	for _, rt := range routesOf(p) {
		for _, who := range []struct {
			name   string
			c      *http.Client
			authed bool
		}{{"anonymous", anon, false}, {"a certificate of no role", stranger, false}, {"read-only", readonly, true}, {"admin", admin, true}} {
			what := rt.method + " " + rt.path + " as " + who.name
			if rt.kind == "stream" {
				if !who.authed {
					a := e.get(who.c, rt.path)
					wantHeaders(t, what, a.Header)
					if a.StatusCode != http.StatusUnauthorized {
						t.Errorf("%s: %d, want 401", what, a.StatusCode)
					}
					continue
				}
				resp, cancel := e.stream(who.c, "")
				wantHeaders(t, what, resp.Header)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
					t.Errorf("%s: %d %s", what, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				cancel()
				continue
			}
			var form url.Values
			if rt.method == http.MethodPost {
				form = url.Values{"reason": {"test"}}
			}
			a := e.do(who.c, rt.method, rt.path, form, "Origin", e.base)
			wantHeaders(t, what, a.Header)
			switch {
			case rt.kind == "public":
				if a.StatusCode != http.StatusOK {
					t.Errorf("%s: %d, want 200", what, a.StatusCode)
				}
			case !who.authed && rt.kind == "api":
				if a.StatusCode != http.StatusUnauthorized || a.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s, want 401 problem", what, a.StatusCode, a.Header.Get("Content-Type"))
				}
			case !who.authed:
				if loc := a.Header.Get("Location"); a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, PathLogin) {
					t.Errorf("%s: %d to %q, want 303 to the login page", what, a.StatusCode, loc)
				}
			case rt.kind == "post":
				// No CSRF token: refused, whoever is signed in.
				if a.StatusCode != http.StatusForbidden {
					t.Errorf("%s without a CSRF token: %d, want 403", what, a.StatusCode)
				}
			case strings.HasSuffix(rt.path, "/revoke") && who.name == "read-only":
				if a.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %d, want 403 (read-only)", what, a.StatusCode)
				}
			case strings.Contains(rt.path, "no-such") || strings.Contains(rt.path, "/api/nothing"):
				if a.StatusCode != http.StatusNotFound {
					t.Errorf("%s: %d, want 404", what, a.StatusCode)
				}
			default:
				if a.StatusCode != http.StatusOK {
					t.Errorf("%s: %d, want 200\n%s", what, a.StatusCode, clip(a.body, 500))
				}
			}
		}
	}
	if list, err := e.a.Revocations.List(context.Background()); err != nil || len(list) != 1 {
		t.Errorf("revocations after every refused POST: %d (%v), want only the one the ci binding wrote", len(list), err)
	}
}

// A session cookie that is forged, tampered with, expired or logged out
// admits no one.
func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	c := e.login(e.adminTok)
	if a := e.get(c, "/ui/"); a.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", a.StatusCode)
	}
	u, _ := url.Parse(e.base + "/ui/")
	var cookie *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	// The cookie's attributes, as set.
	login := e.client()
	page := e.get(login, PathLogin)
	a := e.do(login, http.MethodPost, PathLogin, url.Values{"csrf": {csrfOf(t, page.body)}, "token": {e.roTok}}, "Origin", e.base)
	set := a.Header.Values("Set-Cookie")
	var sc string
	for _, s := range set {
		if strings.HasPrefix(s, sessionCookie+"=") {
			sc = s
		}
	}
	for _, attr := range []string{"Path=/ui", "HttpOnly", "SameSite=Strict", "Secure", "Max-Age=28800"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("session cookie %q lacks %s", sc, attr)
		}
	}
	payload, mac, _ := strings.Cut(cookie.Value, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		return string(b)
	}
	for name, v := range map[string]string{
		"tampered payload": flip(payload) + "." + mac,
		"tampered mac":     payload + "." + flip(mac),
		"no mac":           payload,
		"garbage":          "x",
		"too long":         strings.Repeat("A", 2000) + "." + mac,
	} {
		b := e.client()
		b.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: v, Path: "/ui"}})
		if a := e.get(b, "/ui/"); a.StatusCode != http.StatusSeeOther {
			t.Errorf("%s cookie: %d, want 303 to the login page", name, a.StatusCode)
		}
	}
	// Logged out: the same cookie value is refused.
	csrf := csrfOf(t, e.get(c, "/ui/").body)
	if a := e.do(c, http.MethodPost, PathLogout, url.Values{"csrf": {csrf}}, "Origin", e.base); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", a.StatusCode)
	}
	replay := e.client()
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: cookie.Value, Path: "/ui"}})
	if a := e.get(replay, "/ui/"); a.StatusCode != http.StatusSeeOther {
		t.Errorf("a logged-out session's cookie: %d, want 303", a.StatusCode)
	}
	// Eight hours on, a session has expired.
	c = e.login(e.roTok)
	e.w.Clock.Advance(sessionTTL + time.Second)
	if a := e.get(c, "/ui/"); a.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session: %d, want 303", a.StatusCode)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	page := e.get(c, PathLogin)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `name="token"`) || !strings.Contains(page.body, `type="submit"`) {
		t.Fatalf("login page: %d\n%s", page.StatusCode, page.body)
	}
	csrf := csrfOf(t, page.body)
	post := func(c *http.Client, form url.Values, hdr ...string) answer {
		t.Helper()
		return e.do(c, http.MethodPost, PathLogin, form, hdr...)
	}
	// Without the login cookie's token, or from another site: 403.
	if a := post(e.client(), url.Values{"csrf": {csrf}, "token": {e.adminTok}}); a.StatusCode != http.StatusForbidden {
		t.Errorf("no login cookie: %d, want 403", a.StatusCode)
	}
	if a := post(c, url.Values{"csrf": {"x" + csrf}, "token": {e.adminTok}}); a.StatusCode != http.StatusForbidden {
		t.Errorf("wrong csrf: %d, want 403", a.StatusCode)
	}
	if a := post(c, url.Values{"csrf": {csrf}, "token": {e.adminTok}}, "Origin", "https://evil.example"); a.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %d, want 403", a.StatusCode)
	}
	// A wrong token: 401, and the token is not repeated.
	a := post(c, url.Values{"csrf": {csrf}, "token": {"wrong-token-value-123"}})
	if a.StatusCode != http.StatusUnauthorized || strings.Contains(a.body, "wrong-token-value-123") {
		t.Errorf("wrong token: %d\n%s", a.StatusCode, a.body)
	}
	// The admin token: 303 to the page asked for, signed in as admin.
	csrf = csrfOf(t, a.body)
	a = post(c, url.Values{"csrf": {csrf}, "token": {e.adminTok}, "next": {"/ui/log"}})
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/log" {
		t.Fatalf("admin token: %d to %q", a.StatusCode, a.Header.Get("Location"))
	}
	if a := e.get(c, "/ui/log"); !strings.Contains(a.body, `data-role="admin"`) {
		t.Errorf("not signed in as admin:\n%s", clip(a.body, 1000))
	}
	// A next outside the dashboard is not followed.
	c2 := e.client()
	a = post(c2, url.Values{"csrf": {csrfOf(t, e.get(c2, PathLogin).body)}, "token": {e.roTok}, "next": {"//evil.example/ui/"}})
	if a.Header.Get("Location") != "/ui/" {
		t.Errorf("next //evil.example: redirected to %q", a.Header.Get("Location"))
	}
	if a := e.get(c2, "/ui/"); !strings.Contains(a.body, `data-role="read-only"`) {
		t.Errorf("the read-only token did not sign in as read-only")
	}
	// Failures from one address are limited: after the burst, 429 even
	// for the right token.
	c3 := e.client()
	for range loginBurst {
		post(c3, url.Values{"csrf": {csrfOf(t, e.get(c3, PathLogin).body)}, "token": {"nope"}})
	}
	a = post(c3, url.Values{"csrf": {csrfOf(t, e.get(c3, PathLogin).body)}, "token": {e.adminTok}})
	if a.StatusCode != http.StatusTooManyRequests || a.Header.Get("Retry-After") == "" {
		t.Errorf("after %d failures: %d, want 429 with Retry-After", loginBurst, a.StatusCode)
	}
}

// Every state-changing request needs the session's CSRF token and no
// sign of another site.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.adminTok)
	csrf := csrfOf(t, e.get(c, "/ui/log").body)
	other := csrfOf(t, e.get(e.login(e.adminTok), "/ui/log").body)
	if other == csrf {
		t.Fatal("two sessions share a CSRF token")
	}
	revoke := "/ui/credentials/" + p.reportsFP + "/revoke"
	for _, path := range []string{revoke, "/ui/log/verify", PathLogout} {
		for _, tc := range []struct {
			name string
			form url.Values
			hdr  []string
		}{
			{"no token", url.Values{}, nil},
			{"another session's token", url.Values{"csrf": {other}}, nil},
			{"a token cut short", url.Values{"csrf": {csrf[:len(csrf)-1]}}, nil},
			{"the header with a wrong token", url.Values{}, []string{csrfHeader, other}},
			{"another Origin", url.Values{"csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
			{"an Origin on another port", url.Values{"csrf": {csrf}}, []string{"Origin", "https://127.0.0.1:1"}},
			{"another Referer", url.Values{"csrf": {csrf}}, []string{"Referer", "https://evil.example/page"}},
			{"Sec-Fetch-Site cross-site", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"Sec-Fetch-Site same-site", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "same-site"}},
		} {
			if a := e.do(c, http.MethodPost, path, tc.form, tc.hdr...); a.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s, %s: %d, want 403", path, tc.name, a.StatusCode)
			}
		}
	}
	if list, _ := e.a.Revocations.List(context.Background()); len(list) != 1 {
		t.Fatalf("%d revocations after refused POSTs, want 1", len(list))
	}
	// The right token, with what a browser sends from the page (Origin
	// null under Referrer-Policy no-referrer): accepted.
	a := e.do(c, http.MethodPost, "/ui/log/verify", url.Values{"csrf": {csrf}}, "Origin", "null", "Sec-Fetch-Site", "same-origin")
	if a.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /ui/log/verify with the token: %d, want 303", a.StatusCode)
	}
	a = e.do(c, http.MethodPost, "/ui/log/verify", url.Values{}, csrfHeader, csrf, "Origin", e.base)
	if a.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /ui/log/verify with the token in %s: %d, want 303", csrfHeader, a.StatusCode)
	}
}

// Only an admin revokes; the revocation goes through the admin API's path
// (audited with the user), is in the revocation store and refuses the
// credential's next request, whose evidence names it.
func TestRevoke(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	ctx := context.Background()
	page := "/ui/credentials/" + p.reportsFP
	ro := e.login(e.roTok)
	if a := e.get(ro, page); strings.Contains(a.body, `data-testid="revoke"`) {
		t.Error("the read-only user is shown Revoke")
	}
	csrf := csrfOf(t, e.get(ro, "/ui/log").body)
	a := e.do(ro, http.MethodPost, page+"/revoke", url.Values{"csrf": {csrf}, "reason": {"read-only try"}}, "Origin", e.base)
	if a.StatusCode != http.StatusForbidden {
		t.Errorf("read-only POST revoke with a valid CSRF token: %d, want 403", a.StatusCode)
	}
	roCert := e.client(e.cert(readonlyCN, ""))
	csrf = csrfOf(t, e.get(roCert, "/ui/log").body)
	if a := e.do(roCert, http.MethodPost, page+"/revoke", url.Values{"csrf": {csrf}}, "Origin", e.base); a.StatusCode != http.StatusForbidden {
		t.Errorf("read-only certificate POST revoke: %d, want 403", a.StatusCode)
	}
	if rev, _ := e.a.Revocations.Match(ctx, revocation.Query{Fingerprint: p.reportsFP}); rev != nil {
		t.Fatalf("revoked by a read-only user: %+v", rev)
	}

	adm := e.login(e.adminTok)
	view := e.get(adm, page)
	if !strings.Contains(view.body, `data-testid="revoke" href="`+page+`/revoke"`) {
		t.Fatalf("the admin is not shown Revoke:\n%s", clip(view.body, 2000))
	}
	if st := element(t, view.body, `data-testid="revocation-state"`, "</dd>"); !strings.Contains(st, "not revoked") {
		t.Errorf("revocation state before: %s", st)
	}
	confirm := e.get(adm, page+"/revoke")
	if !strings.Contains(confirm.body, `data-testid="revoke-confirm"`) {
		t.Fatalf("no confirmation button:\n%s", clip(confirm.body, 2000))
	}
	a = e.do(adm, http.MethodPost, page+"/revoke", url.Values{"csrf": {csrfOf(t, confirm.body)}, "reason": {"INC-7 copied token"}}, "Origin", e.base)
	loc := a.Header.Get("Location")
	if a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?revoked=rev_") {
		t.Fatalf("admin POST revoke: %d to %q\n%s", a.StatusCode, loc, clip(a.body, 1000))
	}
	rev, err := e.a.Revocations.Match(ctx, revocation.Query{Fingerprint: p.reportsFP})
	if err != nil || rev == nil || rev.Kind != revocation.KindFingerprint || rev.Reason != "INC-7 copied token" || !strings.HasSuffix(loc, rev.ID) {
		t.Fatalf("the revocation store holds %+v (%v)", rev, err)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"revocation created"`) || !strings.Contains(logs, `"client":"dashboard: admin token"`) {
		t.Errorf("no audit line naming the dashboard user:\n%s", logs)
	}
	after := e.get(adm, loc)
	if st := element(t, after.body, `data-testid="revocation-state"`, "</dd>"); !strings.Contains(st, "revoked") || strings.Contains(st, "not revoked") || !strings.Contains(st, rev.ID) {
		t.Errorf("revocation state after: %s", st)
	}
	// The next request with the credential is denied, and its evidence
	// names the revocation.
	d := e.check(p.reports, "10.40.0.5")
	if d.Outcome != "deny" || !d.Has("revoked") || d.Credential.RevocationID != rev.ID {
		t.Fatalf("next decision: %s %v revocation %q", d.Outcome, d.Codes(), d.Credential.RevocationID)
	}
	idx := strconv.FormatInt(d.Evidence.Index, 10)
	if rec := e.get(adm, "/ui/decisions/"+idx); !strings.Contains(rec.body, `&#34;revocation_id&#34;: &#34;`+rev.ID) {
		t.Errorf("the evidence record of the next decision does not name %s:\n%s", rev.ID, clip(element(t, rec.body, `data-testid="record"`, "</pre>"), 3000))
	}
	// An admin certificate revokes too, with no session.
	cert := e.client(e.cert("ops", adminID))
	f := "/ui/credentials/" + p.ciFP + "/revoke"
	csrf = csrfOf(t, e.get(cert, f).body)
	if a := e.do(cert, http.MethodPost, f, url.Values{"csrf": {csrf}}, "Origin", e.base); a.StatusCode != http.StatusSeeOther {
		t.Errorf("admin certificate POST revoke: %d\n%s", a.StatusCode, clip(a.body, 1000))
	}
	if !strings.Contains(e.logs.String(), `"client":"dashboard: `+adminID+`"`) {
		t.Error("no audit line naming the certificate's SPIFFE ID")
	}
}

// Client certificates: admin identities are admins, read-only ones
// read-only, others nobody.
func TestCertificates(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, cn, uri, role string
	}{
		{"admin SPIFFE ID", "ops", adminID, "admin"},
		{"read-only CN", readonlyCN, "", "read-only"},
		{"no role", strangerCN, "spiffe://demo.provost.test/other", ""},
	} {
		c := e.client(e.cert(tc.cn, tc.uri))
		a := e.get(c, "/ui/log")
		if tc.role == "" {
			if a.StatusCode != http.StatusSeeOther {
				t.Errorf("%s: %d, want 303 to the login page", tc.name, a.StatusCode)
			}
			continue
		}
		if a.StatusCode != http.StatusOK || !strings.Contains(a.body, `data-role="`+tc.role+`"`) {
			t.Errorf("%s: %d, want 200 as %s\n%s", tc.name, a.StatusCode, tc.role, clip(a.body, 800))
		}
		if strings.Contains(a.body, `data-testid="logout"`) {
			t.Errorf("%s: a certificate user is offered to sign out", tc.name)
		}
	}
}

// The live stream sends each new decision as an event, filtered, and
// ends when the server shuts down.
func TestStream(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.roTok)
	all, cancelAll := e.stream(c, "")
	defer cancelAll()
	denied, cancelDenied := e.stream(c, "?outcome=deny")
	defer cancelDenied()
	events := func(resp *http.Response) <-chan string {
		ch := make(chan string, 16)
		go func() {
			defer close(ch)
			sc := bufio.NewScanner(resp.Body)
			var ev []string
			for sc.Scan() {
				if sc.Text() == "" {
					if len(ev) > 0 {
						ch <- strings.Join(ev, "\n")
					}
					ev = nil
					continue
				}
				ev = append(ev, sc.Text())
			}
		}()
		return ch
	}
	allEv, denyEv := events(all), events(denied)
	next := func(ch <-chan string, what string) string {
		t.Helper()
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					t.Fatalf("%s: the stream ended", what)
				}
				if strings.Contains(ev, "event: decision") {
					return ev
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no event in 10 s", what)
			}
		}
	}
	allowed := e.check(p.newcomer, "10.60.0.2")
	deniedD := e.check(p.shadow, "10.40.0.9")
	ev := next(allEv, "all")
	if !strings.Contains(ev, "id: "+strconv.FormatInt(allowed.Evidence.Index, 10)) || !strings.Contains(ev, `"outcome":"allow"`) ||
		!strings.Contains(ev, `"fingerprint":"`+allowed.Credential.Fingerprint+`"`) {
		t.Errorf("first event: %s", ev)
	}
	ev = next(allEv, "all")
	if !strings.Contains(ev, "id: "+strconv.FormatInt(deniedD.Evidence.Index, 10)) || !strings.Contains(ev, `"reasons":["shadow_automation"`) {
		t.Errorf("second event: %s", ev)
	}
	if ev := next(denyEv, "deny only"); !strings.Contains(ev, "id: "+strconv.FormatInt(deniedD.Evidence.Index, 10)) {
		t.Errorf("the filtered stream's first event is not the denial: %s", ev)
	}
	// A reconnecting browser is sent what it missed after Last-Event-ID.
	req, _ := http.NewRequest(http.MethodGet, e.base+"/ui/api/decisions/stream", nil)
	req.Header.Set("Last-Event-ID", strconv.FormatInt(allowed.Evidence.Index-1, 10))
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	replayed := events(resp)
	if ev := next(replayed, "replay"); !strings.Contains(ev, "id: "+strconv.FormatInt(allowed.Evidence.Index, 10)) {
		t.Errorf("the replay starts with %s", ev)
	}
	cancel()
	resp.Body.Close()
	// Shutdown ends the open streams.
	e.stop()
	for ch, name := range map[<-chan string]string{allEv: "all", denyEv: "deny only"} {
		timeout := time.After(10 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					break drain
				}
			case <-timeout:
				t.Fatalf("%s: the stream did not end on shutdown", name)
			}
		}
	}
}

// The streams open at once are bounded.
func TestStreamLimit(t *testing.T) {
	e := newEnv(t)
	e.d.streams.max = 2
	c := e.login(e.roTok)
	for i := range 2 {
		resp, cancel := e.stream(c, "")
		defer cancel()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
	}
	a := e.get(c, "/ui/api/decisions/stream")
	if a.StatusCode != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Errorf("a third stream: %d, want 503 with Retry-After", a.StatusCode)
	}
}

// The dashboard sets its headers itself, whatever listener serves it (the
// serve listener's server adds nosniff of its own; the admin one does not).
func TestHeadersFromTheHandlerItself(t *testing.T) {
	e := newEnv(t)
	h := e.d.Handler()
	for _, path := range []string{"/ui/login", "/ui/static/dashboard.js", "/ui/", "/ui/decisions", "/ui/api/decisions", "/ui/api/decisions/stream", "/ui", "/ui/static/nothing.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		wantHeaders(t, "GET "+path, rec.Header())
		if rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q", path, rec.Header().Get("X-Frame-Options"))
		}
	}
}
