package trail

import (
	"bytes"
	"net/netip"
	"slices"

	"github.com/provost-dev/provost/internal/evidence"
)

// Matcher tests records against a filter in memory, as the index's
// queries would select them; Follow uses it on records read from the log.
type Matcher struct {
	f      Filter
	lo, hi []byte // the network's range, when f.Network is set
}

// NewMatcher checks f (as Validate does) and returns its Matcher. f.Limit
// is ignored.
func NewMatcher(f Filter) (*Matcher, error) {
	m := &Matcher{f: f}
	if f.Network != "" {
		var err error
		if m.lo, m.hi, err = addrRange(f.Network); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Match reports whether the filter selects r.
func (m *Matcher) Match(r *evidence.Record) bool {
	f := &m.f
	switch {
	case f.Fingerprint != "" && r.Fingerprint() != f.Fingerprint,
		f.Workload != "" && workloadOf(r) != f.Workload,
		f.Binding != "" && r.Binding != f.Binding,
		f.Decision != "" && string(r.Decision) != f.Decision,
		!f.From.IsZero() && r.Time.UnixNano() < f.From.UnixNano(),
		!f.To.IsZero() && r.Time.UnixNano() >= f.To.UnixNano():
		return false
	}
	if f.Reason != "" && !slices.ContainsFunc(r.Reasons, func(c evidence.Reason) bool { return string(c.Code) == f.Reason }) {
		return false
	}
	if m.lo != nil {
		a, err := netip.ParseAddr(clientOf(r))
		if err != nil {
			return false
		}
		k := a.As16()
		return bytes.Compare(k[:], m.lo) >= 0 && bytes.Compare(k[:], m.hi) <= 0
	}
	return true
}
