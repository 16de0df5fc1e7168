package network

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseCIDRSet(t *testing.T) {
	tests := []struct {
		name    string
		set     string
		entries []string
		want    []string // prefixes, when no error
		wantErr string   // substring of the error
	}{
		{name: "cidrs and addresses", set: "proxies",
			entries: []string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "2001:db8:1::1"},
			want:    []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "2001:db8:1::1/128"}},
		{name: "mapped prefix stored as IPv4", set: "s", entries: []string{"::ffff:10.0.0.0/104", "::ffff:192.0.2.1"},
			want: []string{"10.0.0.0/8", "192.0.2.1/32"}},
		{name: "empty list matches nothing", set: "none", entries: nil, want: []string{}},
		{name: "empty name", set: " ", entries: []string{"10.0.0.0/8"}, wantErr: "empty name"},
		{name: "garbage", set: "proxies", entries: []string{"10.0.0.0/8", "not-an-ip"}, wantErr: `"proxies": entry 1 "not-an-ip"`},
		{name: "host bits", set: "proxies", entries: []string{"10.0.0.1/8"}, wantErr: `"10.0.0.1/8": host bits set (did you mean 10.0.0.0/8?)`},
		{name: "bad bits", set: "proxies", entries: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{name: "empty entry", set: "proxies", entries: []string{""}, wantErr: "empty entry"},
		{name: "zone", set: "proxies", entries: []string{"fe80::1%eth0"}, wantErr: "zones"},
		{name: "mapped /96 is all IPv4", set: "s", entries: []string{"::ffff:0:0/96"}, want: []string{"0.0.0.0/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseCIDRSet(tt.set, tt.entries)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != tt.set {
				t.Errorf("Name() = %q, want %q", s.Name(), tt.set)
			}
			got := []string{}
			for _, p := range s.Prefixes() {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("prefixes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseCIDRSetTooMany(t *testing.T) {
	entries := make([]string, MaxCIDREntries+1)
	for i := range entries {
		entries[i] = "10.0.0.1"
	}
	if _, err := ParseCIDRSet("big", entries); err == nil {
		t.Fatal("no error for too many entries")
	}
}

func TestCIDRSetContains(t *testing.T) {
	s, err := ParseCIDRSet("proxies", []string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"11.0.0.1", false},
		{"::ffff:10.1.2.3", true}, // IPv4-mapped is unmapped first
		{"::ffff:11.0.0.1", false},
		{"192.0.2.10", true},
		{"192.0.2.11", false},
		{"2001:db8:ffff:1::1", true},
		{"2001:db8:fffe::1", false},
		{"fe80::1%eth0", false},
		{"::a00:1", false}, // IPv4-compatible, not mapped: not 10.0.0.1
	}
	for _, tt := range tests {
		if got := s.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if s.Contains(netip.Addr{}) {
		t.Error("invalid address contained")
	}
	var nilSet *CIDRSet
	if nilSet.Contains(netip.MustParseAddr("10.0.0.1")) || nilSet.Name() != "" {
		t.Error("nil set is not empty")
	}
}

func TestSetsMatch(t *testing.T) {
	mk := func(name string, e ...string) *CIDRSet {
		s, err := ParseCIDRSet(name, e)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sets := Sets{
		"office":      mk("office", "198.51.100.0/24"),
		"build_hosts": mk("build_hosts", "198.51.100.7", "2001:db8::/32"),
		"ci":          mk("ci", "198.51.100.0/25"),
		"nil":         nil,
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"198.51.100.7", []string{"build_hosts", "ci", "office"}},
		{"::ffff:198.51.100.200", []string{"office"}},
		{"2001:db8::9", []string{"build_hosts"}},
		{"203.0.113.1", nil},
	}
	for _, tt := range tests {
		if got := sets.Match(netip.MustParseAddr(tt.addr)); !slices.Equal(got, tt.want) {
			t.Errorf("Match(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestOriginPrefix(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"198.51.100.77", "198.51.100.0/24"},
		{"::ffff:198.51.100.77", "198.51.100.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	}
	for _, tt := range tests {
		if got := OriginPrefix(netip.MustParseAddr(tt.addr)).String(); got != tt.want {
			t.Errorf("OriginPrefix(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
	if OriginPrefix(netip.Addr{}).IsValid() {
		t.Error("OriginPrefix(invalid) is valid")
	}
}
