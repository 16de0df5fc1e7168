package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
)

// trailWorld is a data directory whose evidence log holds what the demo's
// scenarios did, and the credentials they used.
type trailWorld struct {
	cfg, data           string
	ci, agent, shadow   string // raw tokens
	ciFP, agentFP, shFP string
}

type trailClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *trailClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *trailClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTrailWorld drives a real engine on the demo world through: an allowed
// CI request, the same token from an unapproved host, an agent token from
// its runtime then copied elsewhere, and a shadow-automation token.
func newTrailWorld(t *testing.T) *trailWorld {
	t.Helper()
	w, err := provosttest.NewWorld(t.TempDir(), "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	tw := &trailWorld{cfg: w.ConfigFile(), data: t.TempDir()}
	ctx := context.Background()
	clock := &trailClock{t: time.Now().UTC().Truncate(time.Second)}
	a, err := app.Open(ctx, app.Options{ConfigFile: tw.cfg, DataDir: tw.data, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if tw.ci, err = w.Token("repo:acme/deploy:ref:refs/heads/main", time.Hour, map[string]any{"repository": "acme/deploy"}); err != nil {
		t.Fatal(err)
	}
	if tw.agent, err = w.Token("agent:support-bot", time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	if tw.shadow, err = w.Token("svc:nightly-cron", time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	svid, _, err := w.SVID("/agents/support-bot")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		method, path, tok, peer string
		certs                   []*x509.Certificate
		want                    string
	}{
		{"POST", "/v1/deploy", tw.ci, "127.0.0.20", nil, "allow"},
		{"POST", "/v1/deploy", tw.ci, "127.0.0.66", nil, "deny"},
		{"GET", "/v1/tools/search", tw.agent, "10.30.1.5", []*x509.Certificate{svid}, "allow"},
		{"GET", "/v1/tools/search?q=secret", tw.agent, "203.0.113.50", nil, "deny"},
		{"GET", "/v1/things", tw.shadow, "10.40.1.1", nil, "deny"},
	}
	for i, s := range steps {
		d, err := a.Engine.Check(ctx, &provost.Request{Method: s.method, Target: s.path, Authorization: "Bearer " + s.tok,
			Peer: netip.MustParseAddr(s.peer), ClientCerts: s.certs})
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Outcome) != s.want || d.Evidence == nil || d.Evidence.Index != int64(i) {
			t.Fatalf("step %d: %s %v, evidence %+v; want %s", i, d.Outcome, d.Reasons, d.Evidence, s.want)
		}
		clock.add(time.Minute)
	}
	tw.ciFP, tw.agentFP, tw.shFP = a.Fingerprint(tw.ci), a.Fingerprint(tw.agent), a.Fingerprint(tw.shadow)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return tw
}

func (tw *trailWorld) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args[:1:1], append([]string{"--config", tw.cfg, "--data-dir", tw.data}, args[1:]...)...)
	code := cmdTrail(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func (tw *trailWorld) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := tw.run(t, stdin, args...)
	if code != exitOK {
		t.Fatalf("trail %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// tableRows is a table's rows without its header, which it checks; none
// for empty output.
func tableRows(t *testing.T, s, firstColumn string) []string {
	t.Helper()
	if s == "" {
		return nil
	}
	all := lines(s)
	if !strings.HasPrefix(all[0], firstColumn+" ") {
		t.Fatalf("no header starting with %s:\n%s", firstColumn, s)
	}
	return all[1:]
}

func TestTrailShow(t *testing.T) {
	tw := newTrailWorld(t)
	// By fingerprint: the CI token's two uses, in order.
	got := tableRows(t, tw.ok(t, "", "show", "--fingerprint", tw.ciFP), "TIME")
	if len(got) != 2 || !strings.Contains(got[0], " allow ") || !strings.Contains(got[0], "127.0.0.20") ||
		!strings.Contains(got[1], " deny ") || !strings.Contains(got[1], "127.0.0.66") || !strings.Contains(got[1], "network_not_approved") ||
		!strings.Contains(got[0], "repo:acme/deploy:ref:refs/heads/main") || !strings.Contains(got[0], "ci-deploy") {
		t.Errorf("show --fingerprint ci:\n%s", strings.Join(got, "\n"))
	}
	// By the raw credential on stdin: the agent's two uses; the credential is never printed.
	out := tw.ok(t, tw.agent+"\n", "show", "--credential-stdin", "--json")
	if strings.Contains(out, tw.agent) {
		t.Fatal("show printed the raw credential")
	}
	var es []struct {
		Index  int64           `json:"index"`
		Record evidence.Record `json:"record"`
	}
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Index != 2 || es[1].Index != 3 || es[1].Record.Credential.Fingerprint != tw.agentFP ||
		es[0].Record.Origin.Workload != "spiffe://demo.provost.test/agents/support-bot" || es[1].Record.Request.Path != "/v1/tools/search" ||
		!slices.ContainsFunc(es[1].Record.Reasons, func(r evidence.Reason) bool { return r.Code == "copied_credential" }) {
		t.Errorf("show --credential-stdin: %+v", es)
	}
	filters := []struct {
		args []string
		want []string // substrings, one per line
	}{
		{[]string{"--decision", "deny"}, []string{"127.0.0.66", "203.0.113.50", "shadow_automation"}},
		{[]string{"--network", "203.0.113.0/24"}, []string{"copied_credential"}},
		{[]string{"--network", "127.0.0.20"}, []string{"allow"}},
		{[]string{"--reason", "shadow_automation"}, []string{"svc:nightly-cron"}},
		{[]string{"--workload", "spiffe://demo.provost.test/agents/support-bot"}, []string{"10.30.1.5"}},
		{[]string{"--binding", "support-agent", "--limit", "1"}, []string{"10.30.1.5"}},
		{[]string{"--since", "1h", "--decision", "allow"}, []string{"127.0.0.20", "10.30.1.5"}},
		{[]string{"--until", "2000-01-01T00:00:00Z"}, nil},
	}
	for _, f := range filters {
		out := tw.ok(t, "", append([]string{"show"}, f.args...)...)
		got := tableRows(t, out, "TIME")
		if len(got) != len(f.want) {
			t.Errorf("show %v: %d lines, want %d:\n%s", f.args, len(got), len(f.want), out)
			continue
		}
		for i, w := range f.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("show %v: line %d lacks %q: %s", f.args, i, w, got[i])
			}
		}
	}
}

func TestTrailTimelineOriginsBlastRadius(t *testing.T) {
	tw := newTrailWorld(t)
	var uses []struct {
		Client    string   `json:"client"`
		Decision  string   `json:"decision"`
		Workload  string   `json:"workload"`
		Reasons   []string `json:"reasons"`
		NewOrigin bool     `json:"new_origin"`
	}
	if err := json.Unmarshal([]byte(tw.ok(t, "", "timeline", "--fingerprint", tw.agentFP, "--json")), &uses); err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 || uses[0].Client != "10.30.1.5" || uses[0].Decision != "allow" || !uses[0].NewOrigin ||
		uses[1].Client != "203.0.113.50" || uses[1].Decision != "deny" || !uses[1].NewOrigin || !slices.Contains(uses[1].Reasons, "copied_credential") {
		t.Errorf("timeline: %+v", uses)
	}
	if text := tw.ok(t, tw.agent, "timeline", "--credential-stdin"); !strings.Contains(text, "new origin") || len(tableRows(t, text, "TIME")) != 2 {
		t.Errorf("timeline text:\n%s", text)
	}

	var origins []struct {
		Fingerprint string   `json:"fingerprint"`
		Network     string   `json:"network"`
		Clients     []string `json:"clients"`
		Count       int64    `json:"count"`
		Allowed     int64    `json:"allowed"`
		Denied      int64    `json:"denied"`
	}
	if err := json.Unmarshal([]byte(tw.ok(t, "", "origins", "--fingerprint", tw.ciFP, "--json")), &origins); err != nil {
		t.Fatal(err)
	}
	// Both CI hosts are in 127.0.0.0/24: one origin, two addresses.
	if len(origins) != 1 || origins[0].Network != "127.0.0.0/24" || !slices.Equal(origins[0].Clients, []string{"127.0.0.20", "127.0.0.66"}) ||
		origins[0].Count != 2 || origins[0].Allowed != 1 || origins[0].Denied != 1 {
		t.Errorf("ci origins: %+v", origins)
	}
	if err := json.Unmarshal([]byte(tw.ok(t, "", "origins", "--json")), &origins); err != nil {
		t.Fatal(err)
	}
	perFP := map[string]int{}
	for _, o := range origins {
		perFP[o.Fingerprint]++
	}
	if len(origins) != 4 || perFP[tw.ciFP] != 1 || perFP[tw.agentFP] != 2 || perFP[tw.shFP] != 1 {
		t.Errorf("all origins: %+v", origins)
	}

	br := tw.ok(t, "", "blast-radius", "--fingerprint", tw.ciFP)
	if got := tableRows(t, br, "METHOD"); len(got) != 1 || !slices.Equal(strings.Fields(got[0])[:7], []string{"POST", "/v1/deploy", "2", "1", "0", "1", "1"}) {
		t.Errorf("blast-radius ci:\n%s", br)
	}
	var targets []struct {
		Method, Path string
		Count        int64 `json:"count"`
		Allowed      int64 `json:"allowed"`
	}
	if err := json.Unmarshal([]byte(tw.ok(t, "", "blast-radius", "--workload", "spiffe://demo.provost.test/agents/support-bot", "--json")), &targets); err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Path != "/v1/tools/search" || targets[0].Count != 1 || targets[0].Allowed != 1 {
		t.Errorf("blast-radius workload: %+v", targets)
	}
}

// ocsfRequiredFields mirrors internal/evidence's checker: the attributes
// the OCSF 1.7.0 API Activity class requires, with their JSON types.
var ocsfRequiredFields = map[string]string{
	"activity_id": "number", "category_uid": "number", "class_uid": "number", "severity_id": "number",
	"time": "number", "type_uid": "number", "metadata": "object", "metadata.product": "object",
	"metadata.version": "string", "actor": "object", "api": "object", "api.operation": "string", "src_endpoint": "object",
}

func jsonType(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	case map[string]any:
		return "object"
	}
	return "other"
}

func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func TestTrailExport(t *testing.T) {
	tw := newTrailWorld(t)
	jsonl := lines(tw.ok(t, "", "export", "--format", "jsonl"))
	l, err := evidencelog.Open(context.Background(), filepath.Join(tw.data, "evidence"), evidencelog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	logged, err := l.Entries(context.Background(), 0, 100)
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(jsonl) != 5 || len(logged) != 5 {
		t.Fatalf("export: %d lines, log: %d records", len(jsonl), len(logged))
	}
	for i := range jsonl {
		if jsonl[i] != string(logged[i]) {
			t.Errorf("export line %d is not the log's record %d", i, i)
		}
	}
	if got := lines(tw.ok(t, "", "export", "--format", "jsonl", "--fingerprint", tw.ciFP)); len(got) != 2 || got[1] != string(logged[1]) {
		t.Errorf("filtered export: %q", got)
	}

	// OCSF: per record, its Authentication event (3002), then its API
	// Activity event (6003); every record of this world names a credential.
	ocsf := lines(tw.ok(t, "", "export", "--format", "ocsf"))
	if len(ocsf) != 10 {
		t.Fatalf("ocsf: %d lines, want 2 per record", len(ocsf))
	}
	for i, line := range ocsf {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("ocsf line %d: %v", i, err)
		}
		required, class, category := ocsfRequiredFields, float64(6003), float64(6)
		if i%2 == 0 {
			required, class, category = ocsfAuthRequiredFields, 3002, 3
		}
		for path, typ := range required {
			v, ok := lookup(ev, path)
			if !ok || jsonType(v) != typ {
				t.Errorf("ocsf line %d: %s is %v (%T), want a %s", i, path, v, v, typ)
			}
		}
		if ev["class_uid"] != class || ev["category_uid"] != category {
			t.Errorf("ocsf line %d: class %v category %v, want %v and %v", i, ev["class_uid"], ev["category_uid"], class, category)
		}
		if strings.Contains(line, tw.ci) || strings.Contains(line, tw.agent) || strings.Contains(line, "q=secret") {
			t.Errorf("ocsf line %d holds a credential or a query", i)
		}
	}
	if ip, _ := lookup(mustJSON(t, ocsf[7]), "src_endpoint.ip"); ip != "203.0.113.50" {
		t.Errorf("ocsf line 7: src_endpoint.ip %v", ip)
	}
	// The copied agent token: its credential authenticated (3002 Success)
	// while the request was denied (6003 Failure).
	if auth, api := mustJSON(t, ocsf[6]), mustJSON(t, ocsf[7]); auth["status_id"] != float64(1) || api["status_id"] != float64(2) {
		t.Errorf("copied token: 3002 status %v, 6003 status %v", auth["status_id"], api["status_id"])
	}
	if got := lines(tw.ok(t, "", "export", "--format", "ocsf", "--ocsf-classes", "6003")); len(got) != 5 {
		t.Errorf("--ocsf-classes 6003: %d lines", len(got))
	}
}

// ocsfAuthRequiredFields mirrors internal/evidence's checker: the
// attributes the OCSF 1.7.0 Authentication class requires (and status_id),
// with their JSON types.
var ocsfAuthRequiredFields = map[string]string{
	"activity_id": "number", "category_uid": "number", "class_uid": "number", "severity_id": "number", "status_id": "number",
	"time": "number", "type_uid": "number", "metadata": "object", "metadata.product": "object", "metadata.version": "string",
	"user": "object", "service": "object",
}

func mustJSON(t *testing.T, s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrailReport(t *testing.T) {
	tw := newTrailWorld(t)
	var nhi []string
	for _, line := range lines(tw.ok(t, "", "export")) {
		r, err := evidence.Unmarshal([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range r.Tags {
			if strings.HasPrefix(tag.ID, "NHI") && !slices.Contains(nhi, tag.ID) {
				nhi = append(nhi, tag.ID)
			}
		}
	}
	if len(nhi) == 0 {
		t.Fatal("the scenarios produced no OWASP NHI tag")
	}
	html := tw.ok(t, "", "report", "--format", "html")
	for _, want := range append([]string{"<svg", "5 decisions, 2 allowed, 0 stepped up, 3 denied", "OWASP Non-Human Identity Top 10"}, nhi...) {
		if !strings.Contains(html, want) {
			t.Errorf("html report lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && !strings.Contains(html, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("html report has a script or an external resource")
	}
	md := tw.ok(t, "", "report", "--format", "markdown", "--since", "2000-01-01T00:00:00Z")
	for _, want := range append([]string{"## Decisions over time", "| from | allow | step_up | deny |"}, nhi...) {
		if !strings.Contains(md, want) {
			t.Errorf("markdown report lacks %q", want)
		}
	}
}

func TestTrailUsage(t *testing.T) {
	tw := newTrailWorld(t)
	noSecret := t.TempDir()
	tests := []struct {
		name string
		args []string
		in   string
		code int
		want string
	}{
		{"no subcommand", nil, "", exitUsage, "usage: provost trail"},
		{"unknown", []string{"frobnicate"}, "", exitUsage, `unknown command "frobnicate"`},
		{"timeline needs a credential", []string{"timeline"}, "", exitUsage, "name the credential"},
		{"blast radius needs one scope", []string{"blast-radius", "--fingerprint", "x", "--workload", "w"}, "", exitUsage, "not a fingerprint"},
		{"raw credential as fingerprint", []string{"show", "--fingerprint", "sekrit-token"}, "", exitUsage, "--credential-stdin"},
		{"bad network", []string{"show", "--network", "10.0.0.0/40"}, "", exitUsage, "network"},
		{"bad since", []string{"show", "--since", "yesterday"}, "", exitUsage, "--since"},
		{"bad format", []string{"export", "--format", "csv"}, "", exitUsage, "jsonl or ocsf"},
		{"bad decision", []string{"show", "--decision", "maybe"}, "", exitUsage, "--decision"},
		{"empty stdin", []string{"show", "--credential-stdin"}, "", exitUsage, "standard input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var out, errOut string
			if tt.args == nil || tt.args[0] == "frobnicate" {
				var o, e bytes.Buffer
				code = cmdTrail(context.Background(), tt.args, strings.NewReader(tt.in), &o, &e)
				out, errOut = o.String(), e.String()
			} else {
				code, out, errOut = tw.run(t, tt.in, tt.args...)
			}
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q (stdout %q)", code, errOut, tt.code, tt.want, out)
			}
			if strings.Contains(errOut+out, "sekrit-token") {
				t.Error("a raw credential was echoed")
			}
		})
	}
	// A data directory without a server secret: no secret is created.
	var o, e bytes.Buffer
	code := cmdTrail(context.Background(), []string{"show", "--data-dir", noSecret, "--credential-stdin"}, strings.NewReader(tw.ci), &o, &e)
	if code != exitUsage || !strings.Contains(e.String(), "no server secret") {
		t.Errorf("no secret: exit %d, %s", code, e.String())
	}
	if entries, _ := os.ReadDir(noSecret); len(entries) != 0 {
		t.Errorf("the data directory gained %d files", len(entries))
	}
	// A data directory without a log.
	code = cmdTrail(context.Background(), []string{"origins", "--data-dir", noSecret}, strings.NewReader(""), &o, &e)
	if code != exitFail || !strings.Contains(e.String(), "no evidence log") {
		t.Errorf("no log: exit %d, %s", code, e.String())
	}
}
