package backtest

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

const base = `version: 1
mode: enforce
networks: {ops: [10.1.0.0/16]}
bindings:
  - name: deploy
    match: {subject: "svc:deploy"}
    require: {networks: [ops]}
`

func parse(t *testing.T, src string) *binding.Set {
	t.Helper()
	s, err := binding.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record is what the engine would record deciding the request under set,
// with the given history findings.
func record(t *testing.T, set *binding.Set, sub, client string, findings ...origin.Finding) evidence.Record {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cred := credential.Result{Verdict: credential.Accepted, Kind: credential.KindJWT, Fingerprint: "fp-" + sub + "-" + client,
		Metadata: credential.Metadata{Issuer: "https://iss.test", Subject: sub}}
	if sub == "" {
		cred = credential.Result{Verdict: credential.Rejected, Reason: reason.JWSBadSignature, Message: "bad signature", Fingerprint: "fp-bad"}
	}
	sig := signal.Signals{Now: now, Method: "GET", Target: "/x", Credential: cred,
		Network: signal.NetworkSignal{Peer: netip.MustParseAddr(client), Client: netip.MustParseAddr(client)}}
	sig.Network.Sets = set.Networks().Match(sig.Network.Client)
	in := decision.Input{Credential: cred, Mode: set.Mode}
	if in.Binding = set.Match(&cred); in.Binding != nil {
		in.Mode = in.Binding.Mode
		in.Checks = in.Binding.Evaluate(&sig)
	}
	if cred.Accepted() {
		in.Findings = findings
	}
	return evidence.FromDecision(decision.Decide(in), sig, origin.FromSignals(&sig), evidence.Meta{RequestID: "r", Time: now})
}

func indexes(cs []Change) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.Index)
	}
	return out
}

func TestRun(t *testing.T) {
	old := parse(t, base)
	drift := origin.Finding{Code: reason.SourceDrift, Message: "the credential's traffic moved"}
	recs := []evidence.Record{
		record(t, old, "svc:deploy", "10.1.1.1"),        // 0 allow
		record(t, old, "svc:deploy", "10.9.9.9"),        // 1 deny: network
		record(t, old, "", "10.9.9.9"),                  // 2 rejected
		record(t, old, "svc:deploy", "10.1.1.2", drift), // 3 step_up: drift
		record(t, old, "svc:other", "10.1.1.3"),         // 4 deny: no binding
	}
	cases := []struct {
		name      string
		candidate string
		want      []int64
		skipped   []Skip
	}{
		{"same", base, nil, nil},
		{"everything from anywhere, rejected stays rejected",
			"version: 1\nmode: enforce\nbindings: [{name: all, match: {issuer: \"https://iss.test\"}}]\n", []int64{1, 4}, nil},
		{"learn mode: recorded history findings are dropped",
			"version: 1\nmode: learn\nbindings: [{name: all, match: {issuer: \"https://iss.test\"}}]\n", []int64{1, 3, 4}, nil},
		{"a claim binding first is not replayable",
			"version: 1\nmode: enforce\nbindings:\n  - {name: by-claim, match: {claims: {repo: x}}}\n  - {name: all, match: {issuer: \"https://iss.test\"}}\n",
			nil, []Skip{{Binding: "by-claim", Why: "it matches on claims, which evidence records do not keep", Requests: 4}}},
		{"a claim binding of another issuer is ruled out",
			"version: 1\nmode: enforce\nbindings:\n  - {name: by-claim, match: {issuer: other, claims: {repo: x}}}\n  - {name: all, match: {issuer: \"https://iss.test\"}}\n",
			[]int64{1, 4}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Run(t.Context(), Slice(recs), parse(t, c.candidate))
			if err != nil {
				t.Fatal(err)
			}
			if got := indexes(res.Changes); !slices.Equal(got, c.want) || res.Changed != int64(len(c.want)) {
				t.Errorf("changes %v (%d), want %v", got, res.Changed, c.want)
			}
			if !slices.Equal(res.NotReplayable, c.skipped) {
				t.Errorf("not replayable %+v, want %+v", res.NotReplayable, c.skipped)
			}
			left := int64(0)
			for _, s := range res.NotReplayable {
				left += int64(s.Requests)
			}
			if res.Total != int64(len(recs)) || res.Replayed+left != res.Total {
				t.Errorf("total %d replayed %d", res.Total, res.Replayed)
			}
		})
	}
}

func TestChangeNamesTheRequest(t *testing.T) {
	old := parse(t, base)
	rec := record(t, old, "svc:deploy", "10.9.9.9")
	res, err := Run(t.Context(), Slice([]evidence.Record{rec}), parse(t, "version: 1\nbindings: [{name: any, match: {subject: \"svc:*\"}}]\n"))
	if err != nil || len(res.Changes) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	c := res.Changes[0]
	if c.Fingerprint != rec.Credential.Fingerprint || c.Subject != "svc:deploy" || !c.Time.Equal(rec.Time.Time) ||
		c.Before.Decision != decision.Deny || c.Before.Binding != "deploy" || c.After.Decision != decision.Allow ||
		c.After.Binding != "any" || !slices.Equal(c.After.Reasons, []reason.Code{reason.ProvenanceVerified}) {
		t.Errorf("change %+v", c)
	}
}

// An operator's revocation in the log is no past request: a replay leaves
// it out of the totals and reports no change for it.
func TestEventRecordsAreNotReplayed(t *testing.T) {
	old := parse(t, base)
	rec := record(t, old, "svc:deploy", "10.9.9.9")
	rev := evidence.FromRevocation(revocation.Revocation{ID: "rev_1", Kind: revocation.KindFingerprint,
		Value: rec.Credential.Fingerprint, CreatedAt: rec.Time.Time}, "token", "")
	res, err := Run(t.Context(), Slice([]evidence.Record{rev, rec}), parse(t, "version: 1\nbindings: [{name: any, match: {subject: \"svc:*\"}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 || res.Replayed != 1 || len(res.Changes) != 1 || res.Changes[0].Index != 1 {
		t.Errorf("total %d, replayed %d, changes %+v: want the one decision only", res.Total, res.Replayed, res.Changes)
	}
}
