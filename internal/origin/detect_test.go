package origin

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/reason"
)

func TestDetect(t *testing.T) {
	now := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	agent := Origin{Workload: "spiffe://example.org/agent", Network: "10.0.1.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}
	copyA := Origin{Network: "198.51.100.0/24"}
	vendorB := Origin{Workload: "spiffe://vendor.example/sync", Network: "192.0.2.0/24"}
	noWorkload := Origin{Network: "10.0.1.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	seen := func(o Origin, last time.Time, allowed int64) Seen {
		return Seen{Origin: o, FirstSeen: last.Add(-time.Hour), LastSeen: last, Uses: allowed + 1, Allowed: allowed}
	}
	// hist builds a history whose LastSeen is its most recent origin's.
	hist := func(s ...Seen) History {
		h := History{Origins: s}
		slices.SortFunc(h.Origins, CompareSeen)
		for _, o := range s {
			h.Uses += o.Uses
			if o.LastSeen.After(h.LastSeen) {
				h.LastSeen = o.LastSeen
			}
		}
		return h
	}
	const W, D = DefaultConcurrentWindow, DefaultDormancy
	type want struct {
		code     reason.Code
		contains []string
	}
	tests := []struct {
		name string
		cfg  Config
		h    History
		cur  Origin
		want []want
	}{
		{"first use", Config{}, History{}, agent, nil},
		{"only refused uses: nothing known", Config{}, hist(seen(copyA, ago(time.Minute), 0)), agent, nil},
		{"same known origin", Config{}, hist(seen(agent, ago(time.Second), 3)), agent, nil},
		{"new origin while known in use: copied", Config{}, hist(seen(agent, ago(time.Minute), 5)), copyA, []want{
			{reason.CopiedCredential, []string{"in use from " + agent.String(), "at the same time, from " + copyA.String()}},
			{reason.ConcurrentOrigins, []string{agent.String(), copyA.String(), "1 minute ago"}},
		}},
		{"new origin, known seen exactly ConcurrentWindow ago: copied", Config{}, hist(seen(agent, ago(W), 5)), copyA, []want{
			{reason.CopiedCredential, nil}, {reason.ConcurrentOrigins, []string{"within 5 minutes"}},
		}},
		{"new origin, known seen just over ConcurrentWindow ago: drift", Config{}, hist(seen(agent, ago(W+time.Microsecond), 5)), copyA, []want{
			{reason.SourceDrift, []string{"moved from " + agent.String() + " to " + copyA.String()}},
		}},
		{"known origin from a clock ahead counts as now", Config{}, hist(seen(agent, now.Add(time.Minute), 5)), copyA, []want{
			{reason.CopiedCredential, nil}, {reason.ConcurrentOrigins, []string{"0 seconds ago"}},
		}},
		{"drift names the most recent known origin", Config{}, hist(seen(agent, ago(3*time.Hour), 5), seen(vendorB, ago(time.Hour), 2)), copyA, []want{
			{reason.SourceDrift, []string{"moved from " + vendorB.String() + " to " + copyA.String()}},
		}},
		{"refused uses do not make an origin known (cur)", Config{}, hist(seen(agent, ago(2*time.Hour), 5), seen(copyA, ago(time.Hour), 0)), copyA, []want{
			{reason.SourceDrift, []string{"moved from " + agent.String()}},
		}},
		{"refused uses do not make an origin known (recent other)", Config{}, hist(seen(agent, ago(2*time.Hour), 5), seen(vendorB, ago(time.Minute), 0)), copyA, []want{
			{reason.SourceDrift, []string{"moved from " + agent.String()}},
		}},
		{"refused recent other does not make a known cur concurrent", Config{}, hist(seen(agent, ago(2*time.Hour), 5), seen(vendorB, ago(time.Minute), 0)), agent, nil},
		{"known cur, other known within window: concurrent only", Config{}, hist(seen(agent, ago(time.Hour), 5), seen(vendorB, ago(2*time.Minute), 2)), agent, []want{
			{reason.ConcurrentOrigins, []string{vendorB.String() + " 2 minutes ago and now from " + agent.String()}},
		}},
		{"known cur, other known exactly ConcurrentWindow ago: concurrent", Config{}, hist(seen(agent, ago(time.Hour), 5), seen(vendorB, ago(W), 2)), agent, []want{
			{reason.ConcurrentOrigins, nil},
		}},
		{"known cur, other known outside window: nothing", Config{}, hist(seen(agent, ago(time.Hour), 5), seen(vendorB, ago(W+time.Microsecond), 2)), agent, nil},
		{"missing workload is a different origin", Config{}, hist(seen(agent, ago(time.Hour), 5)), noWorkload, []want{
			{reason.SourceDrift, []string{"to workload=none network=10.0.1.0/24"}},
		}},
		{"added workload is a different origin", Config{}, hist(seen(noWorkload, ago(time.Hour), 5)), agent, []want{
			{reason.SourceDrift, nil},
		}},
		{"dormant exactly Dormancy", Config{}, hist(seen(agent, ago(D), 5)), agent, []want{
			{reason.DormantRevival, []string{"unused for 30 days, then used"}},
		}},
		{"just under Dormancy", Config{}, hist(seen(agent, ago(D-time.Microsecond), 5)), agent, nil},
		{"dormant and drifted", Config{}, hist(seen(agent, ago(41*24*time.Hour+5*time.Hour), 5)), vendorB, []want{
			{reason.DormantRevival, []string{"unused for 41 days, then used"}},
			{reason.SourceDrift, []string{"moved from " + agent.String() + " to " + vendorB.String()}},
		}},
		{"dormancy counts refused uses too", Config{}, hist(seen(copyA, ago(D), 0)), agent, []want{
			{reason.DormantRevival, nil},
		}},
		{"custom config", Config{ConcurrentWindow: 30 * time.Second, Dormancy: time.Hour},
			hist(seen(agent, ago(3*time.Hour), 5), seen(vendorB, ago(time.Minute), 2)), copyA, []want{
				{reason.SourceDrift, []string{"moved from " + vendorB.String()}},
			}},
		{"custom dormancy", Config{ConcurrentWindow: 30 * time.Second, Dormancy: time.Hour},
			hist(seen(agent, ago(90*time.Minute), 5)), agent, []want{
				{reason.DormantRevival, []string{"unused for 1 hour, then used"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.cfg, tt.h, tt.cur, now)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Code != w.code {
					t.Fatalf("finding %d: code %s, want %s (all: %+v)", i, got[i].Code, w.code, got)
				}
				for _, s := range w.contains {
					if !strings.Contains(got[i].Message, s) {
						t.Errorf("finding %d (%s): message %q lacks %q", i, got[i].Code, got[i].Message, s)
					}
				}
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 seconds"},
		{0, "0 seconds"},
		{time.Second, "1 second"},
		{59 * time.Second, "59 seconds"},
		{time.Minute, "1 minute"},
		{2*time.Hour + 59*time.Minute, "2 hours"},
		{24 * time.Hour, "1 day"},
		{41*24*time.Hour + 23*time.Hour, "41 days"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
