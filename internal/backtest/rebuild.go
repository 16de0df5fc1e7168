package backtest

import (
	"net/netip"
	"time"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/signal"
)

// credentialOf rebuilds the accepted credential from what the record holds:
// everything but the claims.
func credentialOf(rec *evidence.Record) credential.Result {
	c, is := &rec.Credential, &rec.Credential.Issuer
	out := credential.Result{
		Verdict: c.Verdict, Reason: c.Reason, Message: c.Message, Kind: c.Kind, Fingerprint: c.Fingerprint,
		Metadata: credential.Metadata{
			Issuer: is.Issuer, Subject: is.Subject, Audience: is.Audience, KeyID: is.KeyID,
			Algorithm: is.Algorithm, Type: is.Type, JTI: is.JTI, IssuedAt: is.IssuedAt.Time,
			ExpiresAt: is.ExpiresAt.Time, AgeSeconds: is.AgeSeconds, AZP: is.AZP, ClientID: is.ClientID,
			APIKey: is.APIKey,
		},
		Possession:   credential.Possession(c.Possession),
		RevocationID: c.RevocationID,
	}
	for _, a := range is.Act {
		out.Metadata.Act = append(out.Metadata.Act, credential.Actor(a))
	}
	if is.Cnf != (evidence.Confirmation{}) {
		cnf := credential.Confirmation(is.Cnf)
		out.Metadata.Cnf = &cnf
	}
	return out
}

// signalsOf rebuilds the signals from the record. The network sets are
// those of the candidate's networks that hold the client address.
func (r *Replayer) signalsOf(rec *evidence.Record, cred credential.Result) signal.Signals {
	s, p := &rec.Signals, &rec.Signals.Posture
	out := signal.Signals{
		Now: rec.Time.Time, Method: rec.Request.Method, Target: rec.Request.Path, Credential: cred,
		Workload: signal.WorkloadSignal{Present: s.Workload.Present, ID: s.Workload.ID, Source: s.Workload.Source,
			NotAfter: s.Workload.NotAfter.Time, Problem: signal.Problem(s.Workload.Problem)},
		Network: signal.NetworkSignal{Peer: parseAddr(s.Network.Peer), Client: parseAddr(s.Network.Client),
			FromHeader: s.Network.FromHeader, Origin: s.Network.Origin, Problem: signal.Problem(s.Network.Problem)},
		Proxy: signal.ProxySignal{Present: s.Proxy.Present, Hops: s.Proxy.Hops, Problem: signal.Problem(s.Proxy.Problem)},
		Posture: signal.PostureSignal{Present: p.Present, Attestor: p.Attestor, HostID: p.HostID,
			ImageDigest: p.ImageDigest, RunnerType: p.RunnerType, OS: p.OS, Class: p.Class,
			IssuedAt: p.IssuedAt.Time, Problem: signal.Problem(p.Problem)},
		CI: signal.CISignal(s.CI),
		Time: signal.TimeSignal{TokenAge: timeDuration(s.Time.TokenAgeNanos), HasTokenAge: s.Time.HasTokenAge,
			LastSeen: s.Time.LastSeen.Time},
	}
	if out.Network.Client.IsValid() {
		out.Network.Sets = r.nets.Match(out.Network.Client)
	}
	return out
}

func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

func timeDuration(ns int64) time.Duration { return time.Duration(ns) }
