package app_test

import (
	"context"
	"crypto/x509"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

const workloadAPIBindings = `version: 1
bindings:
  - name: runner
    match: {subject: "svc:runner"}
    require:
      workloads: ["spiffe://demo.provost.test/runner"]
    require_evidence: [workload]
`

// workloadAPIWorld is a world whose trust domain takes its bundles from a
// fake Workload API instead of the world's ca.pem: its provost.yaml has
// trust.workload_api in place of trust.spiffe.
func workloadAPIWorld(t *testing.T, api *workloadtest.WorkloadAPI, startTimeout string) *provosttest.T {
	t.Helper()
	w := provosttest.New(t, provosttest.Options{Bindings: workloadAPIBindings})
	data, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	files := "  spiffe:\n    - {trust_domain: demo.provost.test, x509_bundle: ca.pem}\n"
	live := "  workload_api: {socket: \"" + api.Addr() + "\", trust_domains: [demo.provost.test], start_timeout: " + startTimeout + "}\n"
	if !strings.Contains(string(data), files) {
		t.Fatalf("the world's provost.yaml has no %q to replace:\n%s", files, data)
	}
	w.Write("provost.yaml", strings.Replace(string(data), files, live, 1))
	return w
}

func caBundle(ca *x509.Certificate) workloadtest.Bundle {
	return workloadtest.Bundle{TrustDomain: provosttest.TrustDomain, X509: []*x509.Certificate{ca}}
}

func runnerCheck(t *testing.T, a *app.App, w *provosttest.T, svid *x509.Certificate) *provost.Decision {
	t.Helper()
	d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/v1/build",
		Authorization: "Bearer " + w.MustToken("svc:runner", nil), Peer: netip.MustParseAddr("10.0.0.7"),
		ClientCerts: []*x509.Certificate{svid}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Provost takes the world's SPIFFE bundle from the Workload API: an SVID of
// the served CA is accepted; after the agent rotates to a new CA, an SVID of
// the old CA is refused and one of the new CA accepted, with no restart or
// reload.
func TestWorkloadAPIBundlesFollowRotation(t *testing.T) {
	api := workloadtest.NewWorkloadAPI(t)
	w := workloadAPIWorld(t, api, "10s")
	api.SetBundles(caBundle(w.CA()))
	a := w.App("")
	if err := a.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	oldSVID, _ := w.MustSVID("/runner")
	if d := runnerCheck(t, a, w, oldSVID); d.Outcome != verdict.Allow {
		t.Fatalf("SVID of the served CA: %s %v, want allow", d.Outcome, d.Codes())
	}

	next, err := provosttest.Build(t.TempDir(), provosttest.Options{}) // a new CA for the same trust domain
	if err != nil {
		t.Fatal(err)
	}
	newSVID, _, err := next.SVID("/runner")
	if err != nil {
		t.Fatal(err)
	}
	if d := runnerCheck(t, a, w, newSVID); d.Outcome != verdict.Deny || !slices.Contains(d.Codes(), reason.WorkloadUntrusted) {
		t.Fatalf("SVID of a CA not yet served: %s %v, want deny with %s", d.Outcome, d.Codes(), reason.WorkloadUntrusted)
	}

	api.SetBundles(caBundle(next.CA()))
	deadline := time.Now().Add(15 * time.Second)
	for runnerCheck(t, a, w, newSVID).Outcome != verdict.Allow {
		if time.Now().After(deadline) {
			t.Fatal("the new CA's SVID was never accepted after the rotation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := runnerCheck(t, a, w, oldSVID); d.Outcome != verdict.Deny || !slices.Contains(d.Codes(), reason.WorkloadUntrusted) {
		t.Errorf("SVID of the rotated-out CA: %s %v, want deny with %s", d.Outcome, d.Codes(), reason.WorkloadUntrusted)
	}
}

// An unreachable Workload API at start is a clear error, after
// start_timeout: Provost does not start without the bundles.
func TestWorkloadAPIUnreachableAtStart(t *testing.T) {
	api := workloadtest.NewWorkloadAPI(t)
	api.Stop()
	w := workloadAPIWorld(t, api, "300ms")
	a, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), Now: w.Now})
	if err == nil {
		a.Close()
		t.Fatal("Open succeeded with no Workload API")
	}
	for _, want := range []string{"trust.workload_api", "no trust bundles from " + api.Addr(), "within 300ms", "no X.509 bundles"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
