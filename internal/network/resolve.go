package network

import (
	"fmt"
	"net/netip"

	"github.com/provost-dev/provost/reason"
)

// Header selects which forwarding header Resolve walks.
type Header uint8

const (
	// HeaderAuto walks Forwarded when any Forwarded line is present, else
	// X-Forwarded-For. This is what Resolve does.
	HeaderAuto Header = iota
	// HeaderXFF walks X-Forwarded-For only and ignores Forwarded.
	HeaderXFF
	// HeaderForwarded walks Forwarded (RFC 7239) only and ignores X-Forwarded-For.
	HeaderForwarded
)

// Header names as recorded in Path.Header.
const (
	HeaderNameXFF       = "x-forwarded-for"
	HeaderNameForwarded = "forwarded"
)

// Stop says why the walk ended, and so how far Path.Client can be believed.
type Stop string

const (
	// StopNone: no header was walked (the peer is untrusted, or no header was
	// sent); Client is the peer.
	StopNone Stop = ""
	// StopUntrusted: the walk reached an address outside the trusted set; that
	// address is the client. The normal case behind proxies.
	StopUntrusted Stop = "untrusted"
	// StopExhausted: every address in the header was trusted; Client is the
	// leftmost one (a request that began on a trusted host).
	StopExhausted Stop = "exhausted"
	// StopMalformed: an element could not be parsed. The element to its right
	// (the last one a trusted proxy vouched for, possibly the peer) is the
	// client, and it is not counted as a hop.
	StopMalformed Stop = "malformed"
	// StopObscured: the walk reached "unknown", an obfuscated identifier
	// ("_hidden") or a Forwarded element without for=. Client is the invalid
	// (zero) address and Origin is empty: the network origin is not known.
	StopObscured Stop = "obscured"
)

// Path is the network path of one request, as far as trusted proxies vouch for it.
type Path struct {
	Peer       netip.Addr   // the immediate TCP peer (IPv4-mapped addresses unmapped)
	Client     netip.Addr   // the resolved client; invalid (zero) when Stop is StopObscured
	Hops       []netip.Addr // trusted proxies between the client and Provost, nearest (the peer) first
	FromHeader bool         // Client came from X-Forwarded-For/Forwarded (true) or is the peer (false)
	Origin     string       // the client's /24 (IPv4) or /64 (IPv6), "" when Client is invalid
	Header     string       // the header walked: HeaderNameXFF, HeaderNameForwarded, or "" for none
	Stop       Stop         // why the walk ended
}

// Resolve finds the client address of a request that reached Provost from
// peer, carrying the given X-Forwarded-For and Forwarded header lines (every
// line, in order). It walks Forwarded if any Forwarded line is present, else
// X-Forwarded-For; see ResolveUsing to pin one header.
func Resolve(peer netip.Addr, xff []string, forwarded []string, trusted *CIDRSet) (Path, error) {
	return ResolveUsing(HeaderAuto, peer, xff, forwarded, trusted)
}

// ResolveUsing is Resolve with the header to walk chosen by h. Pin the header
// your trusted proxies write (HeaderXFF or HeaderForwarded) when you can: with
// HeaderAuto, a client behind a proxy that only maintains X-Forwarded-For can
// send its own Forwarded header, which the proxy passes on untouched.
//
// If the peer is not in trusted, the headers are ignored entirely and the
// client is the peer. Otherwise the chosen header is walked right to left
// (nearest proxy first), passing addresses in trusted; the first address
// outside trusted is the client (see Stop for the other ways the walk ends).
// The walk needs no element left of the point where it stops, so what a client
// typed on the left of the header cannot change the answer.
//
// The walked header may have at most MaxForwardingElements lines and
// non-empty elements and MaxForwardingBytes bytes in all; more is an
// *reason.Error with code ProxyHeaderTooLarge. An invalid peer is an error
// with code PeerAddressInvalid.
func ResolveUsing(h Header, peer netip.Addr, xff []string, forwarded []string, trusted *CIDRSet) (Path, error) {
	if !peer.IsValid() {
		return Path{}, reason.New(reason.PeerAddressInvalid, "peer address is missing or invalid")
	}
	peer = normalize(peer)
	path := Path{Peer: peer, Client: peer}
	if !trusted.Contains(peer) {
		path.Origin = originString(peer)
		return path, nil
	}
	lines, parse, name := xff, parseXFFEntry, HeaderNameXFF
	if h == HeaderForwarded || h == HeaderAuto && present(forwarded) {
		lines, parse, name = forwarded, parseForwardedElement, HeaderNameForwarded
	}
	elems, ok := splitElements(lines)
	if !ok {
		return Path{}, reason.New(reason.ProxyHeaderTooLarge,
			fmt.Sprintf("%s header exceeds %d elements or %d bytes", name, MaxForwardingElements, MaxForwardingBytes))
	}
	if len(elems) == 0 {
		path.Origin = originString(peer)
		return path, nil
	}
	path.Header = name
	walk(&path, elems, parse, trusted)
	path.Origin = originString(path.Client)
	return path, nil
}

// walk fills path.Client, Hops, FromHeader and Stop from elems, right to left.
// path.Peer is trusted.
func walk(path *Path, elems []string, parse func(string) (netip.Addr, kind), trusted *CIDRSet) {
	hops := []netip.Addr{path.Peer}
	for i := len(elems) - 1; i >= 0; i-- {
		a, k := parse(elems[i])
		switch {
		case k == kindObscured:
			path.Client, path.Hops, path.FromHeader, path.Stop = netip.Addr{}, hops, true, StopObscured
			return
		case k == kindMalformed:
			path.Stop = StopMalformed
			takeLast(path, hops)
			return
		case !trusted.Contains(a):
			path.Client, path.Hops, path.FromHeader, path.Stop = a, hops, true, StopUntrusted
			return
		}
		hops = append(hops, a)
	}
	path.Stop = StopExhausted
	takeLast(path, hops)
}

// takeLast makes the farthest trusted address walked the client, and not a hop.
func takeLast(path *Path, hops []netip.Addr) {
	n := len(hops) - 1
	path.Client, path.FromHeader = hops[n], n > 0
	if n > 0 {
		path.Hops = hops[:n]
	}
}

func originString(a netip.Addr) string {
	p := OriginPrefix(a)
	if !p.IsValid() {
		return ""
	}
	return p.String()
}
