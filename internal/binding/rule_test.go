package binding

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

func ruleBinding(t *testing.T, rule string) *Binding {
	t.Helper()
	s := mustParse(t, "version: 1\nnetworks:\n  build-hosts: [10.20.0.0/16]\n  everything: [0.0.0.0/0]\nbindings:\n  - name: r\n    match: {issuer: x}\n    require:\n      rule: '"+strings.ReplaceAll(rule, "'", "''")+"'\n")
	return s.Bindings[0]
}

func TestRuleVariables(t *testing.T) {
	rules := []string{
		`signals.request.method == "GET" && signals.request.target == "/v1/deploy?x=1"`,
		`signals.credential.kind == "jwt" && signals.credential.fingerprint.startsWith("fp1:")`,
		`signals.credential.iss == "https://token.actions.githubusercontent.com" && signals.credential.sub.endsWith(":prod")`,
		`"https://api.acme.example" in signals.credential.aud && signals.credential.azp == "" && signals.credential.client_id == ""`,
		`signals.credential.claims.repository == "acme/deploy" && signals.credential.claims.run_number == 7.0`,
		`signals.credential.possession == "dpop" && signals.credential.api_key == ""`,
		`signals.workload.present && signals.workload.id.startsWith("spiffe://acme.internal/ci/") && signals.workload.source == "mtls"`,
		`signals.network.client == "10.20.1.5" && signals.network.peer == "10.0.0.2" && signals.network.origin == "10.20.1.0/24"`,
		`signals.network.sets == ["build-hosts", "everything"]`,
		`signals.proxy.present && signals.proxy.hops == ["edge", "egress-gw"] && signals.proxy.hops[0] == "edge"`,
		`signals.posture.present && signals.posture.runner_type == "self-hosted" && signals.posture.claims.kernel == "6.8"`,
		`signals.posture.attestor == "runner-attestor" && signals.posture.host_id == "host-7" && signals.posture.image_digest.startsWith("sha256:") && signals.posture.os == "linux" && signals.posture.class == ""`,
		`signals.ci.present && signals.ci.repository == "acme/deploy" && signals.ci.repository_id == "123" && signals.ci.event == "push"`,
		`signals.ci.workflow_ref.endsWith("@refs/heads/main") && signals.ci.runner_environment == "self-hosted" && signals.ci.environment == "prod"`,
		`signals.time.now == timestamp("2025-06-11T10:00:00Z") && signals.time.hour == 10 && signals.time.weekday == 3`,
		`signals.time.now.getHours("Europe/Berlin") == 12`,
		`has(signals.time.token_age_seconds) && signals.time.token_age_seconds == 600 && signals.time.idle_seconds == 3600`,
		`"workload" in signals && !("location" in signals) && has(signals.workload.id) && !has(signals.workload.nothing)`,
		`signals.workload.size() == 3 && signals.request.all(k, k in ["method", "target", "path", "raw_target"])`,
		`signals.request == {"method": "GET", "target": "/v1/deploy?x=1", "path": "/v1/deploy", "raw_target": "/v1/%64eploy?x=1"}`,
		`signals.request.path == "/v1/deploy" && signals.request.raw_target.startsWith("/v1/%64")`,
		`size(signals) == 8`,
		`type(signals.request) == map`,
	}
	for _, r := range rules {
		t.Run(r, func(t *testing.T) {
			b := ruleBinding(t, r)
			sig := goodSignals()
			c := b.Evaluate(&sig)
			if summary(c) != "rule:pass" {
				t.Fatalf("checks %+v", c)
			}
		})
	}
}

func TestRuleOutcomes(t *testing.T) {
	cases := []struct {
		name, rule string
		change     func(*signal.Signals)
		want       reason.Code
		msg        string
	}{
		{"false", `signals.request.method == "GET"`, func(s *signal.Signals) { s.Method = "DELETE" }, reason.RuleFailed, "does not hold"},
		{"missing key fails closed", `signals.credential.claims.nothing == "x"`, nil, reason.RuleError, "no such key"},
		{"no iat fails closed", `signals.time.token_age_seconds < 3600`, func(s *signal.Signals) { s.Time.HasTokenAge = false }, reason.RuleError, "fails closed"},
		{"dyn result not bool", `signals.request.method`, nil, reason.RuleError, "not bool"},
		{"type error", `signals.request.method > 3`, nil, reason.RuleError, "no such overload"},
		{"invalid workload is not present", `signals.workload.present`, func(s *signal.Signals) {
			s.Workload.Problem = signal.Problem{Code: reason.WorkloadExpired}
		}, reason.RuleFailed, ""},
		{"invalid workload id is empty", `signals.workload.id == ""`, func(s *signal.Signals) {
			s.Workload.Problem = signal.Problem{Code: reason.WorkloadExpired}
		}, "", ""},
		{"invalid proxy has no hops", `size(signals.proxy.hops) == 0 && !signals.proxy.present`, func(s *signal.Signals) {
			s.Proxy.Problem = signal.Problem{Code: reason.HopStale}
		}, "", ""},
		{"invalid posture is empty", `signals.posture.os == "" && size(signals.posture.claims) == 0`, func(s *signal.Signals) {
			s.Posture.Problem = signal.Problem{Code: reason.PostureStale}
		}, "", ""},
		{"unknown client", `signals.network.client == "" && signals.network.sets == []`, func(s *signal.Signals) {
			s.Network = signal.NetworkSignal{}
		}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := ruleBinding(t, c.rule)
			sig := goodSignals()
			if c.change != nil {
				c.change(&sig)
			}
			checks := b.Evaluate(&sig)
			rc := checks[0]
			if rc.Signal != signal.Rule || rc.Reason != c.want || (c.want == "") != (rc.Status == StatusPass) {
				t.Fatalf("check %+v, want reason %q", rc, c.want)
			}
			if !strings.Contains(rc.Message, c.msg) {
				t.Errorf("message %q, want %q in it", rc.Message, c.msg)
			}
		})
	}
}

// TestRuleCostLimit: a rule whose least cost is over the limit is refused
// at load (TestParseBad "cel too costly"); a rule that goes over the limit
// only on some input fails closed at evaluation with rule_error.
func TestRuleCostLimit(t *testing.T) {
	b := ruleBinding(t, `signals.credential.claims.items.all(x, x == 1)`)
	sig := goodSignals()
	small := make([]any, 10)
	for i := range small {
		small[i] = float64(1)
	}
	sig.Credential.Metadata.Claims = map[string]any{"items": small}
	if got := summary(b.Evaluate(&sig)); got != "rule:pass" {
		t.Fatalf("small input: %s", got)
	}
	big := make([]any, 20000)
	for i := range big {
		big[i] = float64(1)
	}
	sig.Credential.Metadata.Claims = map[string]any{"items": big}
	c := b.Evaluate(&sig)[0]
	if c.Status != StatusFail || c.Reason != reason.RuleError || !strings.Contains(c.Message, "cost limit") {
		t.Fatalf("big input: %+v", c)
	}
}

func TestRuleTextShortened(t *testing.T) {
	long := `signals.request.method == "` + strings.Repeat("é", 300) + `"`
	b := ruleBinding(t, long)
	sig := goodSignals()
	c := b.Evaluate(&sig)[0]
	if c.Reason != reason.RuleFailed || len(c.Expected) > maxShown+len("…") || !strings.HasSuffix(c.Expected, "…") || !utf8.ValidString(c.Expected) {
		t.Errorf("expected %q", c.Expected)
	}
}
