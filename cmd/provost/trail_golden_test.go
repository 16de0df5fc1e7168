package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/reason"
)

// The golden world: fixed times and fingerprints, so every table is the
// same on every run.
var goldenT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// goldenNow is "now" for the golden runs: an hour after the last record.
var goldenNow = goldenT0.Add(5*24*time.Hour + 4*time.Hour)

// goldenFP is a well-formed fingerprint made from seed; variant changes its
// last byte only, so the two share all but their last characters.
func goldenFP(seed string, variant byte) string {
	sum := sha256.Sum256([]byte(seed))
	sum[31] ^= variant
	return "fp1:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	ciFP     = goldenFP("ci", 0)
	agentFP  = goldenFP("agent", 0)
	shadowFP = goldenFP("shadow", 0)
	dupAFP   = goldenFP("dup", 0)
	dupBFP   = goldenFP("dup", 1)
)

const (
	ciWorkload    = "spiffe://demo.provost.test/ci/deployer"
	agentWorkload = "spiffe://demo.provost.test/agents/support-bot"
)

// goldenRecord is one record of the golden world.
type goldenRecord struct {
	at                       time.Duration
	fp, sub, client, network string
	workload, binding        string
	decision                 decision.Outcome
	method, path             string
	reasons                  []reason.Code
	edit                     func(*evidence.Record)
}

func (g goldenRecord) record() evidence.Record {
	prov := decision.Verified
	if g.decision != decision.Allow {
		prov = decision.Violated
	}
	r := evidence.Record{
		Version: evidence.Version, Time: evidence.At(goldenT0.Add(g.at)), RequestID: fmt.Sprintf("req-%d", g.at/time.Minute),
		Request: evidence.Request{Method: g.method, Path: g.path}, Decision: g.decision, Provenance: prov, Mode: "enforce",
		Binding: g.binding,
		Credential: evidence.Credential{Verdict: credential.Accepted, Reason: reason.OK, Kind: credential.KindJWT, Fingerprint: g.fp,
			Issuer: evidence.Issuer{Issuer: "https://issuer.demo.provost.test", Subject: g.sub}},
		Signals: evidence.Signals{Network: evidence.Network{Peer: g.client, Origin: g.network}},
		Origin:  evidence.Origin{Workload: g.workload, Network: g.network},
	}
	if g.workload != "" {
		r.Signals.Workload = evidence.Workload{Present: true, ID: g.workload, Source: "mtls"}
	}
	for _, c := range g.reasons {
		r.Reasons = append(r.Reasons, evidence.Reason{Code: c, Message: "because " + string(c)})
	}
	if g.edit != nil {
		g.edit(&r)
	}
	return r
}

// goldenRecords: a CI credential allowed, then used from an unapproved
// network (denied, revoked), then refused as revoked; an agent credential
// allowed, then stepped up five days later; a shadow-automation token; two
// credentials whose fingerprints share all but their last characters.
var goldenRecords = []goldenRecord{
	{at: 0, fp: ciFP, sub: "repo:acme/deploy:ref:refs/heads/main", client: "10.0.0.5", network: "10.0.0.0/24", workload: ciWorkload,
		binding: "ci-deploy", decision: decision.Allow, method: "POST", path: "/v1/deploy", reasons: []reason.Code{"provenance_verified"}},
	{at: time.Hour, fp: ciFP, sub: "repo:acme/deploy:ref:refs/heads/main", client: "203.0.113.9", network: "203.0.113.0/24",
		binding: "ci-deploy", decision: decision.Deny, method: "POST", path: "/v1/deploy", reasons: []reason.Code{"network_not_approved"},
		edit: func(r *evidence.Record) {
			r.Actions, r.RevocationID = []decision.Action{decision.Alert, decision.Revoke}, "rev-0001"
			r.Tags = []evidence.Tag{{Framework: "OWASP Non-Human Identity Top 10 (2025)", ID: "NHI2:2025", Name: "Secret Leakage"},
				{Framework: "NIST CSF 2.0", ID: "DE.CM-01", Name: "Networks and network services are monitored"}}
		}},
	{at: time.Hour + 5*time.Minute, fp: ciFP, sub: "repo:acme/deploy:ref:refs/heads/main", client: "203.0.113.9", network: "203.0.113.0/24",
		decision: decision.Deny, method: "POST", path: "/v1/deploy", reasons: []reason.Code{"revoked"},
		edit: func(r *evidence.Record) {
			r.Credential.Verdict, r.Credential.Reason, r.Credential.RevocationID = credential.Rejected, reason.Revoked, "rev-0001"
			r.Provenance = decision.Insufficient
		}},
	{at: 2 * time.Hour, fp: agentFP, sub: "agent:support-bot", client: "10.30.1.5", network: "10.30.1.0/24", workload: agentWorkload,
		binding: "support-agent", decision: decision.Allow, method: "GET", path: "/v1/tools/search", reasons: []reason.Code{"provenance_verified"}},
	{at: 5 * 24 * time.Hour, fp: agentFP, sub: "agent:support-bot", client: "10.30.1.5", network: "10.30.1.0/24", workload: agentWorkload,
		binding: "support-agent", decision: decision.StepUp, method: "GET", path: "/v1/customers", reasons: []reason.Code{"posture_missing"}},
	{at: 5*24*time.Hour + time.Hour, fp: shadowFP, sub: "svc:nightly-cron", client: "10.40.1.1", network: "10.40.1.0/24",
		decision: decision.Deny, method: "GET", path: "/v1/things", reasons: []reason.Code{"shadow_automation"},
		edit: func(r *evidence.Record) {
			r.Tags = []evidence.Tag{{Framework: "OWASP Non-Human Identity Top 10 (2025)", ID: "NHI2:2025", Name: "Secret Leakage"}}
		}},
	{at: 5*24*time.Hour + 2*time.Hour, fp: dupAFP, sub: "svc:dup-a", client: "10.50.0.1", network: "10.50.0.0/24",
		binding: "dups", decision: decision.Allow, method: "GET", path: "/v1/x", reasons: []reason.Code{"provenance_verified"}},
	{at: 5*24*time.Hour + 3*time.Hour, fp: dupBFP, sub: "svc:dup-b", client: "10.50.0.2", network: "10.50.0.0/24",
		binding: "dups", decision: decision.Allow, method: "GET", path: "/v1/x", reasons: []reason.Code{"provenance_verified"}},
}

// goldenDataDir is a data directory whose evidence log holds recs.
func goldenDataDir(t *testing.T, recs []goldenRecord) string {
	t.Helper()
	dir := t.TempDir()
	l, err := evidencelog.Open(t.Context(), app.LayoutOf(dir).Evidence, evidencelog.Options{Name: "provost.evidence/golden"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendGolden(t, l, recs)
	return dir
}

func appendGolden(t *testing.T, l *evidencelog.Log, recs []goldenRecord) {
	t.Helper()
	for _, g := range recs {
		b, err := g.record().Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// goldenEnv runs at goldenNow and draws no progress.
var goldenEnv = trailEnv{now: func() time.Time { return goldenNow }, terminal: func(io.Writer) bool { return false }}

func runTrailEnv(e trailEnv, dir, stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	args = append(args[:1:1], append([]string{"--data-dir", dir}, args[1:]...)...)
	code := e.cmd(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// short is the prefix of fp the tables show.
func short(fp string) string { return fp[:16] }

// TestTrailGolden compares each command's exit code, standard output and
// standard error with testdata/trail/NAME.golden (go test -update rewrites
// them; read the diff before accepting it).
func TestTrailGolden(t *testing.T) {
	dir := goldenDataDir(t, goldenRecords)
	cases := []struct {
		name string
		args []string
	}{
		// Tables: headers, fingerprints a --fingerprint takes back (the two
		// that share their first 16 characters in full), empty cells as -.
		{"show", []string{"show"}},
		{"show-window", []string{"show", "--since", "2026-03-01T13:00:00Z", "--until", "2026-03-01T14:00:00Z"}},
		{"show-since-duration", []string{"show", "--since", "3h30m"}},
		{"show-since-days", []string{"show", "--since", "1d", "--decision", "deny"}},
		{"show-json", []string{"show", "--decision", "step_up", "--json"}},
		{"show-empty", []string{"show", "--until", "2000-01-01T00:00:00Z"}},
		{"show-empty-json", []string{"show", "--until", "2000-01-01T00:00:00Z", "--json"}},
		// Timelines: the revocation, the refusal as revoked and the step-up
		// are marked; a prefix as the tables show it names the credential.
		{"timeline-ci", []string{"timeline", "--fingerprint", short(ciFP)}},
		{"timeline-agent", []string{"timeline", "--fingerprint", agentFP}},
		{"timeline-agent-since", []string{"timeline", "--fingerprint", agentFP, "--since", "2026-03-02T00:00:00Z"}},
		{"timeline-json", []string{"timeline", "--fingerprint", short(ciFP), "--json"}},
		{"timeline-never-used", []string{"timeline", "--fingerprint", goldenFP("never", 0)}},
		{"origins", []string{"origins"}},
		{"origins-window", []string{"origins", "--until", "2026-03-01T13:30:00Z"}},
		{"origins-json", []string{"origins", "--fingerprint", short(agentFP), "--json"}},
		{"blast-radius", []string{"blast-radius", "--fingerprint", short(ciFP)}},
		{"blast-radius-workload-json", []string{"blast-radius", "--workload", agentWorkload, "--json"}},
		{"blast-radius-since", []string{"blast-radius", "--workload", agentWorkload, "--since", "2026-03-02T00:00:00Z"}},
		// Reports: plurals, empty days left out.
		{"report", []string{"report"}},
		{"report-one-decision", []string{"report", "--until", "2026-03-01T12:30:00Z"}},
		{"report-json", []string{"report", "--json"}},
		{"export-jsonl-window", []string{"export", "--since", "2026-03-01T13:00:00Z", "--until", "2026-03-01T14:00:00Z"}},
		{"export-json", []string{"export", "--json", "--decision", "step_up"}},
		{"export-ocsf", []string{"export", "--format", "ocsf", "--fingerprint", short(agentFP), "--until", "2026-03-02T00:00:00Z"}},
		{"export-ocsf-6003", []string{"export", "--format", "ocsf", "--ocsf-classes", "6003", "--decision", "step_up"}},
		// Fingerprint prefixes: ambiguous, unknown, too short.
		{"prefix-ambiguous", []string{"show", "--fingerprint", short(dupAFP)}},
		{"prefix-unknown", []string{"timeline", "--fingerprint", "fp1:zzzzzzzz"}},
		{"prefix-too-short", []string{"show", "--fingerprint", "fp1:ab"}},
		{"prefix-follow", []string{"export", "--follow", "--fingerprint", short(ciFP)}},
		// Times: clear errors naming the bad value.
		{"since-bad", []string{"origins", "--since", "yesterday"}},
		{"until-bad", []string{"blast-radius", "--workload", agentWorkload, "--until", "2026-13-01"}},
		{"since-after-until", []string{"show", "--since", "2026-03-02T00:00:00Z", "--until", "2026-03-01T00:00:00Z"}},
		{"follow-until", []string{"export", "--follow", "--until", "1h"}},
		{"help-timeline", []string{"timeline", "-h"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runTrailEnv(goldenEnv, dir, "", c.args...)
			got := fmt.Sprintf("$ provost trail %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(c.args, " "), code, out, errOut)
			golden.Check(t, filepath.Join("testdata", "trail", c.name+".golden"), []byte(got), "")
		})
	}
}

// Each table's first line is its header, and every fingerprint a table
// shows is taken back by --fingerprint.
func TestTrailTablesRoundTrip(t *testing.T) {
	dir := goldenDataDir(t, goldenRecords)
	for _, sub := range []string{"show", "origins"} {
		code, out, errOut := runTrailEnv(goldenEnv, dir, "", sub)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", sub, code, errOut)
		}
		rows := lines(out)
		col := 2 // show: TIME DECISION FINGERPRINT
		if sub == "origins" {
			col = 0
		}
		if header := strings.Fields(rows[0]); header[col] != "FINGERPRINT" {
			t.Fatalf("%s: header %q", sub, rows[0])
		}
		for _, row := range rows[1:] {
			shown := strings.Fields(row)[col]
			code, tl, errOut := runTrailEnv(goldenEnv, dir, "", "timeline", "--fingerprint", shown, "--json")
			var uses []json.RawMessage
			if code != exitOK || json.Unmarshal([]byte(tl), &uses) != nil || len(uses) == 0 {
				t.Errorf("%s shows %q, which timeline --fingerprint does not take: exit %d: %s", sub, shown, code, errOut)
			}
		}
	}
}

// Every subcommand answers --json with JSON of the documented shape.
func TestTrailJSONShapes(t *testing.T) {
	dir := goldenDataDir(t, goldenRecords)
	shapes := []struct {
		args []string
		keys []string // keys of the first object (or of the object)
	}{
		{[]string{"show", "--json"}, []string{"index", "record"}},
		{[]string{"timeline", "--fingerprint", ciFP, "--json"}, []string{"index", "time", "decision", "provenance", "new_origin", "revoked", "step_up", "was_revoked"}},
		{[]string{"origins", "--json"}, []string{"fingerprint", "first", "last", "count", "allowed", "denied"}},
		{[]string{"blast-radius", "--fingerprint", ciFP, "--json"}, []string{"method", "path", "count", "allowed", "stepped_up", "denied", "credentials", "first", "last"}},
		{[]string{"report", "--json"}, []string{"from", "to", "total", "allow", "step_up", "deny", "findings", "decisions_over_time"}},
		{[]string{"export", "--json"}, []string{"v", "time", "decision", "credential"}},
		{[]string{"verify", "--json"}, []string{"verified", "log", "records", "verifier_key", "checkpoint"}},
	}
	for _, s := range shapes {
		code, out, errOut := runTrailEnv(goldenEnv, dir, "", s.args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", s.args, code, errOut)
			continue
		}
		first := []byte(out)
		if s.args[0] == "export" {
			first = []byte(lines(out)[0])
		}
		var arr []map[string]json.RawMessage
		var obj map[string]json.RawMessage
		if json.Unmarshal(first, &arr) == nil && len(arr) > 0 {
			obj = arr[0]
		} else if err := json.Unmarshal(first, &obj); err != nil {
			t.Errorf("%v: not JSON: %v\n%s", s.args, err, out)
			continue
		}
		for _, k := range s.keys {
			if _, ok := obj[k]; !ok {
				t.Errorf("%v: no %q in %s", s.args, k, first)
			}
		}
	}
}

// The examples in docs/evidence.md are this world's output, quoted
// verbatim.
func TestTrailDocExamples(t *testing.T) {
	dir := goldenDataDir(t, goldenRecords)
	examples := []struct {
		name string
		args []string
	}{
		{"doc-timeline", []string{"timeline", "--fingerprint", short(ciFP)}},
		{"doc-report", []string{"report", "--since", "2026-03-01T00:00:00Z"}},
	}
	for _, e := range examples {
		code, out, errOut := runTrailEnv(goldenEnv, dir, "", e.args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", e.args, code, errOut)
		}
		golden.Check(t, filepath.Join("testdata", "trail", e.name+".txt"), []byte("$ provost trail "+strings.Join(e.args, " ")+"\n"+out), "")
	}
	for _, e := range examples {
		golden.Quoted(t, "../../docs/evidence.md", filepath.Join("testdata", "trail", e.name+".txt"))
	}
}
