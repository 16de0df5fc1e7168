package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// count is how many times re matches s.
func count(s, re string) int { return len(regexp.MustCompile(re).FindAllStringIndex(s, -1)) }

// element is the first element whose opening tag carries attr, with what
// follows it up to its closing tag name (for short, unnested checks).
func element(t *testing.T, page, attr, closing string) string {
	t.Helper()
	i := strings.Index(page, attr)
	if i < 0 {
		t.Fatalf("no element with %s in the page:\n%s", attr, clip(page, 3000))
	}
	j := strings.Index(page[i:], closing)
	if j < 0 {
		t.Fatalf("element with %s has no %s", attr, closing)
	}
	return page[i : i+j]
}

func TestOverviewShowsEachPanel(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.roTok)
	a := e.get(c, "/ui/")
	if a.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/: %d\n%s", a.StatusCode, a.body)
	}
	page := a.body
	chart := element(t, page, `data-testid="decisions-chart"`, "</svg>")
	if n := count(chart, `<g class="bar"`); n == 0 {
		t.Errorf("the chart has no bars:\n%s", chart)
	}
	var allow, deny int
	for _, m := range regexp.MustCompile(`data-allow="(\d+)" data-step-up="\d+" data-deny="(\d+)"`).FindAllStringSubmatch(chart, -1) {
		a, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		allow, deny = allow+a, deny+d
	}
	if allow != 4 || deny != 7 {
		t.Errorf("the chart's bars hold %d allowed and %d denied, want 4 and 7", allow, deny)
	}
	reasons := element(t, page, `data-testid="top-reasons"`, "</section>")
	for _, code := range []string{"network_not_approved", "copied_credential", "shadow_automation", "honeytoken_used", "revoked"} {
		if !strings.Contains(reasons, `data-reason="`+code+`"`) {
			t.Errorf("top reasons lack %s:\n%s", code, reasons)
		}
	}
	shadow := element(t, page, `data-testid="shadow"`, "</section>")
	if n := count(shadow, `<tr data-fingerprint="fp1:`); n != 1 {
		t.Errorf("shadow automation lists %d credentials, want 1:\n%s", n, shadow)
	}
	honey := element(t, page, `data-testid="honeytokens"`, "</section>")
	if n := count(honey, `<tr data-index=`); n != 1 {
		t.Errorf("honeytoken hits list %d, want 1:\n%s", n, honey)
	}
	mon := element(t, page, `data-testid="monitor-bindings"`, "</section>")
	if !regexp.MustCompile(`data-binding="trial" data-mode="monitor">.*?<td class="num">1</td><td class="num">1</td>`).MatchString(mon) {
		t.Errorf("the monitor binding trial does not show 1 decision that enforce would deny:\n%s", mon)
	}
	if !strings.Contains(mon, `data-binding="newcomer" data-mode="learn"`) || !strings.Contains(mon, "provost bindings propose --binding newcomer") {
		t.Errorf("the learn-mode binding newcomer is not listed with its propose command:\n%s", mon)
	}
	if !strings.Contains(mon, `data-testid="propose-note"`) {
		t.Errorf("no note on provost bindings propose:\n%s", mon)
	}
	if dormant := element(t, page, `data-testid="dormant"`, "</section>"); strings.Contains(dormant, "<tr data-fingerprint") {
		t.Errorf("a credential is dormant after minutes:\n%s", dormant)
	}
	// Thirty-one days later every credential is idle.
	e.w.Clock.Advance(31 * 24 * time.Hour)
	c = e.login(e.roTok) // the session of 31 days ago has expired
	dormant := element(t, e.get(c, "/ui/").body, `data-testid="dormant"`, "</section>")
	if !strings.Contains(dormant, `data-fingerprint="`+p.reportsFP+`" data-state="idle"`) {
		t.Errorf("the reports credential is not listed idle after 31 days:\n%s", dormant)
	}
}

func TestDecisionsTableAndFilters(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.adminTok)
	rows := func(query string) []string {
		t.Helper()
		a := e.get(c, "/ui/decisions"+query)
		if a.StatusCode != http.StatusOK {
			t.Fatalf("GET /ui/decisions%s: %d\n%s", query, a.StatusCode, a.body)
		}
		return regexp.MustCompile(`<tr data-testid="decision-row"[^>]*>`).FindAllString(a.body, -1)
	}
	all := rows("")
	if len(all) != 11 {
		t.Fatalf("%d rows, want the 11 decisions", len(all))
	}
	if !strings.Contains(all[0], `data-outcome="deny"`) || !strings.Contains(all[0], `data-reasons="`) {
		t.Errorf("the newest row (the opaque token's denial) first: %s", all[0])
	}
	want := `data-index="` + strconv.FormatInt(p.copiedIndex, 10) + `" data-outcome="deny" data-fingerprint="` + p.reportsFP + `" data-binding="reports"`
	if !strings.Contains(strings.Join(all, "\n"), want) {
		t.Errorf("no row %s in\n%s", want, strings.Join(all, "\n"))
	}
	for _, tc := range []struct {
		query string
		n     int
		has   string
	}{
		{"?outcome=deny", 7, `data-outcome="deny"`},
		{"?outcome=allow", 4, `data-outcome="allow"`},
		{"?binding=ci-deploy", 2, `data-binding="ci-deploy"`}, // the third, refused as revoked, matched no binding
		{"?reason=copied_credential", 2, `copied_credential`}, // from 10.40.1.7 and 203.0.113.9
		{"?outcome=deny&binding=reports", 2, `data-binding="reports"`},
		{"?reason=nothing_like_it", 0, ""},
	} {
		got := rows(tc.query)
		if len(got) != tc.n {
			t.Errorf("%s: %d rows, want %d", tc.query, len(got), tc.n)
		}
		for _, r := range got {
			if !strings.Contains(r, tc.has) {
				t.Errorf("%s: row %s lacks %s", tc.query, r, tc.has)
			}
		}
	}
	if a := e.get(c, "/ui/decisions?outcome=maybe"); a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, "outcome must be") {
		t.Errorf("a bad outcome filter: %d\n%s", a.StatusCode, clip(a.body, 500))
	}
	// Each row links to its decision.
	d := e.get(c, "/ui/decisions/"+strconv.FormatInt(p.revokedIndex, 10))
	if d.StatusCode != http.StatusOK || !strings.Contains(d.body, `data-outcome="deny"`) || !strings.Contains(d.body, "network_not_approved") ||
		!strings.Contains(d.body, `data-testid="receipt-download" href="/ui/api/receipts/`+strconv.FormatInt(p.revokedIndex, 10)+`"`) {
		t.Errorf("the decision page: %d\n%s", d.StatusCode, clip(d.body, 3000))
	}
	if d := e.get(c, "/ui/decisions/99999"); d.StatusCode != http.StatusNotFound {
		t.Errorf("an index past the log: %d", d.StatusCode)
	}
	j := e.get(c, "/ui/api/decisions?outcome=allow")
	if j.StatusCode != http.StatusOK || j.Header.Get("Content-Type") != "application/json" || count(j.body, `"outcome":"allow"`) != 4 {
		t.Errorf("GET /ui/api/decisions?outcome=allow: %d %s\n%s", j.StatusCode, j.Header.Get("Content-Type"), clip(j.body, 2000))
	}
	_ = url.Values{}
}

// A reload (SIGHUP, POST /v1/reload) puts new bindings in force; the
// dashboard reads the policy in force on each page.
func TestReloadShowsThePolicyInForce(t *testing.T) {
	e := newEnv(t)
	c := e.login(e.roTok)
	if a := e.get(c, "/ui/"); !strings.Contains(a.body, "Bindings mode: enforce.") {
		t.Fatalf("before the reload:\n%s", clip(a.body, 2000))
	}
	e.w.Write("bindings.yaml", strings.Replace(testBindings, "mode: enforce", "mode: monitor", 1))
	if err := e.a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := e.get(c, "/ui/"); a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Bindings mode: monitor.") {
		t.Errorf("after the reload: %d\n%s", a.StatusCode, clip(a.body, 2000))
	}
}
