package network

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// MaxCIDREntries bounds the number of entries one CIDRSet may hold.
const MaxCIDREntries = 10000

// CIDRSet is a named set of address prefixes, such as "trusted_proxies" or
// "build_hosts". The zero value and a nil *CIDRSet contain nothing.
type CIDRSet struct {
	name     string
	prefixes []netip.Prefix // masked, IPv4 prefixes in 4-byte form
}

// ParseCIDRSet builds a set from entries, each a CIDR prefix ("10.0.0.0/8",
// "2001:db8::/32") or a single address ("192.0.2.7", "2001:db8::1").
//
// Entries must be canonical: a prefix with host bits set ("10.0.0.1/8") is an
// error, because it usually hides a typo in a security setting. Zones
// ("fe80::1%eth0") are rejected. IPv4-mapped IPv6 entries ("::ffff:10.0.0.0/104")
// are stored as the IPv4 prefix they denote. Errors name the set and the entry.
func ParseCIDRSet(name string, entries []string) (*CIDRSet, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("cidr set: empty name")
	}
	if len(entries) > MaxCIDREntries {
		return nil, fmt.Errorf("cidr set %q: %d entries, more than %d", name, len(entries), MaxCIDREntries)
	}
	s := &CIDRSet{name: name, prefixes: make([]netip.Prefix, 0, len(entries))}
	for i, e := range entries {
		p, err := parseEntry(strings.TrimSpace(e))
		if err != nil {
			return nil, fmt.Errorf("cidr set %q: entry %d %q: %w", name, i, e, err)
		}
		s.prefixes = append(s.prefixes, p)
	}
	return s, nil
}

func parseEntry(e string) (netip.Prefix, error) {
	if e == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry")
	}
	if !strings.Contains(e, "/") {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an address or prefix: %w", err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address zones are not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(e)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a prefix: %w", err)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("host bits set (did you mean %s?)", p.Masked())
	}
	if p.Addr().Is4In6() {
		// Canonical and mapped implies at least /96 (the ffff bits are set).
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// Name returns the set's name.
func (s *CIDRSet) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// Prefixes returns a copy of the set's prefixes, in configuration order.
func (s *CIDRSet) Prefixes() []netip.Prefix {
	if s == nil {
		return nil
	}
	return slices.Clone(s.prefixes)
}

// Contains reports whether a lies in one of the set's prefixes. An
// IPv4-mapped IPv6 address is unmapped first, and any zone is dropped, so
// "::ffff:10.1.2.3" is in "10.0.0.0/8". The invalid address is in no set.
func (s *CIDRSet) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	a = normalize(a)
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Sets is a collection of named CIDR sets, keyed by name.
type Sets map[string]*CIDRSet

// Match returns the names (map keys) of the sets containing a, sorted.
func (s Sets) Match(a netip.Addr) []string {
	var names []string
	for name, set := range s {
		if set.Contains(a) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// OriginPrefix returns the network origin of a as kept in origin history: its
// /24 for IPv4 (and IPv4-mapped IPv6) and its /64 for IPv6. The invalid
// address gives the zero Prefix.
func OriginPrefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = normalize(a)
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
