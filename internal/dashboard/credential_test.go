package dashboard

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// The copied token's page: the credential in the middle, one node per
// origin it was used from, the copies marked anomalous, its timeline,
// binding and revocation state.
func TestCredentialPage(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.roTok)
	a := e.get(c, "/ui/credentials/"+p.reportsFP)
	if a.StatusCode != http.StatusOK {
		t.Fatalf("%d\n%s", a.StatusCode, a.body)
	}
	g := element(t, a.body, `data-testid="origin-graph"`, "</svg>")
	nodes := regexp.MustCompile(`<g class="origin-node [^"]*" data-testid="origin-node" data-kind="([a-z_]+)" data-count="(\d+)" data-anomalous="(true|false)"`).FindAllStringSubmatch(g, -1)
	if len(nodes) != 3 {
		t.Fatalf("%d origin nodes, want 3 (10.40.0.0/24, 10.40.1.0/24, 203.0.113.0/24):\n%s", len(nodes), g)
	}
	anomalous := 0
	for _, n := range nodes {
		if n[1] != "network" || n[2] != "1" {
			t.Errorf("node kind %s count %s, want network 1", n[1], n[2])
		}
		if n[3] == "true" {
			anomalous++
		}
	}
	if anomalous != 2 {
		t.Errorf("%d anomalous nodes, want the 2 copies", anomalous)
	}
	if n := strings.Count(g, `data-testid="anomaly-mark"`); n != 2 {
		t.Errorf("%d visible anomaly marks, want 2", n)
	}
	if !strings.Contains(g, `data-anomalies="copied concurrent"`) {
		t.Errorf("the copies are not marked copied and concurrent:\n%s", g)
	}
	if !strings.Contains(g, "network 10.40.1.0/24") || strings.Count(g, `<line class="edge`) != 3 {
		t.Errorf("graph labels or edges:\n%s", g)
	}
	tl := element(t, a.body, `data-testid="timeline"`, "</table>")
	if n := strings.Count(tl, `data-testid="timeline-row"`); n != 3 {
		t.Errorf("%d timeline rows, want 3", n)
	}
	if b := element(t, a.body, `data-testid="binding"`, "</dd>"); !strings.Contains(b, "reports") {
		t.Errorf("binding: %s", b)
	}
	if st := element(t, a.body, `data-testid="revocation-state"`, "</dd>"); !strings.Contains(st, "not revoked") {
		t.Errorf("revocation state: %s", st)
	}
	// The ci token revoked itself: its timeline says so, and the state.
	a = e.get(c, "/ui/credentials/"+p.ciFP)
	tl = element(t, a.body, `data-testid="timeline"`, "</table>")
	if !strings.Contains(tl, `data-index="`+strconv.FormatInt(p.revokedIndex, 10)+`" data-outcome="deny" data-revoked="true"`) ||
		!strings.Contains(tl, `data-testid="timeline-revoked"`) || !strings.Contains(tl, "refused: already revoked") {
		t.Errorf("the timeline does not show the revocation:\n%s", tl)
	}
	if st := element(t, a.body, `data-testid="revocation-state"`, "</dd>"); !strings.Contains(st, `data-revoked="true"`) || strings.Contains(st, "not revoked") {
		t.Errorf("revocation state of the revoked token: %s", st)
	}
	// A token with a workload: its node is of kind workload. A step-up
	// shows in the timeline.
	_ = time.Second
}

func TestFingerprintPrefix(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.roTok)
	full := "/ui/credentials/" + p.reportsFP
	if a := e.get(c, full); a.StatusCode != http.StatusOK {
		t.Fatalf("the whole fingerprint: %d", a.StatusCode)
	}
	for _, n := range []int{shortLen, 10} {
		a := e.get(c, "/ui/credentials/"+p.reportsFP[:n])
		if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != full {
			t.Errorf("the prefix of %d characters: %d to %q, want 303 to %s", n, a.StatusCode, a.Header.Get("Location"), full)
		}
	}
	if a := e.get(e.login(e.adminTok), "/ui/credentials/"+p.reportsFP[:shortLen]+"/revoke"); a.Header.Get("Location") != full+"/revoke" {
		t.Errorf("the revoke page of a prefix: to %q", a.Header.Get("Location"))
	}
	a := e.get(c, "/ui/credentials/fp1:")
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, "Ambiguous") || !strings.Contains(a.body, `href="`+full+`"`) {
		t.Errorf("an ambiguous prefix: %d\n%s", a.StatusCode, clip(a.body, 1500))
	}
	if a := e.get(c, "/ui/credentials/fp1:zzzzzzzzzzzz"); a.StatusCode != http.StatusNotFound || !strings.Contains(a.body, "Unknown credential") {
		t.Errorf("an unknown prefix: %d", a.StatusCode)
	}
	for _, bad := range []string{"fp1:%3Cscript%3E", "a%20b", strings.Repeat("A", 200)} {
		if a := e.get(c, "/ui/credentials/"+bad); a.StatusCode != http.StatusBadRequest || strings.Contains(a.body, "<script>") {
			t.Errorf("%q: %d", bad, a.StatusCode)
		}
	}
}

// A receipt from the dashboard verifies offline with nothing but the log's
// verifier key, as `provost receipt verify` checks it, and holds the record.
func TestReceiptVerifies(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	c := e.login(e.roTok)
	for _, idx := range []int64{0, p.copiedIndex, p.revokedIndex} {
		a := e.get(c, "/ui/api/receipts/"+strconv.FormatInt(idx, 10))
		if a.StatusCode != http.StatusOK || a.Header.Get("Content-Type") != "application/json" ||
			a.Header.Get("Content-Disposition") != `attachment; filename="receipt-`+strconv.FormatInt(idx, 10)+`.json"` {
			t.Fatalf("receipt %d: %d %v\n%s", idx, a.StatusCode, a.Header, a.body)
		}
		rc, err := evidencelog.ParseReceipt([]byte(a.body))
		if err != nil {
			t.Fatalf("receipt %d: %v", idx, err)
		}
		if err := evidencelog.VerifyReceipt(rc, e.a.Evidence.VerifierKey()); err != nil {
			t.Fatalf("receipt %d does not verify: %v", idx, err)
		}
		rec, err := evidence.Unmarshal(rc.Record)
		if err != nil || rc.Index != idx {
			t.Fatalf("receipt %d holds record %d: %v", idx, rc.Index, err)
		}
		if idx == p.copiedIndex && rec.Credential.Fingerprint != p.reportsFP {
			t.Errorf("receipt %d is of %s", idx, rec.Credential.Fingerprint)
		}
		// A changed record does not verify: the check can fail.
		rc.Record = append(rc.Record[:len(rc.Record)-1:len(rc.Record)-1], ' ')
		if evidencelog.VerifyReceipt(rc, e.a.Evidence.VerifierKey()) == nil {
			t.Errorf("receipt %d verifies with its record changed", idx)
		}
	}
	// The decision page names the key to verify it with.
	d := e.get(c, "/ui/decisions/0")
	var key string
	if m := regexp.MustCompile(`provost receipt verify --key '(.+?)' receipt-0.json`).FindStringSubmatch(d.body); m != nil {
		key = html.UnescapeString(m[1])
	}
	if key != e.a.Evidence.VerifierKey() {
		t.Errorf("the decision page's key %q, want %q", key, e.a.Evidence.VerifierKey())
	}
	if a := e.get(c, "/ui/api/receipts/123456"); a.StatusCode != http.StatusNotFound {
		t.Errorf("a receipt past the log: %d", a.StatusCode)
	}
}

// The log page shows the size, checkpoint and key; Verify now verifies
// the whole log and shows how it went.
func TestLogPageAndVerify(t *testing.T) {
	e := newEnv(t)
	e.play()
	c := e.login(e.roTok)
	a := e.get(c, "/ui/log")
	size := strconv.FormatInt(e.a.Evidence.Size(), 10)
	if !strings.Contains(a.body, `data-testid="log-size" data-size="`+size+`"`) {
		t.Errorf("log size %s not shown:\n%s", size, clip(a.body, 2000))
	}
	if !strings.Contains(html.UnescapeString(a.body), `<code data-testid="verifier-key">`+e.a.Evidence.VerifierKey()+`</code>`) {
		t.Errorf("verifier key not shown")
	}
	if ck := element(t, a.body, `data-testid="log-checkpoint"`, "</dd>"); !strings.Contains(ck, "covers") {
		t.Errorf("checkpoint: %s", ck)
	}
	if !strings.Contains(a.body, `data-testid="verify-progress" data-state="idle"`) {
		t.Errorf("verification not idle at first")
	}
	csrf := csrfOf(t, a.body)
	if a := e.do(c, http.MethodPost, "/ui/log/verify", map[string][]string{"csrf": {csrf}}, "Origin", e.base); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("Verify now: %d", a.StatusCode)
	}
	var st verifyState
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := e.get(c, "/ui/api/verify")
		if err := json.Unmarshal([]byte(j.body), &st); err != nil {
			t.Fatalf("GET /ui/api/verify: %v in %s", err, j.body)
		}
		if st.State != verifyRunning || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.State != verifyVerified || strconv.FormatInt(st.Total, 10) != size || st.Done != st.Total || st.By != "read-only token" {
		t.Fatalf("verification: %+v, want verified, %s records", st, size)
	}
	if a := e.get(c, "/ui/log"); !strings.Contains(a.body, `data-state="verified"`) || !strings.Contains(a.body, "Verified: verified against every checkpoint") {
		t.Errorf("the page does not show the result:\n%s", clip(element(t, a.body, `data-testid="verify-progress"`, "</div>"), 1500))
	}
	_ = context.Background
}
