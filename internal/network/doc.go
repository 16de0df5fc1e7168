// Package network holds Provost's network-path signal: which address a request
// came from, through which trusted proxies, and what client certificate those
// proxies say they saw. Every function is pure over explicit inputs; nothing
// here reads a socket, a clock or a global.
//
// # Network path
//
// CIDRSet is a named set of prefixes (trusted proxies, build hosts, ...), and
// Sets a collection of them. Resolve walks X-Forwarded-For or RFC 7239
// Forwarded right to left, nearest proxy first, and stops at the first address
// outside the trusted-proxy set: that is the client.
//
//	trusted, err := network.ParseCIDRSet("trusted_proxies", []string{"10.0.0.0/8"})
//	path, err := network.Resolve(peer, r.Header.Values("X-Forwarded-For"),
//		r.Header.Values("Forwarded"), trusted)
//	// path.Client, path.Hops, path.Origin ("203.0.113.0/24"), path.Stop
//
// The rules, chosen to be conservative:
//
//   - A peer outside the trusted set gains nothing from headers it typed:
//     they are ignored and the client is the peer.
//   - Resolve walks Forwarded when present, else X-Forwarded-For. Use
//     ResolveUsing to pin the header your proxies actually write, so a client
//     cannot supply the other one.
//   - Commas always separate elements, even inside quotes, so nothing a client
//     typed on the left can reach into what proxies appended on the right.
//   - A malformed element stops the walk: the element to its right (the last
//     address a trusted proxy vouched for, perhaps the peer) is the client and
//     is not counted as a hop. Stop is StopMalformed.
//   - "unknown", an obfuscated identifier ("_hidden") or a Forwarded element
//     without for= stops the walk with no client: Client is the zero address,
//     Origin is empty and Stop is StopObscured. Callers treat the network
//     origin as not known.
//   - When every address is trusted, the leftmost is the client (StopExhausted).
//   - IPv4-mapped IPv6 addresses are unmapped everywhere; origins are the
//     client's /24 (IPv4) or /64 (IPv6).
//   - The walked header is bounded (MaxForwardingElements, MaxForwardingBytes);
//     larger input is an error with reason code proxy_header_too_large.
//
// # Forwarded client certificates
//
// ParseXFCC parses Envoy's x-forwarded-client-cert, and ParseClientCert and
// ParseClientCertChain parse the RFC 9440 Client-Cert and Client-Cert-Chain
// fields. These parsers only parse: the caller believes their output only
// when the request's peer is a trusted proxy that strips or overwrites the
// headers a client sent.
package network
