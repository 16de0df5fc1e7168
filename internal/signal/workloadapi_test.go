package signal

import (
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

// sets is a workload.BundleSource over two bundle sets.
type sets struct {
	x *x509bundle.Set
	j *jwtbundle.Set
}

func (s sets) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.x.GetX509BundleForTrustDomain(td)
}

func (s sets) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	return s.j.GetJWTBundleForTrustDomain(td)
}

// The trust domains of trust.workload_api are verified against the
// engine's bundle source; without one the policy cannot be put in force.
func TestAnchorsWithBundleSource(t *testing.T) {
	live := workloadtest.NewCA(t, "live.example")
	cfg := &config.Config{Trust: config.Trust{WorkloadAPI: config.WorkloadAPI{Socket: "unix:///s", TrustDomains: []string{"live.example"}}}}
	ta, err := CompileAnchors(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.WithBundleSource(nil); err == nil || !strings.Contains(err.Error(), "no bundle source") {
		t.Fatalf("WithBundleSource(nil) = %v, want an error naming the missing source", err)
	}
	got, err := ta.WithBundleSource(sets{x509bundle.NewSet(live.X509Bundle()), jwtbundle.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := live.IssueSVID(t, "spiffe://live.example/api")
	if _, err := got.bundles.VerifyX509(chain, time.Now(), workload.SourceMTLS); err != nil {
		t.Errorf("SVID of the source's CA: %v", err)
	}
	if ta.bundles != nil {
		t.Error("WithBundleSource changed the policy's own anchors")
	}

	none, err := CompileAnchors(&config.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := none.WithBundleSource(nil); err != nil || got != none {
		t.Errorf("without trust.workload_api: %p, %v; want the same anchors", got, err)
	}
}
