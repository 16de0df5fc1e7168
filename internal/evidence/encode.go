package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/jsonerr"
)

// MaxRecordBytes bounds the canonical encoding of one record.
const MaxRecordBytes = 256 << 10

// ErrInvalid is wrapped by every error Marshal and Unmarshal return for a
// record or encoding that is not valid.
var ErrInvalid = errors.New("invalid evidence record")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Instant is a time in a record. It is encoded in UTC as RFC 3339 with
// exactly nine fractional digits ("2026-03-01T12:00:00.000000000Z"); the
// zero Instant is omitted.
type Instant struct{ time.Time }

const instantLayout = "2006-01-02T15:04:05.000000000Z"

// At returns t as an Instant: in UTC, without a monotonic reading.
func At(t time.Time) Instant {
	if t.IsZero() {
		return Instant{}
	}
	return Instant{t.UTC().Round(0)}
}

// MarshalJSON encodes t in the fixed layout.
func (t Instant) MarshalJSON() ([]byte, error) {
	u := t.UTC()
	if y := u.Year(); y < 1 || y > 9999 {
		return nil, invalid("time %v is outside years 1 to 9999", u)
	}
	return []byte(`"` + u.Format(instantLayout) + `"`), nil
}

// UnmarshalJSON accepts only the fixed layout.
func (t *Instant) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalid("time is not a string")
	}
	u, err := time.Parse(instantLayout, s)
	if err != nil || u.Format(instantLayout) != s {
		return invalid("time %q is not RFC 3339 UTC with nine fractional digits", s)
	}
	*t = Instant{u}
	return nil
}

// canonical returns r with every string made valid UTF-8 and the lists
// whose order carries no meaning sorted: audiences, network sets and
// actions. Checks, reasons, tags, hops and the act chain keep the engine's
// order. The caller's slices are not changed.
func (r Record) canonical() Record {
	sanitize(reflect.ValueOf(&r).Elem())
	return r.sorted()
}

// sorted returns r with its set-like lists sorted, copying a list only when
// it is not sorted already, so the caller's slices are not changed.
func (r Record) sorted() Record {
	r.Credential.Issuer.Audience = sortedCopy(r.Credential.Issuer.Audience)
	r.Signals.Network.Sets = sortedCopy(r.Signals.Network.Sets)
	r.Actions = sortedCopy(r.Actions)
	return r
}

func sortedCopy[S ~[]E, E ~string](s S) S {
	if slices.IsSorted(s) {
		return s
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// escapedInvalid is how encoding/json writes a byte that is not valid
// UTF-8 (and also part of how it would write a backslash followed by
// "ufffd"): where it shows up, the record is encoded again, sanitized.
var escapedInvalid = []byte(`\ufffd`)

// sanitize replaces, in every string reachable from v, each byte that is
// not part of valid UTF-8 with U+FFFD, copying slices before it changes
// them. encoding/json would write such a byte as the escape \ufffd, which
// decodes to a different string: sanitizing first keeps the round trip
// exact.
func sanitize(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) {
			var b strings.Builder
			for _, c := range s { // an invalid byte ranges as one utf8.RuneError
				b.WriteRune(c)
			}
			v.SetString(b.String())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				sanitize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() > 0 {
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			v.Set(c)
			for i := range c.Len() {
				sanitize(c.Index(i))
			}
		}
	}
}

// Marshal returns the canonical encoding of r: JSON with the fields in
// struct order, zero values omitted, no HTML escaping and no insignificant
// whitespace, times as Instant encodes them, and set-like lists sorted. The
// same record always gives the same bytes.
func (r Record) Marshal() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	// Almost every record holds valid UTF-8 only: encode it as it is, and
	// pay for the reflective sanitizing walk only when the encoding shows
	// an invalid byte.
	b, err := encode(r.sorted())
	if err == nil && bytes.Contains(b, escapedInvalid) {
		b, err = encode(r.canonical())
	}
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecordBytes {
		return nil, invalid("record is %d bytes, more than %d", len(b), MaxRecordBytes)
	}
	return b, nil
}

func encode(r Record) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(2048)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding the evidence record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Unmarshal decodes a record. It is strict: the input must be at most
// MaxRecordBytes, of version Version, with no unknown field, and exactly the
// canonical encoding of the record it holds (so it re-marshals to the same
// bytes). Every error wraps ErrInvalid.
func Unmarshal(data []byte) (Record, error) {
	if len(data) > MaxRecordBytes {
		return Record{}, invalid("record is %d bytes, more than %d", len(data), MaxRecordBytes)
	}
	var head struct {
		V json.RawMessage `json:"v"`
	}
	// Errors never repeat a value or a long name of the record (jsonerr).
	if err := json.Unmarshal(data, &head); err != nil {
		return Record{}, invalid("not a JSON object: %v", jsonerr.Describe(err, data))
	}
	if len(head.V) == 0 {
		return Record{}, invalid("record has no version")
	}
	if v := string(head.V); v != fmt.Sprint(Version) && v != fmt.Sprint(EventVersion) {
		return Record{}, invalid("record version %s, this Provost reads versions %d and %d", jsonerr.Scrub(v), Version, EventVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, invalid("%v", jsonerr.Describe(err, data))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Record{}, invalid("data after the record")
	}
	again, err := r.Marshal()
	if err != nil {
		return Record{}, err
	}
	if !bytes.Equal(again, data) {
		return Record{}, invalid("not in canonical form")
	}
	return r, nil
}

// ID names r without its fingerprint: the lowercase hex SHA-256 of 0x00
// followed by the canonical encoding, which is the record's RFC 6962 leaf
// hash in the evidence log.
func (r Record) ID() (string, error) {
	b, err := r.Marshal()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// validate reports the first reason r cannot be encoded.
func (r *Record) validate() error {
	switch r.Event {
	case "":
	case EventRevocation:
		return r.validateRevocation()
	default:
		return invalid("event %q is not revocation", r.Event)
	}
	switch {
	case r.Version != Version:
		return invalid("record version %d, this Provost writes decision records as version %d", r.Version, Version)
	case r.Time.IsZero():
		return invalid("time is zero")
	case r.Revocation != Revocation{}:
		return invalid("a decision record holds no revocation event")
	case !slices.Contains([]decision.Outcome{decision.Allow, decision.StepUp, decision.Deny}, r.Decision):
		return invalid("decision %q is not allow, step_up or deny", r.Decision)
	case !slices.Contains([]decision.Provenance{decision.Verified, decision.Violated, decision.Insufficient}, r.Provenance):
		return invalid("provenance verdict %q is not verified, violated or insufficient", r.Provenance)
	case !slices.Contains([]credential.Verdict{credential.Accepted, credential.Rejected}, r.Credential.Verdict):
		return invalid("credential verdict %q is not accepted or rejected", r.Credential.Verdict)
	}
	for _, a := range [...]string{r.Signals.Network.Peer, r.Signals.Network.Client} {
		if a == "" {
			continue
		}
		if p, err := netip.ParseAddr(a); err != nil || p.String() != a {
			return invalid("address %q is not in canonical form", a)
		}
	}
	return nil
}

// validateRevocation reports the first reason the record of a revocation
// event cannot be encoded: it is version EventVersion, has a time, names
// the revocation, and holds nothing of a decision.
func (r *Record) validateRevocation() error {
	rv := &r.Revocation
	switch {
	case r.Version != EventVersion:
		return invalid("record version %d, this Provost writes event records as version %d", r.Version, EventVersion)
	case r.Time.IsZero():
		return invalid("time is zero")
	case rv.ID == "" || rv.Kind == "" || rv.Value == "":
		return invalid("a revocation record names no revocation (id, kind and value)")
	}
	rest := *r
	rest.Version, rest.Time, rest.RequestID, rest.Event, rest.Revocation = 0, Instant{}, "", "", Revocation{}
	if !reflect.ValueOf(rest).IsZero() {
		return invalid("a revocation record holds fields of a decision")
	}
	return nil
}
