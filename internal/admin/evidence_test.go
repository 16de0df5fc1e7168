package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/sqlitedb"
	"github.com/provost-dev/provost/internal/trail"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// records returns the evidence log's records from index from on, raw.
func (e *env) records(t *testing.T, from int64) [][]byte {
	t.Helper()
	raw, err := e.w.App.Evidence.Entries(context.Background(), from, e.w.App.Evidence.Size())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// POST /v1/revocations appends the revocation's evidence record to the
// log the decisions are in: what was revoked, why, by which admin client,
// never the raw credential the request gave; the log still verifies, and
// the credential's timeline shows the revocation.
func TestRevocationIsRecordedAsEvidence(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	ctx := context.Background()
	tok := e.w.MustToken(admintest.Subject, map[string]any{"jti": "tok-1"})
	fp := e.w.App.Fingerprint(tok)
	if d := e.w.Decide(tok); d.Outcome != verdict.Allow {
		t.Fatalf("before revocation: %s %+v", d.Outcome, d.Reasons)
	}
	start := e.w.App.Evidence.Size()
	// The raw credential, and a copy of it pasted into the reason.
	body, _ := json.Marshal(admin.CreateRequest{Credential: tok, Reason: "leaked in ticket INC-7: " + tok, ExpiresAt: "2099-01-02T03:04:05Z"})
	resp, out := e.call(t, e.w.HTTPClient(), "token", "POST", "/v1/revocations", string(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	var rev admin.Revocation
	if err := json.Unmarshal(out, &rev); err != nil {
		t.Fatal(err)
	}
	// By mTLS, a jti: the client is the certificate's identity.
	mtls := e.w.HTTPClient(e.w.ClientCert(admintest.AllowedCN, admintest.AllowedID))
	resp, out = e.call(t, mtls, "", "POST", "/v1/revocations", `{"kind":"jti","value":"tok-2","issuer":"`+admintest.Issuer+`","reason":"rotated"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create by mTLS: %d %s", resp.StatusCode, out)
	}
	var byJTI admin.Revocation
	if err := json.Unmarshal(out, &byJTI); err != nil {
		t.Fatal(err)
	}

	raw := e.records(t, start)
	if len(raw) != 2 {
		t.Fatalf("%d records appended, want the 2 revocations'", len(raw))
	}
	for i, b := range raw {
		if l := leakedPiece(string(b), tok); l != "" {
			t.Fatalf("record %d repeats %q of the raw credential: %s", i, l, b)
		}
	}
	first, err := evidence.Unmarshal(raw[0])
	if err != nil {
		t.Fatal(err)
	}
	want := evidence.Revocation{ID: rev.ID, Kind: "fingerprint", Value: fp, Reason: "leaked in ticket INC-7: " + fp,
		ExpiresAt: evidence.At(*rev.ExpiresAt), Client: "token"}
	if first.Event != evidence.EventRevocation || first.Revocation != want || !first.Time.Equal(rev.CreatedAt) ||
		first.RequestID == "" || first.Decision != "" {
		t.Errorf("record of the revocation by credential:\n got %+v\nwant %+v", first, want)
	}
	if rev.Reason != want.Reason {
		t.Errorf("the stored reason is %q, want the credential named by its fingerprint", rev.Reason)
	}
	second, err := evidence.Unmarshal(raw[1])
	if err != nil {
		t.Fatal(err)
	}
	want = evidence.Revocation{ID: byJTI.ID, Kind: "jti", Value: "tok-2", Issuer: admintest.Issuer, Reason: "rotated", Client: admintest.AllowedID}
	if second.Revocation != want {
		t.Errorf("record of the jti revocation:\n got %+v\nwant %+v", second.Revocation, want)
	}

	// The next decision is denied as revoked, and recorded after it.
	if d := e.w.Decide(tok); d.Outcome != verdict.Deny || d.Credential.Reason != reason.Revoked || d.Evidence.Index != start+2 {
		t.Fatalf("after revocation: %s %s at %d", d.Outcome, d.Credential.Reason, d.Evidence.Index)
	}
	l, ok := e.w.App.Evidence.(*evidencelog.Log)
	if !ok {
		t.Fatalf("the evidence log is a %T", e.w.App.Evidence)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("trail verify: the log with revocation records does not verify: %v", err)
	}
	rc, err := l.Receipt(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := evidencelog.VerifyReceipt(rc, l.VerifierKey()); err != nil {
		t.Fatalf("the revocation record's receipt: %v", err)
	}

	// The credential's timeline: its use, the operator's revocation, the
	// refused use.
	x, err := trail.Open(ctx, filepath.Join(t.TempDir(), trail.File))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if res, err := trail.Sync(ctx, l, x); err != nil || res.Skipped != 0 {
		t.Fatalf("index: %+v, %v", res, err)
	}
	tl, err := x.Timeline(ctx, trail.Filter{Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range tl {
		got = append(got, u.Decision+u.Event)
	}
	if strings.Join(got, ",") != "allow,revocation,deny" {
		t.Fatalf("timeline %q, want allow, the revocation, deny", got)
	}
	if u := tl[1]; u.RevokedBy != "token" || u.RevocationID != rev.ID || u.RevocationReason != rev.Reason {
		t.Errorf("the timeline's revocation: %+v", u)
	}
	if !tl[2].WasRevoked {
		t.Errorf("the use after the revocation is not marked refused as revoked: %+v", tl[2])
	}
}

// When the evidence log refuses the revocation's record, the revocation is
// in force all the same; the answer is a 500 problem that says so, naming
// the revocation, so the operator neither believes it failed nor that it
// was recorded.
func TestRevocationWhenEvidenceFails(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	ctx := context.Background()
	c := e.w.HTTPClient()
	db, err := sqlitedb.Open(ctx, filepath.Join(e.w.App.Layout.Evidence, evidencelog.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fault BEFORE INSERT ON evidence_leaf
		BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`); err != nil {
		t.Fatal(err)
	}
	size := e.w.App.Evidence.Size()
	resp, out := e.call(t, c, "token", "POST", "/v1/revocations", `{"kind":"subject","value":"svc:reports","reason":"during the fault"}`)
	p := problem(t, resp, out)
	if resp.StatusCode != http.StatusInternalServerError || p.Code != admin.CodeEvidenceNotRecorded {
		t.Fatalf("create during the fault: %d %s, want 500 %s", resp.StatusCode, out, admin.CodeEvidenceNotRecorded)
	}
	resp, out = e.call(t, c, "token", "GET", "/v1/revocations", "")
	var list admin.RevocationList
	if err := json.Unmarshal(out, &list); err != nil || resp.StatusCode != http.StatusOK || len(list.Revocations) != 1 {
		t.Fatalf("the revocation was lost: %d %s %v", resp.StatusCode, out, err)
	}
	id := list.Revocations[0].ID
	if !strings.Contains(p.Detail, id) || !strings.Contains(p.Detail, "in force") || !strings.Contains(p.Detail, "evidence record") {
		t.Errorf("the problem does not say %s is in force but not recorded: %q", id, p.Detail)
	}
	if got := e.w.App.Evidence.Size(); got != size {
		t.Errorf("the log grew to %d records during the fault", got)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"revocation in force but not recorded as evidence"`) || !strings.Contains(logs, id) {
		t.Errorf("no error line names the unrecorded revocation:\n%s", logs)
	}
	// The client library reports it as the problem it is.
	cl, err := admin.NewClient(admin.ClientOptions{URL: e.url, Token: e.w.AdminToken, CAFile: e.w.ServerCAFile})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Revoke(ctx, admin.CreateRequest{Kind: "jti", Value: "j-9"})
	var pe *admin.Problem
	if !errors.As(err, &pe) || pe.Code != admin.CodeEvidenceNotRecorded || !strings.Contains(err.Error(), "in force") {
		t.Errorf("the client's error: %v", err)
	}
}
