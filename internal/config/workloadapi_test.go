package config

import (
	"strings"
	"testing"
	"time"
)

func TestWorkloadAPIConfig(t *testing.T) {
	const head = "version: 1\ntrust:\n"
	const files = "  spiffe:\n    - {trust_domain: files.example, x509_bundle: ca.pem}\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"good", files + "  workload_api:\n    socket: unix:///run/spire/agent.sock\n    trust_domains: [prod.example, spiffe://partner.example]\n    start_timeout: 3s\n    max_stale: 2h\n", ""},
		{"tcp", "  workload_api: {socket: \"tcp://127.0.0.1:8081\", trust_domains: [prod.example]}\n", ""},
		{"no socket", "  workload_api: {trust_domains: [prod.example]}\n",
			"p.yaml:3: trust.workload_api.socket: is required with trust_domains"},
		{"no trust domains", "  workload_api: {socket: \"unix:///run/spire/agent.sock\"}\n",
			"trust.workload_api.trust_domains: needs at least one trust domain"},
		{"timeouts alone", "  workload_api: {max_stale: 1h}\n", "trust.workload_api: needs socket and trust_domains"},
		{"bare path", "  workload_api: {socket: /run/spire/agent.sock, trust_domains: [prod.example]}\n",
			`trust.workload_api.socket: "/run/spire/agent.sock": workload endpoint socket URI must have a "tcp" or "unix" scheme (write unix:///run/spire/agent.sock)`},
		{"tcp host name", "  workload_api: {socket: \"tcp://localhost:8081\", trust_domains: [prod.example]}\n",
			"must be an IP:port"},
		{"bad trust domain", "  workload_api: {socket: \"unix:///s\", trust_domains: [Prod.Example]}\n",
			`trust.workload_api.trust_domains[0]: "Prod.Example" is not a trust domain`},
		{"listed twice", "  workload_api: {socket: \"unix:///s\", trust_domains: [prod.example, \"spiffe://prod.example\"]}\n",
			`trust.workload_api.trust_domains[1]: trust domain "prod.example" is listed twice`},
		{"files and socket for one domain", files + "  workload_api: {socket: \"unix:///s\", trust_domains: [prod.example, files.example]}\n",
			`p.yaml:5: trust.workload_api.trust_domains[1]: trust domain "files.example" also has bundle files in trust.spiffe[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte(head+tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Trust.WorkloadAPI.Socket == "" || len(c.Trust.WorkloadAPI.TrustDomains) == 0 {
					t.Errorf("parsed %+v", c.Trust.WorkloadAPI)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error with %q", err, tc.want)
			}
		})
	}
	c, err := Parse("p.yaml", []byte(head+"  workload_api: {socket: \"unix:///s\", trust_domains: [a.example], start_timeout: 3s, max_stale: 2h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Trust.WorkloadAPI; w.StartTimeout.D() != 3*time.Second || w.MaxStale.D() != 2*time.Hour {
		t.Errorf("durations: %+v", w)
	}
}
