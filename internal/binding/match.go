package binding

import (
	"github.com/provost-dev/provost/internal/credential"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// matcher is a binding's compiled match section; a zero field is no
// criterion.
type matcher struct {
	fingerprints map[string]struct{}
	issuer       string
	subject      *glob
	claims       []fieldGlob
	apiKey       string
}

func (m *matcher) matches(c *credential.Result) bool {
	md := &c.Metadata
	if m.fingerprints != nil {
		if _, ok := m.fingerprints[c.Fingerprint]; !ok || c.Fingerprint == "" {
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
func (s *Set) Match(c *credential.Result) *Binding {
	if s == nil || c == nil || !c.Accepted() {
		return nil
	}
	for _, b := range s.Bindings {
		if b.matcher.matches(c) {
			return b
		}
	}
	return nil
}

// NamesWorkload reports whether some binding's require.workloads matches
// the SPIFFE ID id. A workload no binding names is shadow automation.
func (s *Set) NamesWorkload(id string) bool {
	if s == nil {
		return false
	}
	parsed, err := spiffeid.FromString(id)
	if err != nil {
		return false
	}
	for _, b := range s.Bindings {
		for _, p := range b.req.workloads {
			if p.MatchID(parsed) {
				return true
			}
		}
	}
	return false
}
