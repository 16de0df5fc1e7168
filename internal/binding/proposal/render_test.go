package proposal

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/internal/origin"
)

const bindingsFile = `version: 1
bindings:
  - name: vendor-sync
    mode: learn
    match: {subject: "vendor:sync", claims: {"tenant id": "a b"}}
    require:
      networks: [10.0.0.0/8]
      ci: {repository: "acme/*"}
      rule: 'signals.request.method == "GET"'
  - name: ci-deploy
    mode: learn
    match: {issuer: "https://sts.acme.test", subject: "repo:acme/deploy:*"}
    require:
      proxy_chain: [edge]
      time: {max_token_age: 1h}
    require_evidence: [workload]
    on_violation: revoke
`

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func seen(wl, nw, chain, posture string) origin.Seen {
	return origin.Seen{Origin: origin.Origin{Workload: wl, Network: nw, ProxyChain: chain, Posture: posture},
		FirstSeen: t0, LastSeen: t0.Add(time.Hour), Uses: 2, Allowed: 2}
}

// TestRender compares each proposal with testdata/NAME.golden (go test
// -update rewrites them) and checks that it loads as the binding it says.
func TestRender(t *testing.T) {
	set, err := binding.Parse("b.yaml", []byte(bindingsFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		golden  string
		binding string
		seen    []origin.Seen
		check   func(t *testing.T, b *binding.Binding)
	}{
		{"one-chain-everywhere", "vendor-sync", []origin.Seen{seen("spiffe://a.test/x", "192.0.2.0/24", "edge>gw", ""), seen("spiffe://a.test/x", "2001:db8:1::/64", "edge>gw", "")},
			func(t *testing.T, b *binding.Binding) {
				if !slices.Equal(b.Require.ProxyChain, []string{"edge", "gw"}) || !slices.Equal(b.Require.Workloads, []string{"spiffe://a.test/x"}) ||
					!slices.Equal(b.Require.Networks, []string{"192.0.2.0/24", "2001:db8:1::/64"}) {
					t.Errorf("require %+v", b.Require)
				}
			}},
		{"different-chains", "vendor-sync", []origin.Seen{seen("", "192.0.2.0/24", "edge>gw", "hardened"), seen("", "192.0.2.0/24", "", "standard")},
			func(t *testing.T, b *binding.Binding) {
				if b.Require.ProxyChain != nil || b.Require.Workloads != nil {
					t.Errorf("require %+v", b.Require)
				}
			}},
		{"workload-missing-somewhere", "vendor-sync", []origin.Seen{seen("spiffe://a.test/x", "192.0.2.0/24", "", ""), seen("", "198.51.100.0/24", "", "")},
			func(t *testing.T, b *binding.Binding) {
				if b.Require.Workloads != nil || len(b.Require.Networks) != 2 {
					t.Errorf("require %+v", b.Require)
				}
			}},
		{"no-signal-presented", "vendor-sync", []origin.Seen{seen("", "", "", "")},
			func(t *testing.T, b *binding.Binding) {
				if b.Require.Networks != nil {
					t.Errorf("require %+v", b.Require)
				}
			}},
		{"evidence-and-dropped-chain", "ci-deploy", []origin.Seen{seen("spiffe://a.test/ci", "10.20.3.0/24", "", ""), seen("spiffe://a.test/ci", "10.20.3.0/24", "", "")},
			func(t *testing.T, b *binding.Binding) {
				if b.Require.ProxyChain != nil || b.Require.Time == nil || len(b.RequireEvidence) != 1 || b.OnViolation != binding.ActionRevoke ||
					b.Match.Issuer != "https://sts.acme.test" {
					t.Errorf("binding %+v", b)
				}
			}},
	}
	from := t0.Add(-time.Hour)
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			cur, err := Binding(set, c.binding)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Render(cur, c.seen, from)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", c.golden+".golden"), []byte(out), "")
			got, err := binding.Parse("wrapped", []byte("version: 1\nbindings:\n"+out))
			if err != nil {
				t.Fatalf("does not parse: %v\n%s", err, out)
			}
			b := got.Bindings[0]
			if b.Name != cur.Name || b.Mode != binding.ModeMonitor || b.Match.Subject != cur.Match.Subject ||
				b.Require.Rule != cur.Require.Rule || !equalCI(b.Require.CI, cur.Require.CI) || b.Match.Claims["tenant id"] != cur.Match.Claims["tenant id"] {
				t.Errorf("parsed binding %+v", b)
			}
			c.check(t, b)
		})
	}
}

func equalCI(a, b *binding.CISpec) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func TestBindingNotInSet(t *testing.T) {
	set, err := binding.Parse("b.yaml", []byte(bindingsFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Binding(set, "nope"); err == nil || !strings.Contains(err.Error(), "binding nope is not in b.yaml") {
		t.Errorf("err %v", err)
	}
}
