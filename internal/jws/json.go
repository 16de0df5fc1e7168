package jws

import (
	stdjson "encoding/json"
	"unicode/utf8"

	josejson "github.com/go-jose/go-jose/v4/json"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/reason"
)

// maxDepth bounds how deeply JSON arrays and objects may nest.
const maxDepth = 64

// mapThreshold is the member count past which an object's duplicate check
// switches from a linear scan to a map.
const mapThreshold = 32

// DecodeObject decodes a JSON object strictly into v: the input must be one
// well-formed JSON object (RFC 8259) of valid UTF-8 with no lone surrogate
// escapes, no member name may repeat within any object at any depth
// (compared after unescaping), and nothing but whitespace may follow it.
//
// Member names are matched to struct fields case-sensitively (go-jose's JSON
// fork), so "ALG" never fills a field tagged "alg". Use float64, int types or
// go-jose's json.Number for numbers; encoding/json.RawMessage works.
//
// Duplicate names give a *reason.Error with code JWSDuplicateMember; every
// other failure gives JWSMalformedJSON. No error repeats the object: the
// decoder's is described by jsonerr, which drops values and long names.
func DecodeObject(data []byte, v any) error {
	if err := validateObject(data, nil); err != nil {
		return err
	}
	if err := josejson.Unmarshal(data, v); err != nil {
		return reason.Wrap(reason.JWSMalformedJSON, "JSON object does not fit the expected shape", jsonerr.Describe(err, data))
	}
	return nil
}

// validateObject checks that data is exactly one strict JSON object. When
// hdr is not nil, each top-level member is passed to setHeaderMember.
func validateObject(data []byte, hdr *Header) error {
	s := scanner{data: data, hdr: hdr}
	s.keys = s.keyBuf[:0]
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return malformed("not a JSON object")
	}
	if err := s.value(0); err != nil {
		return err
	}
	s.skipWS()
	if s.pos != len(s.data) {
		return malformed("data after the JSON object")
	}
	return nil
}

func malformed(msg string) error { return reason.New(reason.JWSMalformedJSON, msg) }

func errDuplicate() error { return reason.New(reason.JWSDuplicateMember, "duplicate JSON member name") }

// scanner is a small strict JSON validator over data.
type scanner struct {
	data   []byte
	pos    int
	hdr    *Header  // when set, top-level members are reported to it
	keys   [][]byte // member names of the objects being scanned, innermost last
	keyBuf [16][]byte
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans one JSON value starting at s.pos (no leading whitespace).
func (s *scanner) value(depth int) error {
	if s.pos >= len(s.data) {
		return malformed("unexpected end of JSON")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return malformed("invalid character in JSON")
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return malformed("invalid JSON literal")
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

func (s *scanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if s.digits() == 0 {
		return malformed("invalid JSON number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return malformed("invalid JSON number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return malformed("invalid JSON number")
		}
	}
	return nil
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return malformed("JSON nested too deeply")
	}
	s.pos++ // '['
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return malformed("unexpected end of JSON")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return malformed("invalid character in JSON array")
		}
	}
}

func (s *scanner) object(depth int) error {
	if depth > maxDepth {
		return malformed("JSON nested too deeply")
	}
	s.pos++ // '{'
	start := len(s.keys)
	defer func() { s.keys = s.keys[:start] }()
	var seen map[string]struct{}
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return malformed("JSON object member name is not a string")
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		if seen, err = s.remember(start, seen, name); err != nil {
			return err
		}
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return malformed("missing ':' in JSON object")
		}
		s.pos++
		s.skipWS()
		vstart := s.pos
		if err := s.value(depth); err != nil {
			return err
		}
		if depth == 1 && s.hdr != nil {
			if err := setHeaderMember(s.hdr, name, s.data[vstart:s.pos]); err != nil {
				return err
			}
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return malformed("unexpected end of JSON")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return malformed("invalid character in JSON object")
		}
	}
}

// remember records name as a member of the object whose names start at
// s.keys[start], and fails when the object already has it.
func (s *scanner) remember(start int, seen map[string]struct{}, name []byte) (map[string]struct{}, error) {
	if seen != nil {
		if _, ok := seen[string(name)]; ok {
			return seen, errDuplicate()
		}
		seen[string(name)] = struct{}{}
		return seen, nil
	}
	for _, k := range s.keys[start:] {
		if string(k) == string(name) {
			return seen, errDuplicate()
		}
	}
	s.keys = append(s.keys, name)
	if len(s.keys)-start > mapThreshold {
		seen = make(map[string]struct{}, 2*mapThreshold)
		for _, k := range s.keys[start:] {
			seen[string(k)] = struct{}{}
		}
	}
	return seen, nil
}

// name scans a member name and returns it unescaped.
func (s *scanner) name() ([]byte, error) {
	start, end, escaped, err := s.strSpan()
	if err != nil {
		return nil, err
	}
	if !escaped {
		return s.data[start+1 : end-1], nil
	}
	var out string
	if err := stdjson.Unmarshal(s.data[start:end], &out); err != nil {
		return nil, reason.Wrap(reason.JWSMalformedJSON, "invalid JSON string", jsonerr.Describe(err, nil))
	}
	return []byte(out), nil
}

func (s *scanner) str() (int, int, error) {
	start, end, _, err := s.strSpan()
	return start, end, err
}

// strSpan scans a JSON string at s.pos and returns its span including the
// quotes and whether it holds escapes. It rejects control characters,
// invalid UTF-8, bad escapes and unpaired surrogates.
func (s *scanner) strSpan() (start, end int, escaped bool, err error) {
	start = s.pos
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return start, s.pos, escaped, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return 0, 0, false, err
			}
		case c < 0x20:
			return 0, 0, false, malformed("control character in JSON string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				return 0, 0, false, malformed("invalid UTF-8 in JSON string")
			}
			s.pos += size
		}
	}
	return 0, 0, false, malformed("unterminated JSON string")
}

// escape scans one escape sequence starting at the backslash.
func (s *scanner) escape() error {
	if s.pos+1 >= len(s.data) {
		return malformed("unterminated JSON string")
	}
	switch s.data[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return nil
	case 'u':
	default:
		return malformed("invalid escape in JSON string")
	}
	r, ok := s.hex4(s.pos + 2)
	if !ok {
		return malformed("invalid \\u escape in JSON string")
	}
	s.pos += 6
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return malformed("unpaired surrogate in JSON string")
	case r >= 0xD800 && r <= 0xDBFF:
		if s.pos+1 >= len(s.data) || s.data[s.pos] != '\\' || s.data[s.pos+1] != 'u' {
			return malformed("unpaired surrogate in JSON string")
		}
		lo, ok := s.hex4(s.pos + 2)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return malformed("unpaired surrogate in JSON string")
		}
		s.pos += 6
	}
	return nil
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
