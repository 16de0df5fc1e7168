package origin

import (
	"slices"
	"time"
)

// Proposal is the tightest binding that covers a set of seen origins, for
// learn mode: each list is sorted and deduplicated, with empty values
// dropped (an origin with no workload adds no workload).
type Proposal struct {
	Workloads      []string
	Networks       []string
	ProxyChains    []string // hop names joined by ">"
	PostureClasses []string
	Uses           int64     // sum of the origins' Uses
	First, Last    time.Time // earliest FirstSeen and latest LastSeen; zero when none
}

// Propose returns the tightest Proposal covering seen (as Store.Learned
// returns it). Every seen origin counts, allowed or not.
func Propose(seen []Seen) Proposal {
	var p Proposal
	for _, s := range seen {
		p.Workloads = appendNonEmpty(p.Workloads, s.Origin.Workload)
		p.Networks = appendNonEmpty(p.Networks, s.Origin.Network)
		p.ProxyChains = appendNonEmpty(p.ProxyChains, s.Origin.ProxyChain)
		p.PostureClasses = appendNonEmpty(p.PostureClasses, s.Origin.Posture)
		p.Uses += s.Uses
		if !s.FirstSeen.IsZero() && (p.First.IsZero() || s.FirstSeen.Before(p.First)) {
			p.First = s.FirstSeen
		}
		if s.LastSeen.After(p.Last) {
			p.Last = s.LastSeen
		}
	}
	for _, l := range []*[]string{&p.Workloads, &p.Networks, &p.ProxyChains, &p.PostureClasses} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return p
}

func appendNonEmpty(list []string, v string) []string {
	if v == "" {
		return list
	}
	return append(list, v)
}
