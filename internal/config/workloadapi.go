package config

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// WorkloadAPI takes the trust bundles of some trust domains from the SPIFFE
// Workload API (a SPIRE agent's socket) instead of files, and follows their
// updates, so a rotated CA applies without a restart.
type WorkloadAPI struct {
	// Socket is the Workload API address: unix:///run/spire/agent.sock
	// (or tcp://IP:PORT). Required with trust_domains.
	Socket string `yaml:"socket"`
	// TrustDomains take their X.509 and JWT bundles from the Workload API.
	// A trust domain is configured here or in trust.spiffe, never in both.
	TrustDomains []string `yaml:"trust_domains"`
	// StartTimeout bounds the wait at start for the first bundles of
	// every trust domain (default 10s); past it Provost refuses to start.
	StartTimeout Duration `yaml:"start_timeout"`
	// MaxStale is how long the last bundles received stay in use once
	// the Workload API is unreachable (default 1h); past it the trust
	// domains' SVIDs are refused and /readyz answers 503 until it is back.
	MaxStale Duration `yaml:"max_stale"`
}

// check checks the section against the file-based trust domains of spiffe.
func (w *WorkloadAPI) check(spiffe []SPIFFE) error {
	const p = "trust.workload_api"
	switch {
	case w.Socket == "" && len(w.TrustDomains) == 0:
		if w.StartTimeout != 0 || w.MaxStale != 0 {
			return bad(p, "needs socket and trust_domains")
		}
		return nil
	case w.Socket == "":
		return bad(p+".socket", "is required with trust_domains (e.g. unix:///run/spire/agent.sock)")
	case len(w.TrustDomains) == 0:
		return bad(p+".trust_domains", "needs at least one trust domain whose bundles the Workload API gives")
	}
	if err := workloadapi.ValidateAddress(w.Socket); err != nil {
		hint := ""
		if strings.HasPrefix(w.Socket, "/") {
			hint = " (write unix://" + w.Socket + ")"
		}
		return bad(p+".socket", "%q: %v%s", w.Socket, err, hint)
	}
	files := map[spiffeid.TrustDomain]int{}
	for i, s := range spiffe {
		if td, err := spiffeid.TrustDomainFromString(s.TrustDomain); err == nil {
			files[td] = i
		}
	}
	seen := map[spiffeid.TrustDomain]bool{}
	for i, name := range w.TrustDomains {
		f := fmt.Sprintf("%s.trust_domains[%d]", p, i)
		td, err := spiffeid.TrustDomainFromString(name)
		if err != nil {
			return bad(f, "%q is not a trust domain: %v", name, err)
		}
		if seen[td] {
			return bad(f, "trust domain %q is listed twice", td.Name())
		}
		seen[td] = true
		if j, ok := files[td]; ok {
			return bad(f, "trust domain %q also has bundle files in trust.spiffe[%d]; take each trust domain's bundles from one source: remove it here or there", td.Name(), j)
		}
	}
	return nil
}
