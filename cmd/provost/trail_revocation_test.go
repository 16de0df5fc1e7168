package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// An operator's revocation (the admin API's path, admin.Revoker) is in the
// evidence log: trail verify verifies the log with it, the credential's
// timeline shows it between its uses, counting queries leave it out, the
// OCSF export skips it, JSON lines carry it, and its receipt verifies.
func TestTrailOperatorRevocation(t *testing.T) {
	tw := newTrailWorld(t)
	ctx := context.Background()
	// After the world's decisions, which its clock put up to 5 minutes
	// ahead.
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	a, err := app.Open(ctx, app.Options{ConfigFile: tw.cfg, DataDir: tw.data, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	req := admin.CreateRequest{Credential: tw.agent, Reason: "INC-7 copied token"}
	rev, err := admin.Revoker{App: a}.Create(ctx, &req, admin.Client{Name: "ops-admin", Method: "mtls"})
	if err != nil {
		t.Fatal(err)
	}
	revIndex := a.Evidence.Size() - 1
	d, err := a.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/tools/search", Authorization: "Bearer " + tw.agent,
		Peer: netip.MustParseAddr("10.30.1.5")})
	if err != nil || d.Outcome != "deny" || d.Credential.RevocationID != rev.ID {
		t.Fatalf("the use after the revocation: %+v, %v", d, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	if out := tw.ok(t, "", "verify"); !strings.HasPrefix(out, "verified 7 records") {
		t.Errorf("trail verify: %q", out)
	}
	rows := tableRows(t, tw.ok(t, "", "timeline", "--fingerprint", tw.agentFP), "TIME")
	if len(rows) != 4 {
		t.Fatalf("timeline: %d rows, want 2 uses, the revocation, the refused use:\n%s", len(rows), strings.Join(rows, "\n"))
	}
	if f := strings.Fields(rows[2]); len(f) < 2 || f[1] != "revocation" ||
		!strings.Contains(rows[2], "revoked by operator ops-admin, INC-7 copied token ("+rev.ID+")") {
		t.Errorf("the revocation's line: %q", rows[2])
	}
	if !strings.Contains(rows[3], " deny ") || !strings.Contains(rows[3], "refused: already revoked") {
		t.Errorf("the use after it: %q", rows[3])
	}
	var uses []struct {
		Event, Decision, RevokedBy, RevocationID string
		RevocationReason                         string `json:"revocation_reason"`
	}
	if err := json.Unmarshal([]byte(tw.ok(t, "", "timeline", "--fingerprint", tw.agentFP, "--json")), &uses); err != nil || len(uses) != 4 {
		t.Fatalf("timeline --json: %d uses, %v", len(uses), err)
	}
	if u := uses[2]; u.Event != "revocation" || u.Decision != "" || u.RevocationReason != "INC-7 copied token" {
		t.Errorf("timeline --json, the revocation: %+v", u)
	}
	show := tableRows(t, tw.ok(t, "", "show", "--fingerprint", tw.agentFP), "TIME")
	if len(show) != 4 || !strings.Contains(show[2], " revocation ") {
		t.Errorf("show --fingerprint:\n%s", strings.Join(show, "\n"))
	}
	if got := tableRows(t, tw.ok(t, "", "show", "--decision", "deny"), "TIME"); len(got) != 4 {
		t.Errorf("show --decision deny: %d rows, want the 4 denials", len(got))
	}
	var origins []struct{ Count int64 }
	if err := json.Unmarshal([]byte(tw.ok(t, "", "origins", "--fingerprint", tw.agentFP, "--json")), &origins); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range origins {
		n += o.Count
	}
	if n != 3 {
		t.Errorf("origins count %d uses, want 3 (the revocation is none)", n)
	}
	var report struct{ Total int64 }
	if err := json.Unmarshal([]byte(tw.ok(t, "", "report", "--json")), &report); err != nil || report.Total != 6 {
		t.Errorf("report: %d decisions (%v), want 6", report.Total, err)
	}

	jsonl := tw.ok(t, "", "export", "--fingerprint", tw.agentFP)
	if lines(jsonl)[2] == "" || !strings.Contains(lines(jsonl)[2], `"event":"revocation"`) || strings.Contains(jsonl, tw.agent) {
		t.Errorf("export jsonl:\n%s", jsonl)
	}
	ocsf := tw.ok(t, "", "export", "--format", "ocsf", "--fingerprint", tw.agentFP)
	if strings.Contains(ocsf, "ops-admin") || strings.Contains(ocsf, "INC-7") || len(lines(ocsf)) != 6 {
		t.Errorf("export ocsf: %d lines, want the 3 decisions' 6 events and nothing of the revocation:\n%s", len(lines(ocsf)), ocsf)
	}

	// Its receipt verifies with the log's key alone and says what it is.
	l, err := evidencelog.Open(ctx, app.LayoutOf(tw.data).Evidence, evidencelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Receipt(ctx, revIndex)
	key := l.VerifierKey()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rc)
	file := filepath.Join(t.TempDir(), "receipt.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runReceipt(t, "", "verify", "--key", key, file)
	if code != exitOK || !strings.Contains(out, "revocation "+rev.ID+` of fingerprint "`+tw.agentFP+`" by operator "ops-admin"`) {
		t.Errorf("receipt verify: exit %d %q %s", code, out, stderr)
	}
}
