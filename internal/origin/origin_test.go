package origin

import (
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

func TestKeyUnambiguous(t *testing.T) {
	// Each group's origins would collide under a naive join of the fields.
	groups := [][]Origin{
		{{Workload: "a|b"}, {Workload: "a", Network: "b"}, {Network: "a|b"}},
		{{Workload: `a\`, Network: "b"}, {Workload: `a\|b`}, {Workload: `a\\`, Network: "b"}, {Workload: `a`, Network: `\b`}},
		{{ProxyChain: "x|"}, {ProxyChain: "x", Posture: ""}, {Posture: "|x"}, {ProxyChain: `x\`}},
		{{}, {Workload: "|||"}, {Posture: "|"}, {Workload: `\`}},
		{{ProxyChain: "a>b"}, {ProxyChain: "a", Posture: ">b"}},
	}
	for _, g := range groups {
		for i, a := range g {
			for j, b := range g {
				if (a.Key() == b.Key()) != (i == j) {
					t.Errorf("Key(%#v) = %q, Key(%#v) = %q", a, a.Key(), b, b.Key())
				}
			}
		}
	}
	tests := []struct {
		o    Origin
		want string
	}{
		{Origin{}, "|||"},
		{Origin{Workload: "spiffe://example.org/a", Network: "10.0.0.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}, "spiffe://example.org/a|10.0.0.0/24|edge>mesh|hardened"},
		{Origin{Workload: `a|b\c`}, `a\|b\\c|||`},
	}
	for _, tt := range tests {
		if got := tt.o.Key(); got != tt.want {
			t.Errorf("Key(%#v) = %q, want %q", tt.o, got, tt.want)
		}
	}
}

// parseKey inverts Key, for the fuzz test.
func parseKey(k string) (Origin, bool) {
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c == '\\':
			if i+1 == len(k) {
				return Origin{}, false
			}
			i++
			cur.WriteByte(k[i])
		case c == '|':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	fields = append(fields, cur.String())
	if len(fields) != 4 {
		return Origin{}, false
	}
	return Origin{Workload: fields[0], Network: fields[1], ProxyChain: fields[2], Posture: fields[3]}, true
}

func FuzzKey(f *testing.F) {
	f.Add("a|b", "", `c\`, "|")
	f.Add("spiffe://example.org/a", "10.0.0.0/24", "edge>mesh", "hardened")
	f.Fuzz(func(t *testing.T, w, n, c, p string) {
		o := Origin{Workload: w, Network: n, ProxyChain: c, Posture: p}
		back, ok := parseKey(o.Key())
		if !ok || back != o {
			t.Fatalf("Key(%#v) = %q does not decode back (got %#v, %v)", o, o.Key(), back, ok)
		}
	})
}

func TestString(t *testing.T) {
	tests := []struct {
		o    Origin
		want string
	}{
		{Origin{}, "workload=none network=none chain=none posture=none"},
		{Origin{Workload: "spiffe://example.org/ci", Network: "203.0.113.0/24", ProxyChain: "edge>mesh", Posture: "hardened"},
			"workload=spiffe://example.org/ci network=203.0.113.0/24 chain=edge>mesh posture=hardened"},
		{Origin{Posture: "none"}, `workload=none network=none chain=none posture="none"`},
		{Origin{Posture: "a b\n"}, `workload=none network=none chain=none posture="a b\n"`},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("String(%#v) = %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestFromSignals(t *testing.T) {
	bad := signal.Problem{Code: reason.HopBadSignature, Message: "bad"}
	full := func() *signal.Signals {
		return &signal.Signals{
			Workload: signal.WorkloadSignal{Present: true, ID: "spiffe://example.org/agent"},
			Network:  signal.NetworkSignal{Origin: "10.0.1.0/24"},
			Proxy:    signal.ProxySignal{Present: true, Hops: []string{"edge", "mesh"}},
			Posture:  signal.PostureSignal{Present: true, Class: "hardened"},
		}
	}
	tests := []struct {
		name   string
		modify func(*signal.Signals)
		want   Origin
	}{
		{"all valid", func(*signal.Signals) {}, Origin{Workload: "spiffe://example.org/agent", Network: "10.0.1.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}},
		{"invalid workload", func(s *signal.Signals) { s.Workload.Problem = bad }, Origin{Workload: "", Network: "10.0.1.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}},
		{"invalid chain", func(s *signal.Signals) { s.Proxy.Problem = bad }, Origin{Workload: "spiffe://example.org/agent", Network: "10.0.1.0/24", ProxyChain: "", Posture: "hardened"}},
		{"invalid posture", func(s *signal.Signals) { s.Posture.Problem = bad }, Origin{Workload: "spiffe://example.org/agent", Network: "10.0.1.0/24", ProxyChain: "edge>mesh", Posture: ""}},
		{"absent", func(s *signal.Signals) {
			s.Workload.Present, s.Proxy.Present, s.Posture.Present = false, false, false
		}, Origin{Network: "10.0.1.0/24"}},
		{"unknown network", func(s *signal.Signals) { s.Network.Origin = "" }, Origin{Workload: "spiffe://example.org/agent", Network: "", ProxyChain: "edge>mesh", Posture: "hardened"}},
	}
	for _, tt := range tests {
		s := full()
		tt.modify(s)
		if got := FromSignals(s); got != tt.want {
			t.Errorf("%s: FromSignals = %#v, want %#v", tt.name, got, tt.want)
		}
	}
	if got := FromSignals(nil); got != (Origin{}) {
		t.Errorf("FromSignals(nil) = %#v", got)
	}
}

func TestKnown(t *testing.T) {
	a, b := Origin{Network: "a"}, Origin{Network: "b"}
	h := History{Origins: []Seen{{Origin: a, Uses: 3, Allowed: 0}, {Origin: b, Uses: 1, Allowed: 1}}}
	if _, ok := h.Known(a); ok {
		t.Error("origin with no allowed use is known")
	}
	if s, ok := h.Known(b); !ok || s.Origin != b {
		t.Errorf("Known(b) = %+v, %v", s, ok)
	}
	if _, ok := h.Known(Origin{}); ok {
		t.Error("unseen origin is known")
	}
}
