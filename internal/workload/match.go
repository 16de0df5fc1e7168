package workload

import (
	"errors"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Pattern is a parsed SPIFFE ID pattern: an exact ID, or every ID strictly
// below a path when written with a trailing "/*".
type Pattern struct {
	base   spiffeid.ID
	prefix bool
}

// ParsePattern parses "spiffe://td/path" (exact) or "spiffe://td/path/*"
// (prefix). "spiffe://td/*" matches every ID of the trust domain that has a
// path. Parse patterns once when loading configuration.
func ParsePattern(pattern string) (Pattern, error) {
	base, prefix := strings.CutSuffix(pattern, "/*")
	id, err := spiffeid.FromString(base)
	if err != nil {
		return Pattern{}, err
	}
	if !prefix && id.Path() == "" {
		return Pattern{}, errors.New("workload: pattern names a trust domain, not a workload; use \"spiffe://td/*\"")
	}
	return Pattern{base: id, prefix: prefix}, nil
}

// Match reports whether the SPIFFE ID id matches p. An id that is not a valid
// SPIFFE ID matches nothing.
func (p Pattern) Match(id string) bool {
	if p.base.IsZero() {
		return false
	}
	got, err := spiffeid.FromString(id)
	if err != nil {
		return false
	}
	return p.MatchID(got)
}

// MatchID reports whether the parsed SPIFFE ID id matches p.
func (p Pattern) MatchID(id spiffeid.ID) bool {
	if p.base.IsZero() || id.TrustDomain() != p.base.TrustDomain() {
		return false
	}
	if !p.prefix {
		return id.Path() == p.base.Path()
	}
	path, base := id.Path(), p.base.Path()
	return len(path) > len(base)+1 && strings.HasPrefix(path, base) && path[len(base)] == '/'
}

// String returns the pattern as written.
func (p Pattern) String() string {
	if p.prefix {
		return p.base.String() + "/*"
	}
	return p.base.String()
}

// MatchID reports whether id matches pattern: exactly for "spiffe://td/path",
// or strictly below the path for "spiffe://td/path/*", so that
// "spiffe://td/ns/prod/*" matches "spiffe://td/ns/prod/api" but neither
// "spiffe://td/ns/prod" nor "spiffe://td/ns/prod-evil". An invalid pattern or
// id matches nothing.
func MatchID(pattern, id string) bool {
	p, err := ParsePattern(pattern)
	if err != nil {
		return false
	}
	return p.Match(id)
}
