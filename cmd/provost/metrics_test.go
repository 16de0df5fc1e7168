package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/load"
	"github.com/provost-dev/provost/internal/provosttest"
)

// The monitoring files in deploy/ that name Provost's metrics.
const (
	dashboardFile = "../../deploy/grafana/provost-dashboard.json"
	alertsFile    = "../../deploy/prometheus/alerts.yaml"
)

// metricsServer is a running `provost serve` with the check API, Envoy
// ext_authz over gRPC and the admin API on loopback ports.
type metricsServer struct {
	w                    *provosttest.World
	api, extAuthz, admin string // addresses
	adminToken           string
	stop                 func()
}

func startMetricsServer(t *testing.T) *metricsServer {
	t.Helper()
	dir := t.TempDir()
	w, err := provosttest.NewWorld(dir, "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	s := &metricsServer{w: w, adminToken: "admin-token-for-this-test-only-metrics-0123"}
	sum := sha256.Sum256([]byte(s.adminToken))
	f, err := os.OpenFile(w.ConfigFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "grpc: {listen: 127.0.0.1:0}\nadmin: {listen: 127.0.0.1:0, token_sha256: "+hex.EncodeToString(sum[:])+"}\n")
	f.Close()

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", w.ConfigFile(), "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	addrs := map[string]string{}
	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- bytes.Clone(sc.Bytes())
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for len(addrs) < 3 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("provost serve ended early: %d", <-done)
			}
			var m map[string]any
			json.Unmarshal(line, &m)
			if msg, _ := m["msg"].(string); strings.HasSuffix(msg, "listening") {
				addrs[msg], _ = m["addr"].(string)
			}
		case <-deadline:
			cancel()
			t.Fatalf("listeners seen: %v", addrs)
		}
	}
	go func() {
		for range lines {
		}
	}()
	s.api, s.extAuthz, s.admin = addrs["listening"], addrs["ext_authz listening"], addrs["admin listening"]
	if s.api == "" || s.extAuthz == "" || s.admin == "" {
		cancel()
		t.Fatalf("listeners: %v", addrs)
	}
	s.stop = func() {
		cancel()
		select {
		case c := <-done:
			if c != exitOK {
				t.Errorf("serve exited %d", c)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(s.stop)
	return s
}

// scrape reads the admin API's /metrics.
func (s *metricsServer) scrape(t *testing.T) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	return body
}

// decided is what one transport answered: the outcome and reason codes.
type decided struct {
	transport, outcome string
	reasons            []string
}

// checkAPI asks POST /v1/check.
func (s *metricsServer) checkAPI(t *testing.T, tok, peer string) decided {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"method": "GET", "target": "/r", "authorization": "Bearer " + tok, "peer": peer})
	resp, err := http.Post("http://"+s.api+"/v1/check", "application/json", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Decision string `json:"decision"`
		Reasons  []struct {
			Code string `json:"code"`
		} `json:"reasons"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Decision == "" {
		t.Fatalf("check API: %d %v %+v", resp.StatusCode, err, a)
	}
	d := decided{transport: "check_api", outcome: a.Decision}
	for _, r := range a.Reasons {
		d.reasons = append(d.reasons, r.Code)
	}
	return d
}

// forwardAuth asks /v1/forward-auth as nginx does (from a trusted proxy),
// for a client at clientIP.
func (s *metricsServer) forwardAuth(t *testing.T, tok, clientIP string) decided {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+"/v1/forward-auth", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/r")
	req.Header.Set("X-Forwarded-For", clientIP)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := decided{transport: "forward_auth", outcome: resp.Header.Get("X-Provost-Decision"), reasons: splitCodes(resp.Header.Get("X-Provost-Reasons"))}
	if d.outcome == "" {
		t.Fatalf("forward-auth: %d %v", resp.StatusCode, resp.Header)
	}
	return d
}

// extAuthzCheck asks Envoy's Authorization/Check for a client at peer.
func (s *metricsServer) extAuthzCheck(t *testing.T, authz authv3.AuthorizationClient, tok, peer string) decided {
	t.Helper()
	resp, err := authz.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: peer, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 1234}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/r",
			Headers: map[string]string{"authorization": "Bearer " + tok}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	headers := resp.GetOkResponse().GetHeaders()
	if resp.GetStatus().GetCode() != 0 {
		headers = resp.GetDeniedResponse().GetHeaders()
	}
	d := decided{transport: "ext_authz"}
	for _, h := range headers {
		switch strings.ToLower(h.GetHeader().GetKey()) {
		case "x-provost-decision":
			d.outcome = h.GetHeader().GetValue()
		case "x-provost-reasons":
			d.reasons = splitCodes(h.GetHeader().GetValue())
		}
	}
	if d.outcome == "" {
		t.Fatalf("ext_authz answer without a decision: %v", resp)
	}
	return d
}

func splitCodes(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// parseExposition parses the text format by metric family.
func parseExposition(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// seriesValue adds the counter and gauge values of f's series whose
// labels include want.
func seriesValue(f *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range f.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if ok {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// A running `provost serve` asked through the check API, forward-auth and
// ext_authz: its /metrics passes promlint, counts each decision once by
// outcome and transport and each of its reason codes once, says which
// build runs, and has observed one evidence append per decision; the
// deploy/ dashboard and alert rules name only metrics it exposes.
func TestMetricsOfARunningServer(t *testing.T) {
	s := startMetricsServer(t)
	w := s.w
	tok := func(sub string) string {
		t.Helper()
		v, err := w.Token(sub, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Denials with several reasons each (customer-export needs DPoP, a
	// workload and posture evidence), a shadow credential, a binding
	// broken by the network, and allowed requests.
	export, reports, nobody := tok("svc:customer-export"), tok("svc:reports"), tok("svc:nobody")
	conn, err := load.DialLoopback(s.extAuthz)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)
	var made []decided
	for range 2 {
		made = append(made,
			s.checkAPI(t, export, "10.40.1.1"),
			s.checkAPI(t, reports, "10.40.1.1"),
			s.checkAPI(t, nobody, "10.40.1.1"),
			s.forwardAuth(t, export, "10.40.1.2"),
			s.forwardAuth(t, reports, "203.0.113.9"),
			s.extAuthzCheck(t, authz, export, "10.40.1.3"),
			s.extAuthzCheck(t, authz, reports, "10.40.1.3"),
		)
	}
	several := 0
	want := map[[2]string]float64{}        // outcome, transport
	wantReasons := map[[2]string]float64{} // reason, outcome
	for _, d := range made {
		want[[2]string{d.outcome, d.transport}]++
		codes := slices.Compact(slices.Sorted(slices.Values(d.reasons)))
		if len(codes) > 1 {
			several++
		}
		for _, c := range codes {
			wantReasons[[2]string{c, d.outcome}]++
		}
	}
	if several < 6 || want[[2]string{"allow", "check_api"}] == 0 {
		t.Fatalf("the requests did not make the decisions meant (%d with several reasons): %v", several, made)
	}

	body := s.scrape(t)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	fams := parseExposition(t, body)

	decisions := fams["provost_decisions_total"]
	if got := seriesValue(decisions, nil); got != float64(len(made)) {
		t.Errorf("sum(provost_decisions_total) = %v, want %d decisions", got, len(made))
	}
	for k, n := range want {
		if got := seriesValue(decisions, map[string]string{"outcome": k[0], "transport": k[1]}); got != n {
			t.Errorf("provost_decisions_total{outcome=%q,transport=%q} = %v, want %v", k[0], k[1], got, n)
		}
	}
	reasons := fams["provost_decision_reasons_total"]
	total := 0.0
	for k, n := range wantReasons {
		total += n
		if got := seriesValue(reasons, map[string]string{"reason": k[0], "outcome": k[1]}); got != n {
			t.Errorf("provost_decision_reasons_total{reason=%q,outcome=%q} = %v, want %v", k[0], k[1], got, n)
		}
	}
	if got := seriesValue(reasons, nil); got != total || total <= float64(len(made)) {
		t.Errorf("sum(provost_decision_reasons_total) = %v, want %v (more than the %d decisions)", got, total, len(made))
	}

	// provost_build_info says what --version says.
	b := readBuildInfo(version, debug.ReadBuildInfo)
	bi := fams["provost_build_info"]
	if bi == nil || seriesValue(bi, map[string]string{"version": b.Version, "revision": b.Revision, "goversion": runtime.Version()}) != 1 {
		t.Errorf("provost_build_info: %v, want version %q revision %q goversion %q", bi, b.Version, b.Revision, runtime.Version())
	}
	_, out, _ := runCLI(t, "", "--version")
	if first, _, _ := strings.Cut(out, "\n"); first != "provost "+b.Version {
		t.Errorf("--version prints %q, the metric says %q", first, b.Version)
	}

	// Every decision appended one evidence record, durably.
	h := fams["provost_evidence_append_duration_seconds"]
	if h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != uint64(len(made)) || h.GetMetric()[0].GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("evidence append latency: %v, want %d appends observed", h, len(made))
	}
	for name, v := range map[string]float64{"provost_evidence_append_errors_total": 0, "provost_evidence_queue_depth": 0, "provost_ready": 1, "provost_evidence_durable": 1} {
		if f := fams[name]; f == nil || seriesValue(f, nil) != v {
			t.Errorf("%s = %v, want %v", name, f, v)
		}
	}

	t.Run("docs", func(t *testing.T) {
		// Scrape again: the first scrape is counted once it has finished.
		exposed := parseExposition(t, s.scrape(t))
		documented := documentedMetrics(t)
		for name := range exposed {
			if strings.HasPrefix(name, "provost_") && !documented[name] {
				t.Errorf("%s is exposed but not in %s's metrics table", name, adminDoc)
			}
		}
		for name := range documented {
			if exposed[name] == nil && !conditionalMetrics[name] {
				t.Errorf("%s documents %s, which /metrics does not expose", adminDoc, name)
			}
		}
		doc, _ := os.ReadFile(adminDoc)
		for _, e := range alertNames(t) {
			if !bytes.Contains(doc, []byte("`"+e+"`")) {
				t.Errorf("%s does not describe the alert %s", adminDoc, e)
			}
		}
	})
	t.Run("deploy files", func(t *testing.T) {
		exposed := exposedNames(fams)
		for file, exprs := range map[string][]string{dashboardFile: dashboardExprs(t), alertsFile: alertExprs(t)} {
			for _, expr := range exprs {
				for _, name := range metricNames(expr) {
					if !exposed[name] {
						t.Errorf("%s: %s is not exposed by /metrics (in %s)", file, name, expr)
					}
				}
			}
		}
	})
}

const adminDoc = "../../docs/admin.md"

// conditionalMetrics are documented metrics a server with the embedded
// stores and file-based issuer keys does not expose.
var conditionalMetrics = map[string]bool{
	"provost_backend_up":                          true, // shared backends only
	"provost_jwks_fetches_total":                  true, // remote key sources only
	"provost_jwks_keys_dropped_total":             true,
	"provost_jwks_private_keys_dropped_total":     true,
	"provost_jwks_last_success_timestamp_seconds": true,
}

// documentedMetrics are the metric names of docs/admin.md's metrics table.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(adminDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Metrics\n")
	if !ok {
		t.Fatalf("%s has no Metrics section", adminDoc)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(provost_[a-z0-9_]+)` \\|").FindAllStringSubmatch(section, -1) {
		out[m[1]] = true
	}
	if len(out) < 10 {
		t.Fatalf("%s: only %d metrics found in the table", adminDoc, len(out))
	}
	return out
}

// exposedNames are the series names of the exposition: a histogram's
// _bucket, _sum and _count, every other family's own name.
func exposedNames(fams map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

// metricNameRE finds the metric names a PromQL expression reads: Provost's,
// and the Go runtime's and process's it exposes too.
var metricNameRE = regexp.MustCompile(`\b(?:provost|go|process)_[a-z0-9_]+\b`)

func metricNames(expr string) []string {
	// Label values are not metric names.
	quoted := regexp.MustCompile(`"[^"]*"`)
	return metricNameRE.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}

// dashboardExprs are the queries of the Grafana dashboard's panels and
// variables; the dashboard must have the panels docs/admin.md names.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", dashboardFile)
	}
	var exprs []string
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		if p.Type == "" || len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no type or no query", dashboardFile, p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: panel %q has an empty query", dashboardFile, p.Title)
			}
			checkBalanced(t, dashboardFile, tg.Expr)
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				exprs = append(exprs, s)
			}
		}
	}
	for _, want := range []string{"Ready", "Decisions per second by outcome", "Deny reasons (top 10)", "Evidence append latency", "Evidence queue depth"} {
		if !titles[want] {
			t.Errorf("%s: no panel %q", dashboardFile, want)
		}
	}
	return exprs
}

// alertNames are the names of the alert rules.
func alertNames(t *testing.T) []string {
	t.Helper()
	_, names := alertRules(t)
	return names
}

// alertExprs are the expressions of the alert rules.
func alertExprs(t *testing.T) []string {
	t.Helper()
	exprs, _ := alertRules(t)
	return exprs
}

// alertRules are the expressions and names of the alert rules; every rule
// has a name, an expression, a severity and a summary.
func alertRules(t *testing.T) (exprs, alerts []string) {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	if len(f.Groups) == 0 {
		t.Fatalf("%s: no groups", alertsFile)
	}
	names := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q has no name or no rules", alertsFile, g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || names[r.Alert] {
				t.Errorf("%s: rule %q: no name, no expression, or a name used twice", alertsFile, r.Alert)
			}
			names[r.Alert] = true
			alerts = append(alerts, r.Alert)
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: rule %s: severity %q", alertsFile, r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: rule %s has no summary", alertsFile, r.Alert)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: rule %s: for: %v", alertsFile, r.Alert, err)
				}
			}
			checkBalanced(t, alertsFile, r.Expr)
			exprs = append(exprs, r.Expr)
		}
	}
	for _, want := range []string{"ProvostNotReady", "ProvostEvidenceAppendsFailing", "ProvostEvidenceAppendSlow", "ProvostDenyRateSpike", "ProvostHoneytokenUsed"} {
		if !names[want] {
			t.Errorf("%s: no alert %s", alertsFile, want)
		}
	}
	return exprs, alerts
}

// checkBalanced fails when expr's brackets or quotes do not pair up: a
// cheap guard against a broken query (there is no PromQL parser here).
func checkBalanced(t *testing.T, file, expr string) {
	t.Helper()
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inQuote := false
	for _, r := range expr {
		switch {
		case r == '"':
			inQuote = !inQuote
		case inQuote:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				t.Errorf("%s: unbalanced %q in %s", file, r, expr)
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 || inQuote {
		t.Errorf("%s: unclosed brackets or quotes in %s", file, expr)
	}
}

// The dashboard and alert files parse and have the structure the running
// server test relies on, without a server.
func TestDeployMonitoringFiles(t *testing.T) {
	for _, exprs := range [][]string{dashboardExprs(t), alertExprs(t)} {
		if len(exprs) == 0 {
			t.Fatal("no queries")
		}
		for _, e := range exprs {
			if len(metricNames(e)) == 0 {
				t.Errorf("%q reads no Provost metric", e)
			}
		}
	}
	if got := metricNames(`sum(rate(provost_decisions_total{reason="provost_fake_total"}[5m])) / go_goroutines`); !slices.Equal(got, []string{"provost_decisions_total", "go_goroutines"}) {
		t.Errorf("metricNames = %v", got)
	}
}
