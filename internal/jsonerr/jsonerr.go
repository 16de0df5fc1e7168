// Package jsonerr describes the errors of decoding an untrusted JSON
// document without repeating what the document holds.
//
// encoding/json (and go-jose's fork of it) put pieces of the input in their
// messages: the whole name of an unknown member, map keys in a type error's
// field path, the text of a value a custom unmarshaller rejected. A caller
// can put a credential anywhere in a document, even in a member name, so an
// error answered to a client or written to a log must not quote the
// document. Describe keeps what helps the sender (the kind of error, a
// field name that is plainly a field name, a byte offset, a length, at most
// the first PrefixLen characters) and drops the rest.
//
// It imports only the standard library, so every package that decodes
// untrusted JSON can use it without an import cycle.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxName is the longest member name repeated as is; a longer one, or one
// with any character outside [A-Za-z0-9_-], is described instead.
const MaxName = 32

// PrefixLen is the most characters of an untrusted string a description
// repeats.
const PrefixLen = 4

// maxMsg bounds a message Describe or Scrub returns.
const maxMsg = 240

// Kind is the kind of a decoding error.
type Kind int

const (
	Other        Kind = iota // anything else, e.g. an unmarshaller's own error
	Syntax                   // not well-formed JSON
	Type                     // a value of the wrong JSON type for its field
	UnknownField             // a member name the target does not have
)

// Error is a decoding error safe to answer and to log: none of its strings
// repeats more than PrefixLen characters of a string that is not plainly a
// field name.
type Error struct {
	Kind Kind
	// Field names the member the error is about: its name or dotted path
	// when every name in it is plainly a field name (Named is then true),
	// otherwise a description such as
	// `(a 343-byte name starting "eyJh" at byte 31)`. Empty when the
	// error is about the document as a whole or the member is not known.
	Field string
	Named bool
	// Offset is the byte offset in the document the error was found at, or
	// -1 when it is not known.
	Offset int64
	// GoType and JSONType are set for a Type error: the Go type wanted and
	// the JSON type found (string, number, object, array, bool or null).
	GoType, JSONType string
	// Msg says what is wrong, without the field.
	Msg string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Describe turns err, returned while decoding doc, into an *Error. doc may
// be nil when it is not at hand: an unknown member is then described
// without its offset, and a dotted field path is kept only when it is short
// and made of names, or else described as a whole. Describe(nil, doc) is
// nil.
func Describe(err error, doc []byte) *Error {
	if err == nil {
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		tpe *time.ParseError
	)
	switch {
	case errors.As(err, &syn):
		return &Error{Kind: Syntax, Offset: syn.Offset,
			Msg: fmt.Sprintf("%s (at byte %d)", Scrub(strings.TrimPrefix(syn.Error(), "json: ")), syn.Offset)}
	case errors.As(err, &typ):
		e := &Error{Kind: Type, Offset: typ.Offset, GoType: "a value", JSONType: jsonType(typ.Value)}
		if typ.Type != nil {
			e.GoType = Scrub(typ.Type.String())
		}
		e.Field, e.Named = fieldPath(typ.Field, doc, typ.Offset)
		e.Msg = fmt.Sprintf("must be a %s, not a JSON %s", e.GoType, e.JSONType)
		return e
	case errors.As(err, &tpe):
		// time.Time's UnmarshalJSON quotes the whole value.
		return &Error{Kind: Other, Offset: -1, Msg: "a time is not in RFC 3339 form such as 2030-01-02T15:04:05Z"}
	}
	msg := err.Error()
	if q, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		e := &Error{Kind: UnknownField, Offset: -1, Msg: "unknown field"}
		name, uerr := strconv.Unquote(q)
		if uerr != nil {
			name = q
		}
		if IsName(name) {
			e.Field, e.Named = name, true
			return e
		}
		if doc != nil {
			e.Offset = findName(doc, name)
		}
		e.Field = describe(name, e.Offset)
		return e
	}
	return &Error{Kind: Other, Offset: -1, Msg: Scrub(strings.TrimPrefix(msg, "json: "))}
}

// IsName reports whether s is plainly a field name: 1 to MaxName bytes of
// lower-case letters, '_' and '-', starting with a letter, with at most
// MaxNameDigits digits. Upper case and digits are what random secrets are
// made of: a short API key sent as a member name ("sk_live_4fT..."), or a
// hex token, is described, never repeated.
func IsName(s string) bool {
	if s == "" || len(s) > MaxName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z', c == '_', c == '-':
		default:
			return false
		}
	}
	return digits <= MaxNameDigits
}

// MaxNameDigits is how many digits a name repeated as is may hold
// ("x5t", "sha256" have one to three).
const MaxNameDigits = 3

// Name returns name when it is plainly a field name, otherwise a
// description of it: its length, at most its first PrefixLen characters
// and, when offset is not negative, its byte offset.
func Name(name string, offset int64) string {
	if IsName(name) {
		return name
	}
	return describe(name, offset)
}

// describe is `(a 343-byte name starting "eyJh" at byte 31)`.
func describe(s string, offset int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(a %d-byte name", len(s))
	if p := prefix(s); p != "" {
		fmt.Fprintf(&b, " starting %q", p)
	}
	if offset >= 0 {
		fmt.Fprintf(&b, " at byte %d", offset)
	}
	b.WriteByte(')')
	return b.String()
}

// prefix is the leading run of name bytes of s, at most PrefixLen long.
func prefix(s string) string {
	n := 0
	for n < len(s) && n < PrefixLen && nameByte(s[n]) {
		n++
	}
	return s[:n]
}

// jsonType is the JSON type named by an UnmarshalTypeError's Value, which
// may go on with the literal ("number 1e999").
func jsonType(v string) string {
	v, _, _ = strings.Cut(v, " ")
	switch v {
	case "string", "number", "object", "array", "bool", "null":
		return v
	}
	return "value"
}

// fieldPath makes a type error's dotted field path safe. A single name is
// kept. A dotted path may hold map keys, which may hold dots themselves, so
// the names around offset are read from doc and each is kept or described
// on its own; without doc, a path of names at most MaxName bytes in all is
// kept and any other is described by its length.
func fieldPath(path string, doc []byte, offset int64) (string, bool) {
	if path == "" || IsName(path) {
		return path, true
	}
	if doc != nil && offset >= 0 {
		if names := pathAt(doc, offset); len(names) > 0 {
			named := true
			for i, n := range names {
				if !IsName(n) {
					names[i], named = describe(n, -1), false
				}
			}
			return strings.Join(names, "."), named
		}
	}
	if len(path) <= MaxName && IsName(strings.ReplaceAll(path, ".", "_")) {
		return path, true
	}
	return fmt.Sprintf("(a %d-byte field path)", len(path)), false
}

// Scrub makes a free-form error message safe to repeat: every quoted part
// ("..." or `...`) that is not plainly a field name and every other run of
// more than MaxName non-space bytes is replaced by its length and at most
// its first PrefixLen characters; control characters become spaces; the
// result is valid UTF-8 of at most about 240 bytes.
func Scrub(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		c := msg[i]
		switch {
		case c == '"' || c == '`':
			j, ok := closing(msg, i)
			inner := msg[i+1:] // unterminated: the rest
			if ok {
				inner = msg[i+1 : j-1]
			}
			if ok && IsName(inner) {
				b.WriteString(msg[i:j])
			} else {
				fmt.Fprintf(&b, "%c%s...%c(%d bytes)", c, prefix(inner), c, len(inner))
			}
			i = j
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
			i++
		case c == ' ':
			b.WriteByte(c)
			i++
		default:
			j := i
			for j < len(msg) && msg[j] > ' ' && msg[j] != 0x7f && msg[j] != '"' && msg[j] != '`' {
				j++
			}
			if run := msg[i:j]; len(run) > MaxName {
				fmt.Fprintf(&b, "%s...(%d bytes)", prefix(run), len(run))
			} else {
				b.WriteString(run)
			}
			i = j
		}
	}
	out := b.String()
	if len(out) > maxMsg {
		cut := maxMsg
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "..."
	}
	return strings.ToValidUTF8(out, "\uFFFD")
}

// closing returns the index just past the quote closing the one at msg[i]
// (backslash escapes inside "..."), or len(msg) and false when there is
// none.
func closing(msg string, i int) (int, bool) {
	q := msg[i]
	for j := i + 1; j < len(msg); j++ {
		switch msg[j] {
		case '\\':
			if q == '"' {
				j++
			}
		case q:
			return j + 1, true
		}
	}
	return len(msg), false
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
