package binding

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/signal"
)

// The fingerprints in testdata/example.yaml.
const (
	fpDeploy = "fp1:YgxCIB2VpxCJu7gNo-IhyhA0jh69M4_0h6q599decCA"
	fpOld    = "fp1:QYaY_3kkv0xgR5dsB5ZeaB6B1nFZWVe_ajzQc2-I3bE"
)

// wed is Wednesday 11 June 2025, 10:00 UTC (12:00 in Berlin).
var wed = time.Date(2025, 6, 11, 10, 0, 0, 0, time.UTC)

func loadExample(t testing.TB) *Set {
	t.Helper()
	s, err := Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustParse(t testing.TB, doc string) *Set {
	t.Helper()
	s, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// deployCredential is an accepted GitHub Actions token for ci-deploy.
func deployCredential() credential.Result {
	return credential.Result{
		Verdict:     credential.Accepted,
		Kind:        credential.KindJWT,
		Fingerprint: fpDeploy,
		Metadata: credential.Metadata{
			Issuer:   "https://token.actions.githubusercontent.com",
			Subject:  "repo:acme/deploy:environment:prod",
			Audience: []string{"https://api.acme.example"},
			Claims: map[string]any{
				"repository":  "acme/deploy",
				"environment": "prod-eu",
				"run_number":  float64(7),
			},
		},
		Possession: credential.Possession{Method: "dpop", JKT: "jkt"},
	}
}

// goodSignals passes every requirement of the example's ci-deploy binding.
func goodSignals() signal.Signals {
	return signal.Signals{
		Now:        wed,
		Method:     "GET",
		Target:     "/v1/deploy?x=1",
		Path:       "/v1/deploy",
		RawTarget:  "/v1/%64eploy?x=1",
		Credential: deployCredential(),
		Workload:   signal.WorkloadSignal{Present: true, ID: "spiffe://acme.internal/ci/runner/7", Source: "mtls"},
		Network: signal.NetworkSignal{
			Peer:   netip.MustParseAddr("10.0.0.2"),
			Client: netip.MustParseAddr("10.20.1.5"),
			Origin: "10.20.1.0/24",
		},
		Proxy: signal.ProxySignal{Present: true, Hops: []string{"edge", "egress-gw"}},
		Posture: signal.PostureSignal{
			Present: true, Attestor: "runner-attestor", HostID: "host-7",
			ImageDigest: "sha256:0123abcd", RunnerType: "self-hosted", OS: "linux",
			Claims: map[string]any{"kernel": "6.8"},
		},
		CI: signal.CISignal{
			Present: true, Repository: "acme/deploy", RepositoryID: "123",
			WorkflowRef:       "acme/deploy/.github/workflows/release.yml@refs/heads/main",
			RunnerEnvironment: "self-hosted", Environment: "prod", Event: "push",
		},
		Time: signal.TimeSignal{TokenAge: 10 * time.Minute, HasTokenAge: true, LastSeen: wed.Add(-time.Hour)},
	}
}

// summary renders checks as "signal:status[:reason][:E]" joined by spaces.
func summary(checks []Check) string {
	parts := make([]string, len(checks))
	for i, c := range checks {
		s := string(c.Signal) + ":" + string(c.Status)
		if c.Reason != "" {
			s += ":" + string(c.Reason)
		}
		if c.Evidence {
			s += ":E"
		}
		parts[i] = s
	}
	return strings.Join(parts, " ")
}
