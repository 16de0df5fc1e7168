package binding

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

// Evaluate compares sig against the binding and returns the checks, in this
// order: one per requirement (possession, workload, network, proxy_chain,
// posture, ci, time windows, max_token_age, max_idle, rule); then one per
// require_evidence signal that no requirement check already covers; then a
// fail for every presented-but-invalid signal not yet checked. The order
// depends only on the binding. sig is not modified.
func (b *Binding) Evaluate(sig *signal.Signals) []Check {
	q := &b.req
	out := make([]Check, 0, q.checks+len(b.RequireEvidence)+2)
	var covered sigSet
	if q.possession != "" {
		out = append(out, q.checkPossession(sig))
		covered.add(signal.Possession)
	}
	if q.workloads != nil {
		out = append(out, q.checkWorkload(sig))
		covered.add(signal.Workload)
	}
	if q.networks != nil {
		out = append(out, q.checkNetwork(sig))
		covered.add(signal.Network)
	}
	if q.moreRequirements != nil {
		if q.proxyChain != nil {
			out = append(out, q.checkProxy(sig))
			covered.add(signal.ProxyChain)
		}
		if q.posture != nil {
			out = append(out, q.checkPosture(sig))
			covered.add(signal.Posture)
		}
		if q.ci != nil {
			out = append(out, q.checkCI(sig))
			covered.add(signal.CI)
		}
		if q.windows != nil {
			out = append(out, q.checkWindows(sig))
		}
		if q.maxTokenAge > 0 {
			out = append(out, q.checkTokenAge(sig))
			covered.add(signal.Time) // only the token age says whether time was presented
		}
		if q.maxIdle > 0 {
			out = append(out, q.checkIdle(sig))
		}
	}
	if q.rule != nil {
		out = append(out, q.checkRule(b, sig))
	}
	for _, n := range b.RequireEvidence {
		if !covered.has(n) {
			out = append(out, evidenceCheck(sig, n))
			covered.add(n)
		}
	}
	for _, n := range invalidable {
		if !covered.has(n) {
			if p := problemOf(sig, n); p.Invalid() {
				out = append(out, invalidCheck(sig, n, "", p))
			}
		}
	}
	return out
}

// invalidable lists the signals that can be presented and invalid.
var invalidable = [...]signal.Name{signal.Workload, signal.Network, signal.ProxyChain, signal.Posture}

// sigSet is a small set of signal names.
type sigSet uint16

func sigBit(n signal.Name) sigSet {
	if i := slices.Index(signal.Names, n); i >= 0 {
		return 1 << i
	}
	return 0
}

func (s *sigSet) add(n signal.Name)     { *s |= sigBit(n) }
func (s sigSet) has(n signal.Name) bool { return s&sigBit(n) != 0 }

// problemOf returns the problem of a signal that can be invalid.
func problemOf(sig *signal.Signals, n signal.Name) signal.Problem {
	switch n {
	case signal.Workload:
		return sig.Workload.Problem
	case signal.Network:
		return sig.Network.Problem
	case signal.ProxyChain:
		return sig.Proxy.Problem
	case signal.Posture:
		return sig.Posture.Problem
	}
	return signal.Problem{}
}

// invalidCheck fails a presented-but-invalid signal with its own problem.
func invalidCheck(sig *signal.Signals, n signal.Name, expected string, p signal.Problem) Check {
	msg := p.Message
	if msg == "" {
		msg = "the " + strings.ReplaceAll(string(n), "_", " ") + " signal was presented but is invalid"
	}
	return Check{Signal: n, Status: StatusFail, Observed: observed(sig, n), Expected: expected, Reason: p.Code, Message: msg}
}

// present reports whether signal n was presented and is valid.
func present(sig *signal.Signals, n signal.Name) bool {
	switch n {
	case signal.Workload:
		return sig.Workload.Present && !sig.Workload.Problem.Invalid()
	case signal.Network:
		return sig.Network.Known() && !sig.Network.Problem.Invalid()
	case signal.ProxyChain:
		return sig.Proxy.Present && !sig.Proxy.Problem.Invalid()
	case signal.Posture:
		return sig.Posture.Present && !sig.Posture.Problem.Invalid()
	case signal.Issuer:
		return sig.Credential.Metadata.Issuer != ""
	case signal.CI:
		return sig.CI.Present
	case signal.Time:
		return sig.Time.HasTokenAge
	case signal.Possession:
		return sig.Credential.Possession.Method != ""
	}
	return false
}

// observed is a short description of what was seen for n, "" when nothing.
func observed(sig *signal.Signals, n signal.Name) string {
	switch n {
	case signal.Workload:
		return sig.Workload.ID
	case signal.Network:
		return addrString(sig.Network.Client)
	case signal.ProxyChain:
		return sig.Proxy.Chain()
	case signal.Posture:
		if sig.Posture.Attestor != "" || sig.Posture.HostID != "" {
			return sig.Posture.Attestor + " " + sig.Posture.HostID
		}
	case signal.Issuer:
		return sig.Credential.Metadata.Issuer
	case signal.CI:
		return sig.CI.Repository
	case signal.Time:
		if sig.Time.HasTokenAge {
			return "token age " + sig.Time.TokenAge.Round(time.Second).String()
		}
	case signal.Possession:
		return possessionName(sig.Credential.Possession.Method)
	}
	return ""
}

func evidenceCheck(sig *signal.Signals, n signal.Name) Check {
	if p := problemOf(sig, n); p.Invalid() {
		c := invalidCheck(sig, n, "present", p)
		c.Evidence = true
		return c
	}
	if present(sig, n) {
		return Check{Signal: n, Status: StatusPass, Observed: observed(sig, n), Expected: "present", Evidence: true}
	}
	return Check{Signal: n, Status: StatusAbsent, Expected: "present", Reason: reason.EvidenceMissing, Evidence: true,
		Message: "the binding requires " + strings.ReplaceAll(string(n), "_", " ") + " evidence, and none was presented"}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func possessionName(m string) string {
	if m == "" {
		return "bearer"
	}
	return m
}
