// Package origin is the contract of origin history: where each credential
// was used from (an Origin: workload, network, proxy chain, posture class),
// the Store that keeps it, and the findings of the detectors that read it.
// Provost's embedded store is SQLite; a Store of your own is plugged in
// through provost.Stores and must pass the same conformance suite.
package origin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/reason"
)

// Size limits checked by Use.Validate.
const (
	// MaxOrigins is how many origins a history keeps per credential; recording
	// one more evicts the least recently seen.
	MaxOrigins = 64
	// MaxLearned is how many origins Learned keeps per binding; recording one
	// more evicts the least recently seen.
	MaxLearned = 1024
	// MaxFieldBytes bounds each field of an Origin.
	MaxFieldBytes = 4096
	// MaxBindingBytes bounds Use.Binding.
	MaxBindingBytes = 1024
)

// Origin is where a request came from. Fields compare exactly; an empty
// field is a value like any other.
type Origin struct {
	Workload   string `json:"workload,omitempty"`    // SPIFFE ID, "" if none
	Network    string `json:"network,omitempty"`     // client /24 or /64 prefix, "" if unknown
	ProxyChain string `json:"proxy_chain,omitempty"` // hop names joined by ">", "" if none
	Posture    string `json:"posture,omitempty"`     // posture class, "" if none
}

// Key returns the canonical key of o: the four fields in order, each with
// '\' and '|' escaped by a '\', joined by '|'. Two origins have the same key
// exactly when they are equal.
func (o Origin) Key() string {
	var b strings.Builder
	b.Grow(len(o.Workload) + len(o.Network) + len(o.ProxyChain) + len(o.Posture) + 3)
	for i, f := range [...]string{o.Workload, o.Network, o.ProxyChain, o.Posture} {
		if i > 0 {
			b.WriteByte('|')
		}
		if !strings.ContainsAny(f, `\|`) {
			b.WriteString(f)
			continue
		}
		for j := 0; j < len(f); j++ {
			if c := f[j]; c == '\\' || c == '|' {
				b.WriteByte('\\')
			}
			b.WriteByte(f[j])
		}
	}
	return b.String()
}

// String returns o for people:
// "workload=spiffe://example.org/ci network=203.0.113.0/24 chain=edge>mesh posture=hardened",
// with "none" for an empty field and Go quoting for a value with spaces,
// quotes or unprintable characters.
func (o Origin) String() string {
	return "workload=" + human(o.Workload) + " network=" + human(o.Network) +
		" chain=" + human(o.ProxyChain) + " posture=" + human(o.Posture)
}

func human(v string) string {
	switch {
	case v == "":
		return "none"
	case v == "none" || strings.ContainsFunc(v, func(r rune) bool {
		return r == '"' || r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r)
	}):
		return strconv.Quote(v)
	}
	return v
}

// Finding is one thing a detector noticed about a use.
type Finding struct {
	Code    reason.Code `json:"code"`
	Message string      `json:"message"`
}

// Seen is one origin in a history, with its counters.
type Seen struct {
	Origin    Origin
	FirstSeen time.Time
	LastSeen  time.Time
	Uses      int64 // every recorded use from the origin
	Allowed   int64 // the uses that were allowed
}

// History is what is known about where one credential was used.
type History struct {
	// Origins are most recently seen first (ties: see CompareSeen); at
	// most MaxOrigins.
	Origins  []Seen
	LastSeen time.Time // last use from any origin, zero if never
	Uses     int64     // every recorded use, including uses from evicted origins
}

// Known returns the record of o when it has at least one allowed use.
func (h History) Known(o Origin) (Seen, bool) {
	for _, s := range h.Origins {
		if s.Allowed > 0 && s.Origin == o {
			return s, true
		}
	}
	return Seen{}, false
}

// Use is one use of a credential, to record.
type Use struct {
	Fingerprint string // the credential's fingerprint, never the credential
	Binding     string // the binding it matched, "" if none
	Origin      Origin
	At          time.Time
	Allowed     bool // the decision allowed the request
	Learn       bool // the binding is in learn mode: also record under Binding for Learned
}

// ErrInvalid is wrapped by every error Use.Validate returns.
var ErrInvalid = errors.New("invalid origin use")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Validate reports the first problem with u, as an error wrapping
// ErrInvalid. Messages never repeat the fingerprint field, which might hold
// a raw credential passed by mistake.
func (u Use) Validate() error {
	if !fingerprint.Valid(u.Fingerprint) {
		return invalid("fingerprint is not a fingerprint (%s followed by 43 base64url characters); origin history never keeps a raw credential", fingerprint.Prefix)
	}
	if u.At.IsZero() {
		return invalid("time of use is zero")
	}
	if u.Learn && u.Binding == "" {
		return invalid("learn is set without a binding")
	}
	for _, f := range [...]struct {
		name, v string
		max     int
	}{
		{"binding", u.Binding, MaxBindingBytes},
		{"workload", u.Origin.Workload, MaxFieldBytes},
		{"network", u.Origin.Network, MaxFieldBytes},
		{"proxy chain", u.Origin.ProxyChain, MaxFieldBytes},
		{"posture", u.Origin.Posture, MaxFieldBytes},
	} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

func checkText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return invalid("%s is %d bytes, more than %d", field, len(s), max)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", field)
	case strings.ContainsFunc(s, unicode.IsControl):
		return invalid("%s contains a control character", field)
	}
	return nil
}

// Store keeps origin history.
type Store interface {
	// Lookup returns the history of the credential with fingerprint; a
	// credential never recorded has the zero History. It runs on every
	// request: an error means the history is unknown.
	Lookup(ctx context.Context, fingerprint string) (History, error)
	// Record adds one use: the origin's counters (Uses, and Allowed when
	// allowed), FirstSeen as the earliest and LastSeen as the latest At seen,
	// and the credential's LastSeen (latest) and Uses. A credential's origins
	// beyond MaxOrigins are evicted, least recently seen first. With Learn
	// set, the origin is also recorded the same way under Binding (at most
	// MaxLearned per binding). An invalid u gives an error wrapping
	// ErrInvalid and records nothing.
	Record(ctx context.Context, u Use) error
	// Learned returns the origins recorded for uses with Learn set under
	// binding whose LastSeen is at or after since, ordered like
	// History.Origins. Their counters and FirstSeen cover every learn-mode
	// use of the origin under binding, including uses before since.
	Learned(ctx context.Context, binding string, since time.Time) ([]Seen, error)
}

// CompareSeen orders Seen most recently seen first, then most recently
// first seen, then by Workload, Network, ProxyChain and Posture (bytewise):
// the order of History.Origins and Learned, for backends that sort in Go
// (slices.SortFunc(list, CompareSeen)).
func CompareSeen(a, b Seen) int {
	if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
		return c
	}
	if c := b.FirstSeen.Compare(a.FirstSeen); c != 0 {
		return c
	}
	if c := strings.Compare(a.Origin.Workload, b.Origin.Workload); c != 0 {
		return c
	}
	if c := strings.Compare(a.Origin.Network, b.Origin.Network); c != 0 {
		return c
	}
	if c := strings.Compare(a.Origin.ProxyChain, b.Origin.ProxyChain); c != 0 {
		return c
	}
	return strings.Compare(a.Origin.Posture, b.Origin.Posture)
}
