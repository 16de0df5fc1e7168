package network

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

func testTrusted(t testing.TB) *CIDRSet {
	t.Helper()
	s, err := ParseCIDRSet("trusted_proxies", []string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestResolve(t *testing.T) {
	const (
		proxy  = "10.0.0.1"
		proxy2 = "10.0.0.2"
		client = "198.51.100.7"
	)
	tests := []struct {
		name       string
		header     Header
		peer       string
		xff, fwd   []string
		client     string // "" means the invalid address
		hops       []string
		fromHeader bool
		stop       Stop
		usedHeader string
		origin     string
	}{
		// A client that types its own headers while connecting directly gains nothing.
		{name: "direct client with own XFF", peer: "203.0.113.5", xff: []string{"10.0.0.3"},
			client: "203.0.113.5", stop: StopNone, origin: "203.0.113.0/24"},
		{name: "direct client with own Forwarded", peer: "203.0.113.5", fwd: []string{"for=10.0.0.3"},
			client: "203.0.113.5", stop: StopNone, origin: "203.0.113.0/24"},
		{name: "direct client with oversize XFF ignored", peer: "203.0.113.5", xff: []string{strings.Repeat("1.2.3.4,", 2000)},
			client: "203.0.113.5", stop: StopNone, origin: "203.0.113.0/24"},
		{name: "trusted peer without headers", peer: proxy,
			client: proxy, stop: StopNone, origin: "10.0.0.0/24"},
		{name: "trusted peer with empty elements only", peer: proxy, xff: []string{" , ,"},
			client: proxy, stop: StopNone, origin: "10.0.0.0/24"},

		{name: "one trusted proxy", peer: proxy, xff: []string{client},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "chain of two trusted proxies", peer: proxy, xff: []string{client + ", " + proxy2},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "spoofed leftmost entries ignored", peer: proxy, xff: []string{"1.1.1.1, 10.9.9.9", client + ",10.0.0.2"},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "spoofed trusted-looking entry left of client ignored", peer: proxy, xff: []string{"10.0.0.99, " + client},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "multiple header lines", peer: proxy, xff: []string{"203.0.113.9", client, proxy2},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "IPv6", peer: "2001:db8:ffff::1", xff: []string{"2001:db8:1:2::5, 2001:db8:ffff:9::1"},
			client: "2001:db8:1:2::5", hops: []string{"2001:db8:ffff::1", "2001:db8:ffff:9::1"}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped peer and entries", peer: "::ffff:10.0.0.1", xff: []string{"::ffff:198.51.100.7, ::ffff:10.0.0.2"},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "XFF with ports", peer: proxy, xff: []string{"[2001:db8::7]:443, 198.51.100.8:4711, [2001:db8:ffff::2]"},
			client: "198.51.100.8", hops: []string{proxy, "2001:db8:ffff::2"}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "all trusted: leftmost is the client", peer: proxy, xff: []string{"10.0.0.3, 10.0.0.2"},
			client: "10.0.0.3", hops: []string{proxy, proxy2}, fromHeader: true, stop: StopExhausted, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},

		// Malformed elements: the element to the right is the client, not a hop.
		{name: "malformed left of trusted", peer: proxy, xff: []string{"garbage, " + proxy2},
			client: proxy2, hops: []string{proxy}, fromHeader: true, stop: StopMalformed, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},
		{name: "malformed rightmost: peer is the client", peer: proxy, xff: []string{client + ", not-an-ip"},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},
		{name: "malformed left of untrusted never reached", peer: proxy, xff: []string{"bad bad, " + client},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "198.51.100.0/24"},
		{name: "XFF zone is malformed", peer: proxy, xff: []string{"fe80::1%eth0"},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},
		{name: "XFF quoted is malformed", peer: proxy, xff: []string{`"198.51.100.7"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},
		{name: "XFF IPv6 port without brackets is malformed", peer: proxy, xff: []string{"2001:db8::7:443:x"},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameXFF, origin: "10.0.0.0/24"},
		{name: "XFF unknown", peer: proxy, xff: []string{"UNKNOWN, " + proxy2},
			hops: []string{proxy, proxy2}, fromHeader: true, stop: StopObscured, usedHeader: HeaderNameXFF},

		// RFC 7239 Forwarded.
		{name: "Forwarded quoted IPv6 with port", peer: proxy, fwd: []string{`for="[2001:db8:cafe::17]:4711"`},
			client: "2001:db8:cafe::17", hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "2001:db8:cafe::/64"},
		{name: "Forwarded parameters and two proxies", peer: proxy,
			fwd:    []string{`for=198.51.100.7;proto=https;by=10.0.0.2, For="10.0.0.2:8443";host=api.example.com`},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded multiple lines and OWS", peer: proxy, fwd: []string{"for=203.0.113.9", "for=198.51.100.7 ; proto=http", "for=10.0.0.2"},
			client: client, hops: []string{proxy, proxy2}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded mapped IPv6", peer: proxy, fwd: []string{`for="[::ffff:198.51.100.7]"`},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded obfuscated port", peer: proxy, fwd: []string{`for="198.51.100.7:_p0rt"`},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded escaped quoted value", peer: proxy, fwd: []string{`for="\198.51.100.7"`},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded obfuscated identifier", peer: proxy, fwd: []string{"for=198.51.100.7, for=_hidden, for=10.0.0.2"},
			hops: []string{proxy, proxy2}, fromHeader: true, stop: StopObscured, usedHeader: HeaderNameForwarded},
		{name: "Forwarded unknown", peer: proxy, fwd: []string{"for=unknown"},
			hops: []string{proxy}, fromHeader: true, stop: StopObscured, usedHeader: HeaderNameForwarded},
		{name: "Forwarded unknown with port", peer: proxy, fwd: []string{`for="unknown:80"`},
			hops: []string{proxy}, fromHeader: true, stop: StopObscured, usedHeader: HeaderNameForwarded},
		{name: "Forwarded element without for", peer: proxy, fwd: []string{"proto=https;by=10.0.0.1"},
			hops: []string{proxy}, fromHeader: true, stop: StopObscured, usedHeader: HeaderNameForwarded},
		{name: "Forwarded obfuscated left of client never reached", peer: proxy, fwd: []string{"for=_hidden, for=198.51.100.7"},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "Forwarded unquoted IPv6 is malformed", peer: proxy, fwd: []string{"for=[2001:db8::1]"},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded IPv6 without brackets is malformed", peer: proxy, fwd: []string{`for="2001:db8::1"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded bracketed IPv4 is malformed", peer: proxy, fwd: []string{`for="[198.51.100.7]"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded repeated parameter is malformed", peer: proxy, fwd: []string{"for=198.51.100.7;for=203.0.113.1, for=10.0.0.2"},
			client: proxy2, hops: []string{proxy}, fromHeader: true, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded empty for is malformed", peer: proxy, fwd: []string{`for=""`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded port without name is malformed", peer: proxy, fwd: []string{`for=":0"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded bad port is malformed", peer: proxy, fwd: []string{`for="198.51.100.7:123456"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		{name: "Forwarded garbage after value is malformed", peer: proxy, fwd: []string{`for="198.51.100.7"x`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},
		// An unterminated quote typed by the client must not swallow what the proxy appended.
		{name: "Forwarded client quote cannot reach proxy element", peer: proxy, fwd: []string{`for="198.51.100.66, for=203.0.113.5`},
			client: "203.0.113.5", hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "203.0.113.0/24"},
		{name: "Forwarded quoted comma splits into malformed parts", peer: proxy, fwd: []string{`for="198.51.100.7,1"`},
			client: proxy, stop: StopMalformed, usedHeader: HeaderNameForwarded, origin: "10.0.0.0/24"},

		// Which header is walked.
		{name: "auto prefers Forwarded", peer: proxy, xff: []string{"203.0.113.9"}, fwd: []string{"for=198.51.100.7"},
			client: client, hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameForwarded, origin: "198.51.100.0/24"},
		{name: "auto falls back to XFF when Forwarded is blank", peer: proxy, xff: []string{"203.0.113.9"}, fwd: []string{" "},
			client: "203.0.113.9", hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "203.0.113.0/24"},
		{name: "pinned XFF ignores Forwarded", header: HeaderXFF, peer: proxy, xff: []string{"203.0.113.9"}, fwd: []string{"for=198.51.100.7"},
			client: "203.0.113.9", hops: []string{proxy}, fromHeader: true, stop: StopUntrusted, usedHeader: HeaderNameXFF, origin: "203.0.113.0/24"},
		{name: "pinned Forwarded ignores XFF", header: HeaderForwarded, peer: proxy, xff: []string{"203.0.113.9"},
			client: proxy, stop: StopNone, origin: "10.0.0.0/24"},
	}
	trusted := testTrusted(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveUsing(tt.header, netip.MustParseAddr(tt.peer), tt.xff, tt.fwd, trusted)
			if err != nil {
				t.Fatal(err)
			}
			var wantClient netip.Addr
			if tt.client != "" {
				wantClient = netip.MustParseAddr(tt.client)
			}
			if got.Client != wantClient {
				t.Errorf("Client = %v, want %v", got.Client, wantClient)
			}
			if want := addrs(tt.hops...); !slices.Equal(got.Hops, want) {
				t.Errorf("Hops = %v, want %v", got.Hops, want)
			}
			if got.FromHeader != tt.fromHeader {
				t.Errorf("FromHeader = %v, want %v", got.FromHeader, tt.fromHeader)
			}
			if got.Stop != tt.stop {
				t.Errorf("Stop = %q, want %q", got.Stop, tt.stop)
			}
			if got.Header != tt.usedHeader {
				t.Errorf("Header = %q, want %q", got.Header, tt.usedHeader)
			}
			if got.Origin != tt.origin {
				t.Errorf("Origin = %q, want %q", got.Origin, tt.origin)
			}
			if want := netip.MustParseAddr(tt.peer).Unmap(); got.Peer != want {
				t.Errorf("Peer = %v, want %v", got.Peer, want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	trusted := testTrusted(t)
	proxy := netip.MustParseAddr("10.0.0.1")
	many := strings.Repeat("198.51.100.1,", MaxForwardingElements) + "198.51.100.1"
	tests := []struct {
		name     string
		peer     netip.Addr
		xff, fwd []string
		code     reason.Code
	}{
		{name: "too many XFF elements", peer: proxy, xff: []string{many}, code: reason.ProxyHeaderTooLarge},
		{name: "too many Forwarded elements", peer: proxy, fwd: []string{strings.ReplaceAll(many, "198", "for=198")}, code: reason.ProxyHeaderTooLarge},
		{name: "too many bytes", peer: proxy, xff: []string{strings.Repeat(" ", MaxForwardingBytes) + "198.51.100.1"}, code: reason.ProxyHeaderTooLarge},
		{name: "bytes summed over lines", peer: proxy, xff: []string{strings.Repeat(" ", MaxForwardingBytes/2+1), strings.Repeat(" ", MaxForwardingBytes/2)}, code: reason.ProxyHeaderTooLarge},
		{name: "too many lines", peer: proxy, xff: make([]string, MaxForwardingElements+1), code: reason.ProxyHeaderTooLarge},
		{name: "invalid peer", peer: netip.Addr{}, code: reason.PeerAddressInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tt.peer, tt.xff, tt.fwd, trusted)
			wantCode(t, err, tt.code)
		})
	}
	// Exactly at the bounds is fine.
	atBound := strings.Repeat("10.0.0.3,", MaxForwardingElements-1) + "198.51.100.1"
	if p, err := Resolve(proxy, []string{atBound}, nil, trusted); err != nil || p.Client != netip.MustParseAddr("198.51.100.1") {
		t.Fatalf("at bound: %+v, %v", p, err)
	}
}

func TestResolveNilTrusted(t *testing.T) {
	peer := netip.MustParseAddr("10.0.0.1")
	p, err := Resolve(peer, []string{"198.51.100.7"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Client != peer || p.FromHeader || len(p.Hops) != 0 {
		t.Fatalf("nil trusted set believed the header: %+v", p)
	}
}
