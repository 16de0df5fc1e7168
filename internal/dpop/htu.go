package dpop

import (
	"fmt"
	"strconv"
	"strings"
)

// maxPathLen bounds the request path this package normalizes.
const maxPathLen = 8 << 10

// htuMatches reports whether htu, without query and fragment, names the
// request: one configured origin plus the request path, both in RFC 3986
// normal form (syntax-based, section 6.2.2, and scheme-based, 6.2.3).
func (v *Verifier) htuMatches(htu, requestPath string) bool {
	got, ok := normalizeURI(htu)
	if !ok {
		return false
	}
	p, _, _ := strings.Cut(requestPath, "?")
	if !strings.HasPrefix(p, "/") {
		return false
	}
	path, ok := normalizePath(p)
	if !ok {
		return false
	}
	for _, o := range v.origins {
		if len(got) == len(o)+len(path) && strings.HasPrefix(got, o) && got[len(o):] == path {
			return true
		}
	}
	return false
}

// normalizeOrigin checks a configured origin and returns its normal form,
// "scheme://host[:port]".
func normalizeOrigin(origin string) (string, error) {
	bad := func(why string) error { return fmt.Errorf("dpop: origin %q: %s", origin, why) }
	if strings.ContainsAny(origin, "?#") {
		return "", bad("must not have a query or fragment")
	}
	_, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return "", bad(`must be "https://host[:port]" or "http://host[:port]"`)
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 && rest[i:] != "/" {
		return "", bad("must not have a path")
	}
	n, ok := normalizeURI(origin)
	if !ok {
		return "", bad(`must be "https://host[:port]" or "http://host[:port]"`)
	}
	return strings.TrimSuffix(n, "/"), nil
}

// normalizeURI returns the normal form of an absolute http or https URI
// without its query and fragment: lower-case scheme and host, no default or
// empty port, an empty path as "/", percent-encodings in upper case,
// unreserved characters decoded, dot segments removed. ok is false for
// anything else, including a URI with userinfo.
func normalizeURI(s string) (string, bool) {
	s, _, _ = strings.Cut(s, "#")
	s, _, _ = strings.Cut(s, "?")
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", false
	}
	var defPort string
	switch strings.ToLower(scheme) {
	case "https":
		scheme, defPort = "https", "443"
	case "http":
		scheme, defPort = "http", "80"
	default:
		return "", false
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, ok := normalizeAuthority(authority, defPort)
	if !ok {
		return "", false
	}
	if path, ok = normalizePath(path); !ok {
		return "", false
	}
	return scheme + "://" + host + path, true
}

// normalizeAuthority lower-cases the host and drops an empty or default
// port. Userinfo, percent-encoded hosts and odd characters are refused.
func normalizeAuthority(a, defPort string) (string, bool) {
	var host, port string
	if strings.HasPrefix(a, "[") { // IP literal
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", false
		}
		host, port = a[:end+1], a[end+1:]
		if !validHost(host[1:end], true) {
			return "", false
		}
	} else {
		host, port = a, ""
		if i := strings.IndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i:]
		}
		if !validHost(host, false) {
			return "", false
		}
	}
	if port != "" {
		if port[0] != ':' {
			return "", false
		}
		port = port[1:]
	}
	if port != "" {
		if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", false
		}
		n, err := strconv.Atoi(port)
		if err != nil || n > 65535 {
			return "", false
		}
		port = strconv.Itoa(n)
	}
	host = strings.ToLower(host)
	if port == "" || port == defPort {
		return host, true
	}
	return host + ":" + port, true
}

func validHost(h string, literal bool) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case isAlnum(c), c == '.', c == '-':
		case c == '_' || c == '~':
			if literal {
				return false
			}
		case c == ':':
			if !literal {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// normalizePath returns p in normal form: "" becomes "/", percent-encodings
// of unreserved characters are decoded and the others upper-cased, and dot
// segments are removed. ok is false for a path that is not "/"-rooted, too
// long, or holds a character outside the RFC 3986 path grammar.
func normalizePath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' || len(p) > maxPathLen {
		return "", false
	}
	hasPct := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			hasPct = true
		} else if !isPathChar(c) {
			return "", false
		}
	}
	if hasPct {
		var ok bool
		if p, ok = normalizePercent(p); !ok {
			return "", false
		}
	}
	if strings.Contains(p, "/.") {
		p = removeDotSegments(p)
	}
	return p, true
}

func normalizePercent(p string) (string, bool) {
	const upperHex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) {
			return "", false
		}
		hi, ok1 := unhex(p[i+1])
		lo, ok2 := unhex(p[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		d := hi<<4 | lo
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[d>>4])
			b.WriteByte(upperHex[d&15])
		}
		i += 2
	}
	return b.String(), true
}

// removeDotSegments implements RFC 3986 section 5.2.4 for a "/"-rooted path.
func removeDotSegments(p string) string {
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	last := len(segs) - 1
	for i, s := range segs {
		switch s {
		case ".":
			if i == last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar: pchar / "/" of RFC 3986, without the "%" of pct-encoded.
func isPathChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '/', ':', '@', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
