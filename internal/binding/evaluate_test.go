package binding

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

const allPass = "possession:pass workload:pass network:pass proxy_chain:pass posture:pass ci:pass time:pass time:pass time:pass rule:pass"

func TestEvaluateAllPass(t *testing.T) {
	b := loadExample(t).Bindings[0]
	sig := goodSignals()
	checks := b.Evaluate(&sig)
	if got := summary(checks); got != allPass {
		t.Fatalf("checks = %s", got)
	}
	want := []struct{ obs, exp string }{
		{"dpop", "dpop"},
		{"spiffe://acme.internal/ci/runner/7", "spiffe://acme.internal/ci/runner/*"},
		{"10.20.1.5", "build-hosts, 192.0.2.0/24"},
		{"edge>egress-gw", "edge>egress-gw"},
		{"image_digest=sha256:0123abcd os=linux runner_type=self-hosted", "image_digest=sha256:* os=linux runner_type=self-hosted"},
		{"", ""},
		{"Wed 12:00 CEST", "mon,tue,wed,thu,fri 08:00-20:00 Europe/Berlin"},
		{"token age 10m0s", "at most 1h0m0s"},
		{"idle 1h0m0s", "idle at most 720h0m0s"},
		{"true", `signals.network.client.startsWith("10.") && signals.request.method == "GET"`},
	}
	for i, w := range want {
		if w.obs == "" {
			continue
		}
		if checks[i].Observed != w.obs || checks[i].Expected != w.exp {
			t.Errorf("check %d: observed %q expected %q, want %q %q", i, checks[i].Observed, checks[i].Expected, w.obs, w.exp)
		}
	}
	if !strings.HasPrefix(checks[5].Observed, "repository=acme/deploy repository_id=123 workflow_ref=") {
		t.Errorf("ci observed %q", checks[5].Observed)
	}
	// Deterministic: the same input gives the same checks.
	again, _ := json.Marshal(b.Evaluate(&sig))
	first, _ := json.Marshal(checks)
	if string(again) != string(first) {
		t.Errorf("not deterministic:\n%s\n%s", first, again)
	}
}

func TestEvaluateRequirements(t *testing.T) {
	b := loadExample(t).Bindings[0]
	prob := func(c reason.Code) signal.Problem { return signal.Problem{Code: c, Message: "it is " + string(c)} }
	cases := []struct {
		name   string
		change func(*signal.Signals)
		at     int    // index of the check that changes
		want   string // its summary
		obs    string // its Observed, when not ""
	}{
		{"bearer where dpop is required", func(s *signal.Signals) { s.Credential.Possession = signalPossession("") }, 0, "possession:fail:possession_required", "bearer"},
		{"mtls where dpop is required", func(s *signal.Signals) { s.Credential.Possession = signalPossession("mtls") }, 0, "possession:fail:possession_required", "mtls"},
		{"no workload identity", func(s *signal.Signals) { s.Workload = signal.WorkloadSignal{} }, 1, "workload:absent:workload_absent", ""},
		{"invalid SVID", func(s *signal.Signals) {
			s.Workload.Present, s.Workload.Problem = false, prob(reason.WorkloadUntrusted)
		}, 1, "workload:fail:svid_untrusted_chain", ""},
		{"invalid SVID marked present", func(s *signal.Signals) { s.Workload.Problem = prob(reason.WorkloadExpired) }, 1, "workload:fail:svid_expired", "spiffe://acme.internal/ci/runner/7"},
		{"unapproved workload", func(s *signal.Signals) { s.Workload.ID = "spiffe://acme.internal/laptop/bob" }, 1, "workload:fail:workload_not_approved", "spiffe://acme.internal/laptop/bob"},
		{"look-alike workload path", func(s *signal.Signals) { s.Workload.ID = "spiffe://acme.internal/ci/runner-evil/1" }, 1, "workload:fail:workload_not_approved", ""},
		{"other trust domain", func(s *signal.Signals) { s.Workload.ID = "spiffe://evil.internal/ci/runner/7" }, 1, "workload:fail:workload_not_approved", ""},
		{"client address unknown", func(s *signal.Signals) { s.Network.Client = netip.Addr{} }, 2, "network:absent:client_address_unknown", ""},
		{"unapproved build host", func(s *signal.Signals) { s.Network.Client = netip.MustParseAddr("203.0.113.9") }, 2, "network:fail:network_not_approved", "203.0.113.9"},
		{"inline CIDR", func(s *signal.Signals) { s.Network.Client = netip.MustParseAddr("192.0.2.7") }, 2, "network:pass", "192.0.2.7"},
		{"IPv6 build host", func(s *signal.Signals) { s.Network.Client = netip.MustParseAddr("2001:db8:20::5") }, 2, "network:pass", "2001:db8:20::5"},
		{"IPv4-mapped build host", func(s *signal.Signals) { s.Network.Client = netip.MustParseAddr("::ffff:10.20.3.4") }, 2, "network:pass", ""},
		{"network header problem", func(s *signal.Signals) { s.Network.Problem = prob(reason.ProxyHeaderTooLarge) }, 2, "network:fail:proxy_header_too_large", ""},
		{"no hop attestation", func(s *signal.Signals) { s.Proxy = signal.ProxySignal{} }, 3, "proxy_chain:absent:proxy_chain_absent", ""},
		{"forged hop header", func(s *signal.Signals) { s.Proxy = signal.ProxySignal{Problem: prob(reason.HopBadSignature)} }, 3, "proxy_chain:fail:hop_bad_signature", ""},
		{"stale hop", func(s *signal.Signals) { s.Proxy.Problem = prob(reason.HopStale) }, 3, "proxy_chain:fail:hop_stale", ""},
		{"bypassed proxy", func(s *signal.Signals) { s.Proxy.Hops = []string{"egress-gw"} }, 3, "proxy_chain:fail:proxy_chain_mismatch", "egress-gw"},
		{"extra hop", func(s *signal.Signals) { s.Proxy.Hops = []string{"edge", "mitm", "egress-gw"} }, 3, "proxy_chain:fail:proxy_chain_mismatch", "edge>mitm>egress-gw"},
		{"hops reordered", func(s *signal.Signals) { s.Proxy.Hops = []string{"egress-gw", "edge"} }, 3, "proxy_chain:fail:proxy_chain_mismatch", ""},
		{"no posture", func(s *signal.Signals) { s.Posture = signal.PostureSignal{} }, 4, "posture:absent:posture_absent", ""},
		{"stale posture", func(s *signal.Signals) { s.Posture.Problem = prob(reason.PostureStale) }, 4, "posture:fail:posture_stale", ""},
		{"hosted runner", func(s *signal.Signals) { s.Posture.RunnerType = "github-hosted" }, 4, "posture:fail:posture_mismatch", "runner_type=github-hosted"},
		{"other digest algorithm", func(s *signal.Signals) { s.Posture.ImageDigest = "sha512:00" }, 4, "posture:fail:posture_mismatch", "image_digest=sha512:00"},
		{"no CI claims", func(s *signal.Signals) { s.CI = signal.CISignal{} }, 5, "ci:absent:ci_claims_absent", ""},
		{"other workflow", func(s *signal.Signals) {
			s.CI.WorkflowRef = "acme/deploy/.github/workflows/release.yml@refs/heads/evil"
		}, 5, "ci:fail:ci_mismatch", ""},
		{"other repository id", func(s *signal.Signals) { s.CI.RepositoryID = "1234" }, 5, "ci:fail:ci_mismatch", "repository_id=1234"},
		{"saturday", func(s *signal.Signals) { s.Now = wed.Add(72 * time.Hour) }, 6, "time:fail:outside_time_window", "Sat 12:00 CEST"},
		{"evening in Berlin", func(s *signal.Signals) { s.Now = time.Date(2025, 6, 11, 18, 0, 0, 0, time.UTC) }, 6, "time:fail:outside_time_window", "Wed 20:00 CEST"},
		{"token too old", func(s *signal.Signals) { s.Time.TokenAge = 2 * time.Hour }, 7, "time:fail:token_too_old", "token age 2h0m0s"},
		{"no iat", func(s *signal.Signals) { s.Time.HasTokenAge, s.Time.TokenAge = false, 0 }, 7, "time:absent:token_age_unknown", ""},
		{"idle too long", func(s *signal.Signals) { s.Time.LastSeen = wed.Add(-800 * time.Hour) }, 8, "time:fail:idle_too_long", "idle 800h0m0s"},
		{"first use", func(s *signal.Signals) { s.Time.LastSeen = time.Time{} }, 8, "time:pass", "first use"},
		{"rule fails", func(s *signal.Signals) { s.Method = "POST" }, 9, "rule:fail:rule_failed", "false"},
	}
	passes := strings.Fields(allPass)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sig := goodSignals()
			c.change(&sig)
			checks := b.Evaluate(&sig)
			got := strings.Fields(summary(checks))
			if len(got) != len(passes) {
				t.Fatalf("checks = %v", got)
			}
			for i := range got {
				want := passes[i]
				if i == c.at {
					want = c.want
				}
				if got[i] != want && !(i == 9 && strings.HasPrefix(got[i], "rule:fail")) {
					t.Errorf("check %d = %s, want %s", i, got[i], want)
				}
			}
			ch := checks[c.at]
			if c.obs != "" && ch.Observed != c.obs {
				t.Errorf("observed %q, want %q", ch.Observed, c.obs)
			}
			if ch.Status != StatusPass && ch.Message == "" {
				t.Errorf("no message: %+v", ch)
			}
			if ch.Status == StatusPass && (ch.Reason != "" || ch.Message != "") {
				t.Errorf("pass with a reason: %+v", ch)
			}
			if strings.HasPrefix(string(ch.Reason), "svid_") || strings.HasPrefix(string(ch.Reason), "hop_") || strings.HasPrefix(string(ch.Reason), "posture_s") {
				if ch.Message != "it is "+string(ch.Reason) {
					t.Errorf("problem message not kept: %q", ch.Message)
				}
			}
		})
	}
}

func signalPossession(m string) credential.Possession { return credential.Possession{Method: m} }

func TestEvaluatePossessionMTLS(t *testing.T) {
	b := mustParse(t, "version: 1\nbindings:\n  - name: a\n    match: {issuer: x}\n    require: {possession: mtls}\n").Bindings[0]
	for m, want := range map[string]string{"mtls": "possession:pass", "dpop": "possession:fail:possession_required", "": "possession:fail:possession_required"} {
		sig := goodSignals()
		sig.Credential.Possession.Method = m
		if got := summary(b.Evaluate(&sig)); got != want {
			t.Errorf("method %q: %s, want %s", m, got, want)
		}
	}
}

func TestEvaluateInvalidSignalsAlwaysFail(t *testing.T) {
	// support-sync requires only the proxy chain; a forged workload
	// identity and a stale posture attestation still fail.
	b := loadExample(t).Bindings[1]
	sig := goodSignals()
	sig.Workload = signal.WorkloadSignal{Problem: signal.Problem{Code: reason.WorkloadUntrusted}}
	sig.Posture.Problem = signal.Problem{Code: reason.PostureStale, Message: "the posture attestation is stale"}
	sig.Proxy.Hops = []string{"edge"}
	checks := b.Evaluate(&sig)
	if got := summary(checks); got != "proxy_chain:pass workload:fail:svid_untrusted_chain posture:fail:posture_stale" {
		t.Fatalf("checks = %s", got)
	}
	if checks[1].Message != "the workload signal was presented but is invalid" || checks[2].Message != "the posture attestation is stale" {
		t.Errorf("messages: %q, %q", checks[1].Message, checks[2].Message)
	}
	// A forged hop header where no proxy chain is required fails too.
	b = loadExample(t).Bindings[2]
	sig = goodSignals()
	sig.Proxy = signal.ProxySignal{Problem: signal.Problem{Code: reason.HopBadSignature}}
	if got := summary(b.Evaluate(&sig)); got != "proxy_chain:fail:hop_bad_signature" {
		t.Errorf("checks = %s", got)
	}
	// Nothing required and nothing invalid: no checks.
	sig = goodSignals()
	if got := b.Evaluate(&sig); len(got) != 0 {
		t.Errorf("checks = %s", summary(got))
	}
}

func TestEvaluateEvidence(t *testing.T) {
	s := mustParse(t, `version: 1
bindings:
  - name: all
    match: {issuer: x}
    require_evidence: [workload, network, proxy_chain, posture, issuer, ci, time, possession]
  - name: covered
    match: {issuer: x}
    require: {workloads: ["spiffe://acme.internal/*"], time: {max_token_age: 1h, windows: [{hours: "00:00-24:00"}]}}
    require_evidence: [time, workload, posture]
`)
	sig := goodSignals()
	if got := summary(s.Bindings[0].Evaluate(&sig)); got != "workload:pass:E network:pass:E proxy_chain:pass:E posture:pass:E issuer:pass:E ci:pass:E time:pass:E possession:pass:E" {
		t.Errorf("all present: %s", got)
	}
	var empty signal.Signals
	empty.Credential.Verdict = "accepted"
	checks := s.Bindings[0].Evaluate(&empty)
	want := "workload:absent:evidence_missing:E network:absent:evidence_missing:E proxy_chain:absent:evidence_missing:E posture:absent:evidence_missing:E issuer:absent:evidence_missing:E ci:absent:evidence_missing:E time:absent:evidence_missing:E possession:absent:evidence_missing:E"
	if got := summary(checks); got != want {
		t.Errorf("all absent: %s", got)
	}
	if checks[2].Message != "the binding requires proxy chain evidence, and none was presented" {
		t.Errorf("message %q", checks[2].Message)
	}
	// Invalid evidence fails (it does not count as presented).
	sig = goodSignals()
	sig.Workload.Problem = signal.Problem{Code: reason.WorkloadExpired}
	sig.Proxy.Problem = signal.Problem{Code: reason.HopStale}
	if got := summary(s.Bindings[0].Evaluate(&sig)); got != "workload:fail:svid_expired:E network:pass:E proxy_chain:fail:hop_stale:E posture:pass:E issuer:pass:E ci:pass:E time:pass:E possession:pass:E" {
		t.Errorf("invalid: %s", got)
	}
	// A signal a requirement already checks gets no second check; posture
	// is not required, so its evidence check is added.
	if got := summary(s.Bindings[1].Evaluate(&empty)); got != "workload:absent:workload_absent time:pass time:absent:token_age_unknown posture:absent:evidence_missing:E" {
		t.Errorf("covered: %s", got)
	}
}

func TestEvaluateNoPanicOnZeroSignals(t *testing.T) {
	s := loadExample(t)
	var sig signal.Signals
	for _, b := range s.Bindings {
		for _, c := range b.Evaluate(&sig) {
			if c.Status == StatusPass && c.Signal != signal.Time {
				t.Errorf("%s: zero signals passed %+v", b.Name, c)
			}
		}
	}
}

func TestEvaluatePostureClaims(t *testing.T) {
	b := mustParse(t, `version: 1
bindings:
  - name: a
    match: {issuer: x}
    require:
      posture: {kernel: "6.*", class: ci-runner}
`).Bindings[0]
	cases := []struct {
		change func(*signal.PostureSignal)
		want   string
		obs    string
	}{
		{func(p *signal.PostureSignal) { p.Class = "ci-runner" }, "posture:pass", "class=ci-runner kernel=6.8"},
		{func(p *signal.PostureSignal) { p.Class = "laptop" }, "posture:fail:posture_mismatch", "class=laptop"},
		{func(p *signal.PostureSignal) { p.Class, p.Claims = "ci-runner", nil }, "posture:fail:posture_mismatch", "kernel missing"},
		{func(p *signal.PostureSignal) { p.Class, p.Claims = "ci-runner", map[string]any{"kernel": 6.8} }, "posture:fail:posture_mismatch", "kernel missing"},
	}
	for _, c := range cases {
		sig := goodSignals()
		c.change(&sig.Posture)
		got := b.Evaluate(&sig)
		if summary(got) != c.want || got[0].Observed != c.obs {
			t.Errorf("%s: %+v", c.want, got)
		}
	}
}
