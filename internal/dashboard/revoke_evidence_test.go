package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// revokeFromPage revokes fp as the admin client adm would, confirming on
// the revoke page, and returns the answer.
func (e *env) revokeFromPage(adm *http.Client, fp, why string) answer {
	e.t.Helper()
	page := "/ui/credentials/" + fp
	confirm := e.get(adm, page+"/revoke")
	return e.do(adm, http.MethodPost, page+"/revoke", url.Values{"csrf": {csrfOf(e.t, confirm.body)}, "reason": {why}}, "Origin", e.base)
}

// lastRecord is the evidence log's last record and its index.
func (e *env) lastRecord() (int64, evidence.Record) {
	e.t.Helper()
	n := e.a.Evidence.Size()
	raw, err := e.a.Evidence.Entries(context.Background(), n-1, n)
	if err != nil || len(raw) != 1 {
		e.t.Fatalf("reading record %d: %v", n-1, err)
	}
	rec, err := evidence.Unmarshal(raw[0])
	if err != nil {
		e.t.Fatalf("record %d: %v", n-1, err)
	}
	return n - 1, rec
}

// decisionsCounted is the overview's count of decisions.
func (e *env) decisionsCounted() int64 {
	e.d.feed.mu.Lock()
	defer e.d.feed.mu.Unlock()
	return e.d.feed.agg.total
}

// The dashboard's Revoke is recorded as evidence: the log holds the
// revocation's record (who, what, why), which verifies with the rest of
// the log and by receipt; the credential's timeline shows it where it
// happened; the live decisions and the overview do not count it as a
// decision.
func TestRevokeIsRecordedAsEvidence(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	ctx := context.Background()
	adm := e.login(e.adminTok)
	before := e.a.Evidence.Size()
	decisions := e.decisionsCounted()

	a := e.revokeFromPage(adm, p.reportsFP, "INC-7 copied token")
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin POST revoke: %d\n%s", a.StatusCode, clip(a.body, 1000))
	}
	rev, err := e.a.Revocations.Match(ctx, revocation.Query{Fingerprint: p.reportsFP})
	if err != nil || rev == nil {
		t.Fatalf("not revoked: %v", err)
	}
	if got := e.a.Evidence.Size(); got != before+1 {
		t.Fatalf("the log grew from %d to %d records, want one record more", before, got)
	}
	idx, rec := e.lastRecord()
	want := evidence.Revocation{ID: rev.ID, Kind: "fingerprint", Value: p.reportsFP, Reason: "INC-7 copied token", Client: "dashboard: admin token"}
	if rec.Event != evidence.EventRevocation || rec.Version != evidence.EventVersion || rec.Revocation != want ||
		!rec.Time.Equal(rev.CreatedAt) || rec.Decision != "" || rec.Credential.Fingerprint != "" || rec.Credential.Verdict != "" {
		t.Fatalf("record %d: %+v\nwant the revocation %+v", idx, rec, want)
	}
	l, ok := e.a.Evidence.(*evidencelog.Log)
	if !ok {
		t.Fatalf("the evidence log is a %T", e.a.Evidence)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("the log with the revocation record does not verify: %v", err)
	}

	e.settle()
	// The credential's timeline: the revocation, newest first.
	view := e.get(adm, "/ui/credentials/"+p.reportsFP)
	tl := element(t, view.body, `data-testid="timeline"`, "</table>")
	line := element(t, tl, `data-index="`+strconv.FormatInt(idx, 10)+`"`, "</tr>")
	for _, w := range []string{`data-event="revocation"`, `data-testid="timeline-operator-revocation"`, "revoked by operator", "dashboard: admin token", "INC-7 copied token", rev.ID} {
		if !strings.Contains(line, w) {
			t.Errorf("the timeline's revocation line lacks %q:\n%s", w, line)
		}
	}
	if n := strings.Count(tl, `data-testid="timeline-row"`); n != 4 {
		t.Errorf("%d timeline lines, want the 3 uses and the revocation", n)
	}
	if strings.Index(tl, `data-event="revocation"`) > strings.Index(tl, `data-outcome=`) {
		t.Error("the revocation is not the newest line of the timeline")
	}
	if !strings.Contains(view.body, "3 decisions in the index") {
		t.Errorf("the page does not count 3 decisions: %s", element(t, view.body, "<dt>uses</dt>", "</dd>"))
	}
	if nodes := strings.Count(view.body, `data-testid="origin-node"`); nodes != 3 {
		t.Errorf("%d origin nodes, want the 3 uses' (the revocation has no origin)", nodes)
	}

	// Not a decision: not in the live decisions, nor the overview's count.
	var api struct {
		Decisions []row `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(e.get(adm, "/ui/api/decisions").body), &api); err != nil {
		t.Fatal(err)
	}
	for _, r := range api.Decisions {
		if r.Index == idx || r.Outcome == "" {
			t.Errorf("the live decisions list the revocation record: %+v", r)
		}
	}
	if page := e.get(adm, "/ui/decisions").body; strings.Contains(page, `data-index="`+strconv.FormatInt(idx, 10)+`"`) {
		t.Error("/ui/decisions shows the revocation record")
	}
	if got := e.decisionsCounted(); got != decisions {
		t.Errorf("the overview counts %d decisions after the revocation, want %d", got, decisions)
	}

	// Its page says what it is and offers its receipt, which verifies.
	rp := e.get(adm, "/ui/decisions/"+strconv.FormatInt(idx, 10))
	if rp.StatusCode != http.StatusOK || !strings.Contains(rp.body, `data-event="revocation"`) || !strings.Contains(rp.body, "dashboard: admin token") ||
		!strings.Contains(rp.body, `href="/ui/credentials/`+p.reportsFP+`"`) {
		t.Errorf("the record's page: %d\n%s", rp.StatusCode, clip(rp.body, 2000))
	}
	rc := e.get(adm, "/ui/api/receipts/"+strconv.FormatInt(idx, 10))
	r, err := evidencelog.ParseReceipt([]byte(rc.body))
	if err != nil {
		t.Fatalf("receipt: %d %v", rc.StatusCode, err)
	}
	if err := evidencelog.VerifyReceipt(r, e.a.Evidence.VerifierKey()); err != nil || r.Index != idx {
		t.Fatalf("the revocation record's receipt (index %d): %v", r.Index, err)
	}
	if back, err := evidence.Unmarshal(r.Record); err != nil || back.Revocation.ID != rev.ID {
		t.Errorf("the receipt holds %+v (%v)", back.Revocation, err)
	}
}

// When the evidence log refuses the record, the revocation is in force all
// the same; the admin is told it was not recorded, and not to revoke again.
func TestRevokeWhenEvidenceFails(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	ctx := context.Background()
	adm := e.login(e.adminTok)
	confirm := e.get(adm, "/ui/credentials/"+p.reportsFP+"/revoke")

	db, err := sqlitedb.Open(ctx, filepath.Join(e.a.Layout.Evidence, evidencelog.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fault BEFORE INSERT ON evidence_leaf
		BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`); err != nil {
		t.Fatal(err)
	}
	before := e.a.Evidence.Size()
	a := e.do(adm, http.MethodPost, "/ui/credentials/"+p.reportsFP+"/revoke",
		url.Values{"csrf": {csrfOf(t, confirm.body)}, "reason": {"during the fault"}}, "Origin", e.base)
	rev, err := e.a.Revocations.Match(ctx, revocation.Query{Fingerprint: p.reportsFP})
	if err != nil || rev == nil {
		t.Fatalf("the revocation was lost when its evidence record failed: %v", err)
	}
	if a.StatusCode != http.StatusInternalServerError || !strings.Contains(a.body, "Revoked, but not recorded as evidence") ||
		!strings.Contains(a.body, rev.ID) || !strings.Contains(a.body, "in force") {
		t.Errorf("answer during the fault: %d\n%s", a.StatusCode, clip(a.body, 2000))
	}
	if got := e.a.Evidence.Size(); got != before {
		t.Errorf("the log grew to %d records during the fault", got)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"revocation in force but not recorded as evidence"`) || !strings.Contains(logs, rev.ID) {
		t.Errorf("no error line names the unrecorded revocation:\n%s", clip(logs, 3000))
	}
}
