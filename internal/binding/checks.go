package binding

import (
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

func pass(n signal.Name, obs, exp string) Check {
	return Check{Signal: n, Status: StatusPass, Observed: obs, Expected: exp}
}

func fail(n signal.Name, obs, exp string, code reason.Code, msg string) Check {
	return Check{Signal: n, Status: StatusFail, Observed: obs, Expected: exp, Reason: code, Message: msg}
}

func absent(n signal.Name, exp string, code reason.Code, msg string) Check {
	return Check{Signal: n, Status: StatusAbsent, Expected: exp, Reason: code, Message: msg}
}

func (q *requirements) checkPossession(sig *signal.Signals) Check {
	got := sig.Credential.Possession.Method
	if got == q.possession {
		return pass(signal.Possession, got, q.possession)
	}
	obs := possessionName(got)
	return fail(signal.Possession, obs, q.possession, reason.PossessionRequired,
		"the binding requires "+q.possession+" proof of possession, and the request presented "+obs)
}

func (q *requirements) checkWorkload(sig *signal.Signals) Check {
	w := &sig.Workload
	switch {
	case w.Problem.Invalid():
		return invalidCheck(sig, signal.Workload, q.workloadsText, w.Problem)
	case !w.Present:
		return absent(signal.Workload, q.workloadsText, reason.WorkloadAbsent,
			"the binding requires a workload identity, and the request presented none")
	}
	for _, p := range q.workloads {
		if p.Match(w.ID) {
			return pass(signal.Workload, w.ID, q.workloadsText)
		}
	}
	return fail(signal.Workload, w.ID, q.workloadsText, reason.WorkloadNotApproved,
		"the workload "+w.ID+" is not approved for this credential")
}

func (q *requirements) checkNetwork(sig *signal.Signals) Check {
	n := &sig.Network
	switch {
	case n.Problem.Invalid():
		return invalidCheck(sig, signal.Network, q.networksText, n.Problem)
	case !n.Known():
		return absent(signal.Network, q.networksText, reason.ClientAddressUnknown,
			"the binding requires an approved network, and the client address is unknown")
	}
	obs := n.Client.String()
	for _, set := range q.networks {
		if set.Contains(n.Client) {
			return pass(signal.Network, obs, q.networksText)
		}
	}
	return fail(signal.Network, obs, q.networksText, reason.NetworkNotApproved,
		"the request came from "+obs+", outside the approved networks")
}

func (q *requirements) checkProxy(sig *signal.Signals) Check {
	p := &sig.Proxy
	switch {
	case p.Problem.Invalid():
		return invalidCheck(sig, signal.ProxyChain, q.proxyText, p.Problem)
	case !p.Present:
		return absent(signal.ProxyChain, q.proxyText, reason.ProxyChainAbsent,
			"the binding requires the request to pass the approved proxy chain, and it carried no hop attestation")
	}
	obs := p.Chain()
	if obs == q.proxyText {
		return pass(signal.ProxyChain, obs, q.proxyText)
	}
	return fail(signal.ProxyChain, obs, q.proxyText, reason.ProxyChainMismatch,
		"the request passed the proxy chain "+obs+", not the approved one")
}

func postureValue(p *signal.PostureSignal, key string) (string, bool) {
	switch key {
	case "attestor":
		return p.Attestor, true
	case "host_id":
		return p.HostID, true
	case "image_digest":
		return p.ImageDigest, true
	case "runner_type":
		return p.RunnerType, true
	case "os":
		return p.OS, true
	case "class":
		return p.Class, true
	}
	v, ok := p.Claims[key].(string)
	return v, ok
}

func (q *requirements) checkPosture(sig *signal.Signals) Check {
	p := &sig.Posture
	switch {
	case p.Problem.Invalid():
		return invalidCheck(sig, signal.Posture, q.postureText, p.Problem)
	case !p.Present:
		return absent(signal.Posture, q.postureText, reason.PostureAbsent,
			"the binding requires a posture attestation, and the request presented none")
	}
	return fieldsCheck(signal.Posture, q.posture, q.postureText, reason.PostureMismatch, "posture",
		func(k string) (string, bool) { return postureValue(p, k) })
}

func ciValue(c *signal.CISignal, key string) (string, bool) {
	switch key {
	case "repository":
		return c.Repository, true
	case "repository_id":
		return c.RepositoryID, true
	case "workflow_ref":
		return c.WorkflowRef, true
	case "runner_environment":
		return c.RunnerEnvironment, true
	case "environment":
		return c.Environment, true
	case "event":
		return c.Event, true
	}
	return "", false
}

func (q *requirements) checkCI(sig *signal.Signals) Check {
	c := &sig.CI
	if !c.Present {
		return absent(signal.CI, q.ciText, reason.CIAbsent,
			"the binding requires CI provenance, and the credential carries no CI claims")
	}
	return fieldsCheck(signal.CI, q.ci, q.ciText, reason.CIMismatch, "CI",
		func(k string) (string, bool) { return ciValue(c, k) })
}

// fieldsCheck compares each required key; the first mismatch fails.
func fieldsCheck(n signal.Name, fields []fieldGlob, exp string, code reason.Code, what string, get func(string) (string, bool)) Check {
	var obs strings.Builder
	obs.Grow(len(exp) + 32)
	for i := range fields {
		f := &fields[i]
		v, ok := get(f.key)
		if !ok || !f.g.match(v) {
			o := f.key + "=" + v
			if !ok {
				o = f.key + " missing"
			}
			return fail(n, o, f.key+"="+f.g.raw, code, "the "+what+" "+o+" does not match the approved "+f.key+"="+f.g.raw)
		}
		if i > 0 {
			obs.WriteByte(' ')
		}
		obs.WriteString(f.key)
		obs.WriteByte('=')
		obs.WriteString(v)
	}
	return pass(n, obs.String(), exp)
}

func (q *requirements) checkWindows(sig *signal.Signals) Check {
	for i := range q.windows {
		if q.windows[i].contains(sig.Now) {
			return pass(signal.Time, clock(sig.Now, q.windows[i].loc), q.windowsText)
		}
	}
	obs := clock(sig.Now, q.windows[0].loc)
	return fail(signal.Time, obs, q.windowsText, reason.OutsideTimeWindow,
		"the request came at "+obs+", outside the approved time windows")
}

func clock(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 15:04 MST")
}

func (q *requirements) checkTokenAge(sig *signal.Signals) Check {
	exp := "at most " + q.maxTokenAge.String()
	if !sig.Time.HasTokenAge {
		return absent(signal.Time, exp, reason.TokenAgeUnknown,
			"the binding bounds the token's age, and the credential has no issue time (iat)")
	}
	age := sig.Time.TokenAge.Round(time.Second)
	if sig.Time.TokenAge > q.maxTokenAge {
		return fail(signal.Time, "token age "+age.String(), exp, reason.TokenTooOld,
			"the token was issued "+age.String()+" ago, longer than the approved "+q.maxTokenAge.String())
	}
	return pass(signal.Time, "token age "+age.String(), exp)
}

func (q *requirements) checkIdle(sig *signal.Signals) Check {
	exp := "idle at most " + q.maxIdle.String()
	if sig.Time.LastSeen.IsZero() {
		return pass(signal.Time, "first use", exp)
	}
	idle := sig.Time.SinceLastSeen(sig.Now).Round(time.Second)
	if sig.Time.SinceLastSeen(sig.Now) > q.maxIdle {
		return fail(signal.Time, "idle "+idle.String(), exp, reason.IdleTooLong,
			"the credential was unused for "+idle.String()+", longer than the approved "+q.maxIdle.String())
	}
	return pass(signal.Time, "idle "+idle.String(), exp)
}

func (q *requirements) checkRule(b *Binding, sig *signal.Signals) Check {
	ok, err := q.rule.eval(b, sig)
	switch {
	case err != nil:
		return fail(signal.Rule, "", q.rule.src, reason.RuleError,
			"the binding's rule could not be evaluated, so it fails closed: "+shorten(err.Error()))
	case !ok:
		return fail(signal.Rule, "false", q.rule.src, reason.RuleFailed, "the binding's rule does not hold for this request")
	}
	return pass(signal.Rule, "true", q.rule.src)
}
