// Package target computes the one canonical form of a request's method and
// target that every rule, check and record sees.
//
// A request line reaches Provost through five transports and is then read
// by bindings, CEL rules and the evidence log. If any of them saw the raw
// target, a rule on /v1/reports could be walked around with
// /v1/reports/../admin, /v1/%72eports or /v1/reports%2f..%2fadmin, each of
// which an upstream router may resolve differently. So the target is
// normalised once, before any rule, in the way RFC 3986 §6.2.2 describes
// (percent-encodings upper-cased, unreserved characters decoded), and
// everything that would leave room for two readings is refused rather than
// guessed at:
//
//   - dot-segments ("." and "..", also written %2e), since upstreams resolve
//     them in different ways;
//   - empty segments ("//"), which nginx merges and many routers clean;
//   - an encoded slash or backslash (%2f, %5c) and a raw backslash, which
//     some servers take as a separator;
//   - NUL, CR, LF and every other control character, raw or (in the path)
//     percent-encoded; space, '#', non-ASCII bytes and malformed
//     percent-encodings;
//   - anything but origin form (a path starting with '/'), and targets
//     longer than MaxBytes, raw or once normalised and redacted.
//
// A method must be an RFC 9110 token without lower-case letters (methods
// are case-sensitive and registered upper-case, so "delete" is refused,
// not folded), at most MaxMethodBytes long.
//
// Query parameters that commonly carry credentials (access_token, token,
// api_key, key, and any the configuration adds) have their values replaced
// by "REDACTED" in every form this package returns, so nothing downstream
// can record, log or export them.
package target

import (
	"fmt"
	"strings"

	"github.com/provost-dev/provost/reason"
)

// Bounds.
const (
	// MaxBytes bounds a request target (nginx's default header buffer).
	MaxBytes = 8 << 10
	// MaxMethodBytes bounds a method.
	MaxMethodBytes = 32
)

// Redacted replaces the value of a credential query parameter.
const Redacted = "REDACTED"

// DefaultRedact are the query parameters whose values are always redacted.
var DefaultRedact = []string{"access_token", "token", "api_key", "apikey", "key"}

// Canonical is a request's method and target as rules see them.
type Canonical struct {
	Method string
	// Path is the normalised path (RFC 3986 §6.2.2): what rules compare.
	Path string
	// Query is the raw query with credential parameters redacted; HasQuery
	// tells "/a?" from "/a".
	Query    string
	HasQuery bool
	// Raw is the target as received, with credential parameters redacted.
	Raw string
}

// Target is Path and Query as one request target.
func (c Canonical) Target() string {
	if !c.HasQuery {
		return c.Path
	}
	return c.Path + "?" + c.Query
}

// Redactor names the query parameters whose values are never kept. The zero
// value redacts DefaultRedact.
type Redactor struct {
	names []string // lower case
}

// NewRedactor redacts DefaultRedact and extra (compared case-insensitively).
func NewRedactor(extra []string) Redactor {
	names := make([]string, 0, len(DefaultRedact)+len(extra))
	for _, n := range append(append([]string{}, DefaultRedact...), extra...) {
		names = append(names, strings.ToLower(n))
	}
	return Redactor{names: names}
}

func (rd Redactor) redacts(name string) bool {
	names := rd.names
	if names == nil {
		names = DefaultRedact
	}
	if dec, ok := decode(name); ok {
		name = dec
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Query returns q with the values of credential parameters replaced.
func (rd Redactor) Query(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	changed := false
	for i, part := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(part, "=")
		if hasValue && rd.redacts(name) {
			b.WriteString(name + "=" + Redacted)
			changed = true
			continue
		}
		b.WriteString(part)
	}
	if !changed {
		return q
	}
	return b.String()
}

// Target returns a raw target with the values of credential parameters
// replaced.
func (rd Redactor) Target(raw string) string {
	path, q, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	return path + "?" + rd.Query(q)
}

// Parse checks method and raw and returns their canonical form. Its errors
// are *reason.Error with code reason.RequestMethodInvalid or
// reason.RequestTargetInvalid; their messages never repeat the target.
func Parse(method, raw string, rd Redactor) (Canonical, error) {
	if err := CheckMethod(method); err != nil {
		return Canonical{}, err
	}
	path, query, hasQuery, err := Check(raw)
	if err != nil {
		return Canonical{}, err
	}
	c := Canonical{Method: method, Path: path, HasQuery: hasQuery, Raw: rd.Target(raw)}
	if hasQuery {
		c.Query = rd.Query(query)
	}
	// Normalising encodes raw bytes ('"' becomes %22) and redacting
	// replaces values, so the forms rules and records see can outgrow the
	// raw target: they are bounded too, which also keeps Parse idempotent
	// on what it accepts.
	n := len(c.Path)
	if c.HasQuery {
		n += 1 + len(c.Query) // len(c.Target()) without building it
	}
	if n > MaxBytes || len(c.Raw) > MaxBytes {
		return Canonical{}, invalid(fmt.Sprintf("the target is longer than %d bytes once normalised", MaxBytes))
	}
	return c, nil
}

// CheckMethod accepts an RFC 9110 token of at most MaxMethodBytes bytes
// with no lower-case letter.
func CheckMethod(m string) error {
	switch {
	case m == "":
		return reason.New(reason.RequestMethodInvalid, "the request has no method")
	case len(m) > MaxMethodBytes:
		return reason.New(reason.RequestMethodInvalid, fmt.Sprintf("the method is longer than %d bytes", MaxMethodBytes))
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case c >= 'a' && c <= 'z':
			return reason.New(reason.RequestMethodInvalid, "the method has lower-case letters: methods are case-sensitive and registered upper-case (RFC 9110 §9.1)")
		case !isTchar(c):
			return reason.New(reason.RequestMethodInvalid, "the method is not an RFC 9110 token")
		}
	}
	return nil
}

// Check validates a raw origin-form target and returns its normalised path
// and its raw query.
func Check(raw string) (path, query string, hasQuery bool, err error) {
	switch {
	case raw == "":
		return "", "", false, invalid("the request has no target")
	case len(raw) > MaxBytes:
		return "", "", false, invalid(fmt.Sprintf("the target is longer than %d bytes", MaxBytes))
	case raw[0] != '/':
		return "", "", false, invalid("the target is not in origin form (a path starting with /)")
	}
	for i := 0; i < len(raw); i++ {
		if err := checkByte(raw[i]); err != nil {
			return "", "", false, err
		}
	}
	p, query, hasQuery := strings.Cut(raw, "?")
	path, err = normalizePath(p)
	return path, query, hasQuery, err
}

// checkByte refuses bytes that may not appear anywhere in a target.
func checkByte(c byte) error {
	switch {
	case c == 0:
		return invalid("the target holds a NUL byte")
	case c == '\r' || c == '\n':
		return invalid("the target holds CR or LF")
	case c < 0x20 || c == 0x7f:
		return invalid("the target holds a control character")
	case c == ' ':
		return invalid("the target holds a space")
	case c >= 0x80:
		return invalid("the target holds a byte that is not ASCII (it must be percent-encoded)")
	case c == '#':
		return invalid("the target holds a fragment ('#')")
	case c == '\\':
		return invalid("the target holds a backslash")
	}
	return nil
}

// normalizePath upper-cases percent-encodings, decodes unreserved
// characters, encodes the raw bytes RFC 3986 does not allow in a path
// ('|', '{', '"', ...), so that "/a|b" and "/a%7Cb" are one path, and
// refuses what could be read two ways.
func normalizePath(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			if c == '/' || isPchar(c) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
			return "", invalid("the path holds a malformed percent-encoding")
		}
		d := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
		i += 2
		switch {
		case d == '/' || d == '\\':
			return "", invalid("the path holds an encoded slash or backslash (%2F, %5C)")
		case d < 0x20 || d == 0x7f:
			return "", invalid("the path holds an encoded control character (such as %00, %0D, %0A)")
		case isUnreserved(d):
			b.WriteByte(d)
		default:
			fmt.Fprintf(&b, "%%%02X", d)
		}
	}
	out := b.String()
	for seg := range strings.SplitSeq(out[1:], "/") {
		switch seg {
		case ".", "..":
			return "", invalid("the path holds a dot-segment (\".\" or \"..\")")
		}
	}
	if strings.Contains(out, "//") {
		return "", invalid("the path holds an empty segment (\"//\")")
	}
	return out, nil
}

// decode percent-decodes s; ok is false when it is malformed.
func decode(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", false
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), true
}

func invalid(msg string) error { return reason.New(reason.RequestTargetInvalid, msg) }

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isUnreserved is RFC 3986's unreserved set.
// isPchar is RFC 3986's pchar, less pct-encoded: unreserved, sub-delims,
// ':' and '@'.
func isPchar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@", c) >= 0
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isTchar is RFC 9110's tchar.
func isTchar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Printable is what may be recorded of a method or target that Parse
// refused: credential parameters redacted, every byte outside printable
// ASCII (and '%') percent-encoded, at most n bytes.
func Printable(s string, n int, rd Redactor) string {
	s = rd.Target(s)
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	if len(out) > n {
		out = out[:n]
	}
	return out
}
