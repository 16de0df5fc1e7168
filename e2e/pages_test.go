package e2e

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// row is one tr[data-testid=decision-row] of /ui/decisions.
type row struct {
	Outcome, Fingerprint, Binding, Reasons, Link string
}

const rowsJS = `Array.from(document.querySelectorAll('tr[data-testid=decision-row]')).map(r => ({
	Outcome: r.getAttribute('data-outcome') || '', Fingerprint: r.getAttribute('data-fingerprint') || '',
	Binding: r.getAttribute('data-binding') || '', Reasons: r.getAttribute('data-reasons') || '',
	Link: (a => a ? a.getAttribute('href') : '')(r.querySelector('a[data-testid=decision-link]'))}))`

func (b *browser) rows() []row {
	b.t.Helper()
	var rs []row
	b.eval("reading the decision rows", rowsJS, &rs)
	return rs
}

// matches reports whether r shows decision d: its outcome, its credential
// and (at least) the reason codes the scenario expects.
func (r row) matches(d decided) bool {
	if r.Outcome != d.outcome || (d.fingerprint != "" && r.Fingerprint != d.fingerprint) {
		return false
	}
	codes := strings.Fields(r.Reasons)
	for _, c := range d.want {
		if !slices.Contains(codes, c) {
			return false
		}
	}
	return true
}

func testOverview(t *testing.T, b *browser, s *served) {
	b.open(s.ui + "/ui/")
	for _, sel := range []string{`[data-testid=decisions-chart]`, `[data-testid=top-reasons]`} {
		if b.count(sel) == 0 {
			t.Errorf("the overview has no %s", sel)
		}
	}
	// network_not_approved denied both stolen tokens: no reason was given
	// more often.
	if top, _ := b.text(`[data-testid=top-reasons]`); !strings.Contains(top, "network_not_approved") {
		t.Errorf("the top reasons %q lack network_not_approved", clip(top, 300))
	}
	b.saveDocScreenshot("overview", wholePage)
}

func testDecisions(t *testing.T, b *browser, s *served, p *played) {
	b.open(s.ui + "/ui/decisions")
	rows := b.rows()
	if len(rows) == 0 {
		t.Fatalf("/ui/decisions shows no tr[data-testid=decision-row]:\n%s", clip(b.html(), 2000))
	}
	// Every decision the scenarios got is one row (matched one to one).
	unused := slices.Clone(rows)
	for _, d := range p.decisions {
		i := slices.IndexFunc(unused, func(r row) bool { return r.matches(d) })
		if i < 0 {
			t.Errorf("no row shows %q: %s of %s with %v", d.label, d.outcome, d.fingerprint, d.want)
			continue
		}
		unused = slices.Delete(unused, i, i+1)
	}
	denied := 0
	for _, r := range rows {
		if r.Outcome == "deny" {
			denied++
		}
	}
	if want := len(p.denials()); denied != want {
		t.Errorf("%d rows with data-outcome=deny, want the %d denied requests", denied, want)
	}
	for _, r := range rows {
		if !slices.Contains([]string{"allow", "step_up", "deny"}, r.Outcome) {
			t.Errorf("a row's data-outcome is %q, not a decision's outcome", r.Outcome)
		}
	}

	// The alert's view: the denials for copied_credential, filtered.
	b.open(s.ui + "/ui/decisions?outcome=deny&reason=copied_credential")
	want := 0
	for _, d := range p.denials() {
		if slices.Contains(d.reasons, "copied_credential") {
			want++
		}
	}
	filtered := b.rows()
	if len(filtered) != want || want == 0 {
		t.Errorf("the filter outcome=deny reason=copied_credential shows %d rows, want %d", len(filtered), want)
	}
	for _, r := range filtered {
		if r.Outcome != "deny" || !slices.Contains(strings.Fields(r.Reasons), "copied_credential") {
			t.Errorf("the filter outcome=deny reason=copied_credential shows %+v", r)
		}
	}
	b.saveDocScreenshot("decisions", topOnly)

	// The copied token's denial opens the full decision and its receipt.
	var link string
	for _, r := range rows {
		if r.Fingerprint == p.copied.fingerprint && r.Outcome == "deny" {
			link = r.Link
		}
	}
	page := fmt.Sprintf("/ui/decisions/%d", p.copied.copiedIndex)
	if u, err := url.Parse(link); err != nil || u.Path != page {
		t.Fatalf("the copied token's denial links to %q, want %s", link, page)
	}
	b.open(s.ui + page)
	markup := b.html()
	for _, w := range []string{p.copied.fingerprint, "copied_credential", "203.0.113.50"} {
		if !strings.Contains(markup, w) {
			t.Errorf("the decision page %s does not show %s", page, w)
		}
	}
	receipt := fmt.Sprintf("/ui/api/receipts/%d", p.copied.copiedIndex)
	if b.count(fmt.Sprintf(`a[href$=%s]`, jsString(receipt))) == 0 {
		t.Errorf("the decision page %s has no link to its receipt %s", page, receipt)
	}
	if strings.Contains(markup, p.copied.token) {
		t.Error("the decision page holds the raw credential")
	}
	b.saveDocScreenshot("decision", topOnly)
}

// node is one [data-testid=origin-node] of a credential page.
type node struct{ Kind, Count, Anomalous, Text string }

const nodesJS = `Array.from(document.querySelectorAll('[data-testid=origin-node]')).map(n => ({
	Kind: n.getAttribute('data-kind') || '', Count: n.getAttribute('data-count') || '',
	Anomalous: n.getAttribute('data-anomalous') || '',
	Text: [n.textContent, n.getAttribute('aria-label') || '', n.getAttribute('title') || ''].join(' ')}))`

func testCredentialPage(t *testing.T, b *browser, s *served, p *played) {
	b.open(credentialURL(s, p.copied.fingerprint))
	if n := b.count(`svg[data-testid=origin-graph]`); n != 1 {
		t.Errorf("%d svg[data-testid=origin-graph], want 1", n)
	}
	var nodes []node
	b.eval("reading the origin nodes", nodesJS, &nodes)
	if len(nodes) != 2 {
		t.Fatalf("%d origin nodes, want 2 (the agent runtime and 203.0.113.50): %+v", len(nodes), nodes)
	}
	// The anomalous origin is the second: the copy at 203.0.113.50. When
	// the nodes name their networks, it is the one naming 203.0.113.
	second := 1
	for i, n := range nodes {
		if strings.Contains(n.Text, "203.0.113.") {
			second = i
		}
	}
	for i, n := range nodes {
		if got, want := n.Anomalous == "true", i == second; got != want {
			t.Errorf("origin node %d (%s) data-anomalous=%q, want anomalous %v", i, strings.Join(strings.Fields(n.Text), " "), n.Anomalous, want)
		}
		if n.Count != "1" {
			t.Errorf("origin node %d data-count=%q, want 1 (one request from each origin)", i, n.Count)
		}
		if n.Kind == "" {
			t.Errorf("origin node %d has no data-kind", i)
		}
	}
	if b.count(`[data-testid=timeline]`) == 0 {
		t.Error("no [data-testid=timeline]")
	}
	if got, _ := b.text(`[data-testid=binding]`); !strings.Contains(got, "support-agent") {
		t.Errorf("[data-testid=binding] is %q, want the binding support-agent", got)
	}
	if got, _ := b.text(`[data-testid=revocation-state]`); !strings.Contains(got, "not revoked") {
		t.Errorf("[data-testid=revocation-state] is %q, want not revoked", got)
	}
	if b.count(`a[data-testid=revoke]`) != 1 {
		t.Error("the admin sees no a[data-testid=revoke]")
	}
	if strings.Contains(b.html(), p.copied.token) {
		t.Error("the credential page holds the raw credential")
	}
	b.saveDocScreenshot("credential-page", wholePage)
}

// anonymousPages are the pages an anonymous browser tries.
func anonymousPages(p *played) []string {
	cred := "/ui/credentials/" + url.PathEscape(p.copied.fingerprint)
	return []string{"/ui/", "/ui/decisions", fmt.Sprintf("/ui/decisions/%d", p.copied.copiedIndex), cred, cred + "/revoke", "/ui/log"}
}

// decisionData are words that only a page showing the scenarios' decisions
// would hold.
var decisionData = []string{"copied_credential", "network_not_approved", "support-agent", "agent:support-bot", "203.0.113.50", "shadow_automation"}

func testAnonymous(t *testing.T, s *served, p *played) {
	b := newBrowser(t, "anonymous")
	for _, path := range anonymousPages(p) {
		b.open(s.ui + path)
		if b.count(`input[name=token]`) != 1 {
			t.Errorf("%s: an anonymous browser gets no login page (at %s)", path, b.location())
		}
		for _, sel := range []string{`[data-testid=decision-row]`, `[data-testid=origin-node]`, `[data-testid=revocation-state]`,
			`[data-testid=log-size]`, `a[data-testid=revoke]`, `button[data-testid=revoke-confirm]`, `[data-testid=top-reasons]`} {
			if n := b.count(sel); n != 0 {
				t.Errorf("%s: an anonymous browser sees %d %s", path, n, sel)
			}
		}
		page := b.html()
		for _, w := range decisionData {
			if strings.Contains(page, w) {
				t.Errorf("%s: the page an anonymous browser gets holds %q", path, w)
			}
		}
	}
	// The same over plain HTTP, the APIs and a made-up session included.
	paths := append(anonymousPages(p), fmt.Sprintf("/ui/api/receipts/%d", p.copied.copiedIndex))
	for _, cookie := range []string{"", sessionCookie + "=" + randomHex(t, 32)} {
		for _, path := range paths {
			status, h, body := get(t, s.ui+path, cookie)
			if status == 200 && !loginForm.Match(body) || status != 200 && !refusedToAnonymous(status, h) {
				t.Errorf("GET %s without a session (cookie %v): %d %s", path, cookie != "", status, clip(string(body), 200))
			}
			for _, w := range append(slices.Clone(decisionData), p.copied.fingerprint) {
				if strings.Contains(string(body), w) && !strings.Contains(path, url.PathEscape(w)) {
					t.Errorf("GET %s without a session: the answer holds %q", path, w)
				}
			}
		}
		if status, h := streamStatus(t, s.ui+"/ui/api/decisions/stream", cookie); !refusedToAnonymous(status, h) {
			t.Errorf("the decision stream without a session (cookie %v): %d %s", cookie != "", status, h.Get("Content-Type"))
		}
		// And no revocation.
		revoke := strings.TrimPrefix(credentialURL(s, p.copied.fingerprint), s.ui) + "/revoke"
		status, h, body := postForm(t, s, revoke, cookie, url.Values{"reason": {"anonymous"}, "csrf": {randomHex(t, 16)}})
		if !refusedToAnonymous(status, h) {
			t.Errorf("POST %s without a session (cookie %v): %d %s, want it refused", revoke, cookie != "", status, clip(string(body), 200))
		}
	}
	if s.revoked(p.copied.fingerprint) {
		t.Error("an anonymous POST revoked the copied token")
	}
}

func testReadOnly(t *testing.T, admin *browser, s *served, p *played) {
	b := newBrowser(t, "read-only")
	login(t, b, s, s.readonlyToken)
	b.open(s.ui + "/ui/decisions")
	if len(b.rows()) == 0 {
		t.Error("the read-only user sees no decision rows")
	}
	csrf := b.field("csrf")
	cred := credentialURL(s, p.copied.fingerprint)
	b.open(cred)
	if n := b.count(`[data-testid=origin-node]`); n != 2 {
		t.Errorf("the read-only user sees %d origin nodes, want 2", n)
	}
	if n := b.count(`a[data-testid=revoke]`); n != 0 {
		t.Errorf("the read-only user sees %d revoke links, want none", n)
	}
	if csrf == "" {
		csrf = b.field("csrf")
	}
	b.open(cred + "/revoke")
	if n := b.count(`button[data-testid=revoke-confirm]`); n != 0 {
		t.Error("the read-only user gets the revoke confirmation page")
	}
	if csrf == "" {
		for _, path := range []string{"/ui/", "/ui/log"} {
			if b.open(s.ui + path); csrf == "" {
				csrf = b.field("csrf")
			}
		}
	}
	if csrf == "" {
		t.Fatal("no page the read-only user sees has a form with a csrf field")
	}
	// A control: the same request from the admin's session, with the
	// CSRF token of its revoke form, revokes (another credential): so the
	// read-only user's 403 is its role's, not a malformed request's.
	other := p.fingerprintOf("helpdesk around the proxies")
	admin.open(credentialURL(s, other) + "/revoke")
	adminCookie := sessionCookie + "=" + admin.cookie(s.ui, sessionCookie)
	status, h, body := postForm(t, s, "/ui/credentials/"+url.PathEscape(other)+"/revoke", adminCookie,
		url.Values{"reason": {"control"}, "csrf": {admin.field("csrf")}})
	if status >= 400 || !s.revoked(other) {
		t.Fatalf("the control: the admin's POST to revoke %s answered %d %s %s, revoked %v", other, status, h.Get("Location"), clip(string(body), 200), s.revoked(other))
	}

	cookie := sessionCookie + "=" + b.cookie(s.ui, sessionCookie)
	revoke := strings.TrimPrefix(cred, s.ui) + "/revoke"
	status, _, body = postForm(t, s, revoke, cookie, url.Values{"reason": {"read-only"}, "csrf": {csrf}})
	if status != 403 {
		t.Errorf("POST %s from the read-only session with its CSRF token: %d %s, want 403", revoke, status, clip(string(body), 200))
	}
	if s.revoked(p.copied.fingerprint) {
		t.Fatal("the read-only user revoked the copied token")
	}
	b.open(cred)
	if got, _ := b.text(`[data-testid=revocation-state]`); !strings.Contains(got, "not revoked") {
		t.Errorf("after the read-only POST the revocation state is %q, want not revoked", got)
	}
}

// field is the value of the first input named name on the page ("" when none).
func (b *browser) field(name string) string {
	b.t.Helper()
	var v string
	b.eval("reading input "+name, fmt.Sprintf(`(e => e ? e.value : "")(document.querySelector("input[name=" + %s + "]"))`, jsString(name)), &v)
	return v
}

func testLiveStream(t *testing.T, b *browser, s *served) {
	b.open(s.ui + "/ui/decisions")
	before := len(b.rows())
	b.eval("marking the page", `window.e2eNoReload = "kept"`, nil)
	var fp string
	for attempt := 1; attempt <= 3 && fp == ""; attempt++ {
		time.Sleep(500 * time.Millisecond) // let the page's stream connect
		a := s.check(map[string]any{"method": "GET", "target": "/v1/things", "peer": "10.40.1.1",
			"authorization": "Bearer " + s.w.MustToken(fmt.Sprintf("svc:stream-probe-%d", attempt), nil)})
		if a.Decision != "deny" || a.Credential.Fingerprint == "" {
			t.Fatalf("the probe decision is %s of %q, want a deny (shadow automation)", a.Decision, a.Credential.Fingerprint)
		}
		if b.waitFor(fmt.Sprintf(`Array.from(document.querySelectorAll('tr[data-testid=decision-row]')).some(r => r.getAttribute('data-fingerprint') === %s)`,
			jsString(a.Credential.Fingerprint)), 15*time.Second) {
			fp = a.Credential.Fingerprint
		} else {
			t.Logf("attempt %d: the decision did not appear in 15 s", attempt)
		}
	}
	if fp == "" {
		t.Fatal("no new decision appeared on the open decisions page")
	}
	var mark string
	b.eval("reading the mark", `window.e2eNoReload || ""`, &mark)
	if mark != "kept" {
		t.Error("the page was reloaded: the row did not come through the stream")
	}
	rows := b.rows()
	if len(rows) <= before {
		t.Errorf("%d rows after the new decision, %d before", len(rows), before)
	}
	i := slices.IndexFunc(rows, func(r row) bool { return r.Fingerprint == fp })
	if r := rows[i]; r.Outcome != "deny" || !slices.Contains(strings.Fields(r.Reasons), "shadow_automation") {
		t.Errorf("the streamed row is %+v, want a deny for shadow_automation", r)
	}
}

// loginForm finds the login page's token field in markup.
var loginForm = regexp.MustCompile(`<input[^>]*\bname=["']?token\b`)

var firstNumber = regexp.MustCompile(`\d[\d,]*`)

func testLogStatus(t *testing.T, b *browser, s *served, decisions int) {
	b.open(s.ui + "/ui/log")
	size, _ := b.text(`[data-testid=log-size]`)
	n, err := strconv.Atoi(strings.ReplaceAll(firstNumber.FindString(size), ",", ""))
	if err != nil || n < decisions {
		t.Errorf("[data-testid=log-size] is %q, want at least the %d decisions made", size, decisions)
	}
	if ck, ok := b.text(`[data-testid=log-checkpoint]`); !ok || ck == "" {
		t.Error("no [data-testid=log-checkpoint], or it is empty")
	}
	_, _, key := get(t, s.api+"/v1/log/key", "")
	if shown, _ := b.text(`[data-testid=verifier-key]`); strings.TrimSpace(string(key)) == "" || !strings.Contains(shown, strings.TrimSpace(string(key))) {
		t.Errorf("[data-testid=verifier-key] is %q, want the log's key %q", shown, strings.TrimSpace(string(key)))
	}
	b.do("clicking Verify now", chromedp.Click(chromedp.CSS(`button[data-testid=verify-now]`)))
	const done = `(e => e && /\bverified\b/i.test(e.textContent) && !/not verified|fail|error/i.test(e.textContent))(document.querySelector('[data-testid=verify-progress]'))`
	if !b.waitFor(done, 60*time.Second) {
		got, _ := b.text(`[data-testid=verify-progress]`)
		t.Fatalf("Verify now did not end in success within 60 s: [data-testid=verify-progress] is %q", got)
	}
	b.saveDocScreenshot("log", wholePage)
}

func testRevoke(t *testing.T, b *browser, s *served, p *played) {
	cred := credentialURL(s, p.copied.fingerprint)
	b.open(cred)
	if b.count(`a[data-testid=revoke]`) != 1 {
		t.Fatal("the admin sees no a[data-testid=revoke] on the credential page")
	}
	b.do("clicking Revoke", chromedp.Click(chromedp.CSS(`a[data-testid=revoke]`)))
	if !b.waitFor(`document.querySelector('button[data-testid=revoke-confirm]') && document.querySelector('[name=reason]')`, 15*time.Second) {
		t.Fatalf("clicking Revoke gave no confirmation with a reason field (at %s)", b.location())
	}
	if loc, err := url.Parse(b.location()); err != nil || loc.Path != "/ui/credentials/"+p.copied.fingerprint+"/revoke" {
		t.Errorf("the confirmation is at %s, want /ui/credentials/{fingerprint}/revoke", b.location())
	}
	if n := b.count(`form:has(button[data-testid=revoke-confirm]) input[type=hidden][name=csrf]`); n != 1 {
		t.Errorf("the revoke form has %d hidden csrf fields, want 1", n)
	}
	if s.revoked(p.copied.fingerprint) {
		t.Fatal("the token is revoked before the confirmation")
	}
	b.do("filling the reason", chromedp.SendKeys(chromedp.CSS(`[name=reason]`), "copied outside the agent runtime (203.0.113.50)"))
	b.saveDocScreenshot("revoke", topOnly)
	b.do("confirming", chromedp.Click(chromedp.CSS(`button[data-testid=revoke-confirm]`)))
	const revoked = `(e => e && /\brevoked\b/.test(e.textContent) && !/not revoked/.test(e.textContent))(document.querySelector('[data-testid=revocation-state]'))`
	if !b.waitFor(revoked, 20*time.Second) {
		got, _ := b.text(`[data-testid=revocation-state]`)
		t.Fatalf("after confirming, the revocation state is %q (at %s), want revoked", got, b.location())
	}
	b.saveDocScreenshot("credential-revoked", wholePage)
	if !s.revoked(p.copied.fingerprint) {
		t.Error("the admin API lists no revocation of the token")
	}
	// The next check, even from the approved runtime, is denied as revoked.
	a := s.check(map[string]any{"method": "GET", "target": "/v1/tools/search", "authorization": "Bearer " + p.copied.token,
		"peer": "10.30.1.5", "client_cert": p.copied.svid})
	if a.Decision != "deny" || !slices.Contains(a.codes(), "revoked") {
		t.Errorf("the next check of the revoked token: %s %v, want deny for revoked", a.Decision, a.codes())
	}
}
