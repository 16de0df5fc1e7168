package network

import (
	"net/netip"
	"strings"
)

// Bounds on the forwarding headers Resolve reads.
const (
	// MaxForwardingBytes bounds the total length of all lines of the header walked.
	MaxForwardingBytes = 8 << 10
	// MaxForwardingElements bounds the number of lines, and of non-empty
	// comma-separated elements, of the header walked.
	MaxForwardingElements = 64
)

// kind classifies one element of a forwarding header.
type kind uint8

const (
	kindAddr      kind = iota // an IP address
	kindObscured              // "unknown", an obfuscated identifier, or no for=
	kindMalformed             // anything else
)

// splitElements splits header lines into their comma-separated elements,
// trimmed, skipping empty ones (RFC 9110 section 5.6.1). Commas are hard
// boundaries even inside quotes: no node value ever holds a comma, and this way
// text a client typed on the left can never reach into the elements that
// proxies appended on the right. ok is false when a bound is exceeded.
func splitElements(lines []string) (elems []string, ok bool) {
	if len(lines) > MaxForwardingElements {
		return nil, false
	}
	total := 0
	for _, line := range lines {
		total += len(line)
		if total > MaxForwardingBytes {
			return nil, false
		}
		for e := range strings.SplitSeq(line, ",") {
			e = trimOWS(e)
			if e == "" {
				continue
			}
			if len(elems) == MaxForwardingElements {
				return nil, false
			}
			elems = append(elems, e)
		}
	}
	return elems, true
}

// present reports whether any line holds something other than whitespace and commas.
func present(lines []string) bool {
	for _, l := range lines {
		if strings.Trim(l, " \t,") != "" {
			return true
		}
	}
	return false
}

// parseXFFEntry reads one X-Forwarded-For element: an IPv4 or IPv6 address,
// optionally with a port ("192.0.2.1:443", "[2001:db8::1]:443", also
// "[2001:db8::1]"), or "unknown".
func parseXFFEntry(e string) (netip.Addr, kind) {
	if strings.EqualFold(e, "unknown") {
		return netip.Addr{}, kindObscured
	}
	if e[0] == '[' {
		return parseBracketed(e)
	}
	if a, err := netip.ParseAddr(e); err == nil {
		if a.Zone() != "" {
			return netip.Addr{}, kindMalformed
		}
		return a.Unmap(), kindAddr
	}
	host, port, found := strings.Cut(e, ":")
	if !found || !isPort(port) {
		return netip.Addr{}, kindMalformed
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, kindMalformed
	}
	return a, kindAddr
}

// parseBracketed reads "[IPv6]" or "[IPv6]:port".
func parseBracketed(e string) (netip.Addr, kind) {
	end := strings.IndexByte(e, ']')
	if end < 0 {
		return netip.Addr{}, kindMalformed
	}
	a, err := netip.ParseAddr(e[1:end])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, kindMalformed
	}
	if rest := e[end+1:]; rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
		return netip.Addr{}, kindMalformed
	}
	return a.Unmap(), kindAddr
}

func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseForwardedElement reads one RFC 7239 forwarded-element and classifies
// its for= node. Parameters are token=value pairs separated by ';' (optional
// whitespace around them is tolerated); a value is a token or a quoted-string.
// A repeated parameter is malformed (RFC 7239 section 4). An element without
// for= tells nothing about the client and counts as obscured.
func parseForwardedElement(e string) (netip.Addr, kind) {
	var forValue string
	seen := map[string]bool{}
	i := 0
	for {
		i = skipOWS(e, i)
		if i == len(e) {
			break
		}
		if e[i] == ';' {
			i++
			continue
		}
		start := i
		for i < len(e) && isTChar(e[i]) {
			i++
		}
		if i == start || i == len(e) || e[i] != '=' {
			return netip.Addr{}, kindMalformed
		}
		name := strings.ToLower(e[start:i])
		i++
		var value string
		var ok bool
		if value, i, ok = readValue(e, i); !ok {
			return netip.Addr{}, kindMalformed
		}
		if i = skipOWS(e, i); i < len(e) && e[i] != ';' {
			return netip.Addr{}, kindMalformed
		}
		if seen[name] {
			return netip.Addr{}, kindMalformed
		}
		seen[name] = true
		if name == "for" {
			forValue = value
		}
	}
	if !seen["for"] {
		return netip.Addr{}, kindObscured
	}
	return parseNode(forValue)
}

// readValue reads a token or a quoted-string starting at i.
func readValue(s string, i int) (value string, next int, ok bool) {
	if i < len(s) && s[i] == '"' {
		return readQuoted(s, i)
	}
	start := i
	for i < len(s) && isTChar(s[i]) {
		i++
	}
	return s[start:i], i, i > start
}

// readQuoted reads an RFC 9110 quoted-string starting at the opening quote.
func readQuoted(s string, i int) (value string, next int, ok bool) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, true
		case c == '\\':
			if i+1 == len(s) || !isQDText(s[i+1]) && s[i+1] != '"' && s[i+1] != '\\' {
				return "", i, false
			}
			i++
			b.WriteByte(s[i])
		case isQDText(c):
			b.WriteByte(c)
		default:
			return "", i, false
		}
	}
	return "", i, false
}

// parseNode classifies an RFC 7239 node: nodename [ ":" node-port ], where
// nodename is an IPv4 address, a bracketed IPv6 address, "unknown" or an
// obfuscated identifier ("_hidden"), and node-port is digits or "_obfport".
func parseNode(v string) (netip.Addr, kind) {
	if v == "" {
		return netip.Addr{}, kindMalformed
	}
	var name, port string
	if v[0] == '[' {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return netip.Addr{}, kindMalformed
		}
		name, port = v[:end+1], v[end+1:]
	} else if i := strings.IndexByte(v, ':'); i >= 0 {
		name, port = v[:i], v[i:]
	} else {
		name = v
	}
	if name == "" {
		return netip.Addr{}, kindMalformed
	}
	if port != "" {
		p := port[1:]
		if port[0] != ':' || !isPort(p) && !isObfuscated(p) {
			return netip.Addr{}, kindMalformed
		}
	}
	switch {
	case strings.EqualFold(name, "unknown") || isObfuscated(name):
		return netip.Addr{}, kindObscured
	case name[0] == '[':
		return parseBracketed(name)
	}
	a, err := netip.ParseAddr(name)
	if err != nil || !a.Is4() {
		return netip.Addr{}, kindMalformed
	}
	return a, kindAddr
}

// isObfuscated reports whether s is "_" 1*( ALPHA / DIGIT / "." / "_" / "-" ).
func isObfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isTChar reports whether c is an RFC 9110 tchar.
func isTChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isQDText reports whether c may appear unescaped in a quoted-string.
func isQDText(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || c >= 0x23 && c <= 0x5B || c >= 0x5D && c <= 0x7E || c >= 0x80
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
