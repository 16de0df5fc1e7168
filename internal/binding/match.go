package binding

import (
	"slices"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// matcher is a binding's compiled match section; a zero field is no
// criterion.
type matcher struct {
	fingerprints []string // sorted, without repeats
	issuer       string
	subject      *glob
	claims       []fieldGlob
	apiKey       string
}

func (m *matcher) matches(c *credential.Result) bool {
	md := &c.Metadata
	if m.fingerprints != nil {
		if _, ok := slices.BinarySearch(m.fingerprints, c.Fingerprint); !ok || c.Fingerprint == "" {
			return false
		}
	}
	if m.issuer != "" && md.Issuer != m.issuer {
		return false
	}
	if m.subject != nil && (md.Subject == "" || !m.subject.match(md.Subject)) {
		return false
	}
	for i := range m.claims {
		v, ok := md.Claims[m.claims[i].key].(string)
		if !ok || !m.claims[i].g.match(v) {
			return false
		}
	}
	if m.apiKey != "" && md.APIKey != m.apiKey {
		return false
	}
	return true
}

// Match returns the first binding, in file order, whose match holds for c;
// nil when none does. A credential that was not accepted matches nothing:
// what a rejected credential claims is unverified.
//
// Match does not scan the bindings: it looks up the few whose key (a
// fingerprint, an API key, an exact subject or claim, a glob's literal
// prefix, an issuer) the credential has, and returns the first of those
// that matches in full (see index).
func (s *Set) Match(c *credential.Result) *Binding {
	if s == nil || s.idx == nil || c == nil || !c.Accepted() {
		return nil
	}
	return s.idx.match(c)
}

// NamesWorkload reports whether some binding's require.workloads matches
// the SPIFFE ID id. A workload no binding names is shadow automation.
func (s *Set) NamesWorkload(id string) bool {
	if s == nil || s.idx == nil {
		return false
	}
	parsed, err := spiffeid.FromString(id)
	if err != nil {
		return false
	}
	return s.idx.namesWorkload(parsed)
}
