package evidence

import (
	"net/netip"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

// rawToken stands for the credential a caller presented; it must never
// appear in a record.
const rawToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJyYXcifQ.c2lnbmF0dXJl"

var decidedAt = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// scenario is one decision as the engine would hand it to FromDecision.
type scenario struct {
	d    decision.Decision
	sig  signal.Signals
	o    origin.Origin
	meta Meta
}

func (s scenario) record() Record { return FromDecision(s.d, s.sig, s.o, s.meta) }

func testFingerprint(t testing.TB) string {
	t.Helper()
	fp, err := fingerprint.New([]byte("evidence-test-secret-32-bytes-ok"))
	if err != nil {
		t.Fatal(err)
	}
	return fp.Of(rawToken)
}

func acceptedJWT(t testing.TB) credential.Result {
	return credential.Result{
		Verdict: credential.Accepted, Reason: reason.OK, Message: "the credential was accepted",
		Kind: credential.KindJWT, Fingerprint: testFingerprint(t),
		Metadata: credential.Metadata{
			Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/api:ref:refs/heads/main",
			Audience: []string{"https://provost.example", "api"}, KeyID: "k1", Algorithm: "ES256", Type: "at+jwt",
			JTI: "b7f1c2", IssuedAt: decidedAt.Add(-90 * time.Second), ExpiresAt: decidedAt.Add(10 * time.Minute),
			AgeSeconds: 90, AZP: "deployer", ClientID: "deployer",
			Act:    []credential.Actor{{Subject: "agent-7", ClientID: "tools"}},
			Cnf:    &credential.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
			Claims: map[string]any{"secret_note": "CLAIM-MUST-NOT-APPEAR"},
		},
		Possession: credential.Possession{Method: "dpop", JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	}
}

func ciSignals(cred credential.Result, client string) signal.Signals {
	return signal.Signals{
		Now: decidedAt, Method: "POST", Target: "/v1/deploy?access_token=" + rawToken, Credential: cred,
		Workload: signal.WorkloadSignal{Present: true, ID: "spiffe://example.org/ci/runner", Source: "mtls",
			NotAfter: decidedAt.Add(time.Hour)},
		Network: signal.NetworkSignal{Peer: netip.MustParseAddr("10.0.0.2"), Client: netip.MustParseAddr(client),
			FromHeader: true, Origin: client + "/24", Sets: []string{"runners", "corp"}},
		Proxy: signal.ProxySignal{Present: true, Hops: []string{"edge", "mesh"}},
		Posture: signal.PostureSignal{Present: true, Attestor: "attestor-1", HostID: "build-42",
			ImageDigest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			RunnerType:  "self-hosted", OS: "linux", Class: "hardened", IssuedAt: decidedAt.Add(-time.Minute),
			Claims: map[string]any{"secret_note": "POSTURE-CLAIM-MUST-NOT-APPEAR"}},
		CI: signal.CISignal{Present: true, Repository: "acme/api", RepositoryID: "4242",
			WorkflowRef: "acme/api/.github/workflows/deploy.yml@refs/heads/main", RunnerEnvironment: "self-hosted",
			Environment: "production", Event: "push"},
		Time: signal.TimeSignal{TokenAge: 90 * time.Second, HasTokenAge: true, LastSeen: decidedAt.Add(-time.Hour)},
	}
}

// scenarios are the golden cases: an allow, a deny with revoke, and a
// rejected credential, each decided by the real decision rules.
func scenarios(t testing.TB) map[string]scenario {
	cred := acceptedJWT(t)
	ciBinding := &binding.Binding{Name: "ci-deploy", Mode: binding.ModeEnforce, OnViolation: binding.ActionRevoke}
	const digest = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

	allowSig := ciSignals(cred, "192.0.2.10")
	allow := decision.Decide(decision.Input{Credential: cred, Binding: ciBinding, Mode: binding.ModeEnforce,
		Checks: []binding.Check{
			{Signal: signal.Workload, Status: binding.StatusPass, Observed: "spiffe://example.org/ci/runner", Expected: "spiffe://example.org/ci/*"},
			{Signal: signal.Network, Status: binding.StatusPass, Observed: "192.0.2.10", Expected: "runners"},
			{Signal: signal.ProxyChain, Status: binding.StatusPass, Observed: "edge>mesh", Expected: "edge>mesh"},
		}})

	denySig := ciSignals(cred, "198.51.100.7")
	deny := decision.Decide(decision.Input{Credential: cred, Binding: ciBinding, Mode: binding.ModeEnforce,
		Checks: []binding.Check{
			{Signal: signal.Workload, Status: binding.StatusPass, Observed: "spiffe://example.org/ci/runner", Expected: "spiffe://example.org/ci/*"},
			{Signal: signal.Network, Status: binding.StatusFail, Observed: "198.51.100.7", Expected: "runners",
				Reason: reason.NetworkNotApproved, Message: "the request came from 198.51.100.7, outside the approved networks"},
		}})

	rejected := cred
	rejected.Verdict, rejected.Reason, rejected.Message = credential.Rejected, reason.Expired, "the token expired"
	rejected.Possession = credential.Possession{}
	rejected.Metadata = credential.Metadata{Issuer: "https://issuer.example", Subject: "svc-billing", KeyID: "k9", Algorithm: "RS256"}
	rejSig := signal.Signals{Now: decidedAt, Method: "GET", Target: "https://user:pw@api.example/v1/invoices?page=2",
		Credential: rejected, Network: signal.NetworkSignal{Peer: netip.MustParseAddr("2001:db8::7"),
			Client: netip.MustParseAddr("2001:db8::7"), Origin: "2001:db8::/64"}}
	rej := decision.Decide(decision.Input{Credential: rejected, Mode: binding.ModeEnforce})

	return map[string]scenario{
		"allow": {allow, allowSig, origin.FromSignals(&allowSig), Meta{RequestID: "req-0001", BindingsDigest: digest, Time: decidedAt}},
		"deny-revoke": {deny, denySig, origin.FromSignals(&denySig),
			Meta{RequestID: "req-0002", BindingsDigest: digest, RevocationID: "rev-7f3a", Time: decidedAt}},
		"rejected": {rej, rejSig, origin.FromSignals(&rejSig), Meta{RequestID: "req-0003", BindingsDigest: digest, Time: decidedAt}},
	}
}
