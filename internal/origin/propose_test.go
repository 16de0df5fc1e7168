package origin

import (
	"reflect"
	"testing"
	"time"
)

func TestPropose(t *testing.T) {
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		seen []Seen
		want Proposal
	}{
		{"nothing", nil, Proposal{}},
		{"one full origin", []Seen{{
			Origin:    Origin{Workload: "spiffe://example.org/ci", Network: "10.0.0.0/24", ProxyChain: "edge>mesh", Posture: "hardened"},
			FirstSeen: t0, LastSeen: t0.Add(time.Hour), Uses: 3, Allowed: 3,
		}}, Proposal{
			Workloads: []string{"spiffe://example.org/ci"}, Networks: []string{"10.0.0.0/24"},
			ProxyChains: []string{"edge>mesh"}, PostureClasses: []string{"hardened"},
			Uses: 3, First: t0, Last: t0.Add(time.Hour),
		}},
		{"sorted, deduplicated, empties dropped", []Seen{
			{Origin: Origin{Workload: "spiffe://b", Network: "10.0.1.0/24"}, FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(5 * time.Hour), Uses: 2},
			{Origin: Origin{Workload: "spiffe://a", Network: "10.0.1.0/24", ProxyChain: "edge"}, FirstSeen: t0.Add(-time.Hour), LastSeen: t0, Uses: 1, Allowed: 1},
			{Origin: Origin{Workload: "spiffe://b", Network: "2001:db8::/64", ProxyChain: "edge>mesh", Posture: "ci"}, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour), Uses: 4},
			{Origin: Origin{}, FirstSeen: t0, LastSeen: t0, Uses: 1},
		}, Proposal{
			Workloads:      []string{"spiffe://a", "spiffe://b"},
			Networks:       []string{"10.0.1.0/24", "2001:db8::/64"},
			ProxyChains:    []string{"edge", "edge>mesh"},
			PostureClasses: []string{"ci"},
			Uses:           8, First: t0.Add(-time.Hour), Last: t0.Add(5 * time.Hour),
		}},
		{"only empty origins", []Seen{{FirstSeen: t0, LastSeen: t0, Uses: 2}}, Proposal{Uses: 2, First: t0, Last: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Propose(tt.seen); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Propose:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
