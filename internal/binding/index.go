package binding

import (
	"math"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// index finds a credential's binding without scanning every binding. It is
// built once per Set, by compile, and read only afterwards.
//
// Every binding is filed under one key that its match requires (its
// primary criterion; see primary): a fingerprint, an API key name, or,
// under its issuer ("" when it names none), an exact subject, an exact
// claim value, the literal prefix of a subject or claim glob (the text
// before the first '*'), or the issuer alone. A binding whose match holds
// for a credential sits under a key the credential has, so the bindings
// filed under the credential's keys hold every binding that can match.
// Each of those is checked with its full matcher, in ascending order per
// key, and the lowest declaration index that really matches wins: the
// binding the linear, first-in-file-order scan returns.
type index struct {
	bindings []*Binding // a copy of Set.Bindings: the positions the index holds

	lists [][]int32 // the posting lists of keys several bindings share

	fingerprints map[string]posting
	apiKeys      map[string]posting
	issuers      map[string]*issuerIndex // by the bindings' issuer; "" holds those without one

	workloads     map[string]struct{} // the exact SPIFFE IDs bindings require
	workloadBelow *prefixIndex        // "spiffe://td/path/" of every ".../path/*" pattern
}

// posting is one binding's position (>= 0) or, when several bindings share
// a key, -1 - the position of their list in index.lists. noPosting is none.
type posting int32

const noPosting posting = math.MinInt32

// issuerIndex holds the bindings filed under one issuer.
type issuerIndex struct {
	alone    posting            // filed under the issuer alone
	subjects map[string]posting // exact subjects
	subjectP *prefixIndex       // subject globs, by literal prefix
	claims   []*claimIndex      // by claim name, sorted
	byName   map[string]*claimIndex

	subjectEntries []prefixEntry // while building
}

// claimIndex holds the bindings filed under one claim of an issuer.
type claimIndex struct {
	name    string
	exact   map[string]posting
	prefixP *prefixIndex
	entries []prefixEntry // while building
}

// manyClaims is how many indexed claim names an issuer has before a
// credential's claims are looked up by name rather than the other way.
const manyClaims = 4

// primary chooses the criterion a binding is filed under: fingerprints,
// then the API key, then an exact subject, then an exact claim (in claim
// name order), then the subject or claim glob with the longest literal
// prefix (the subject on a tie, then claim name order), then the issuer.
// It returns the class and, for claims, the position in m.claims.
func (m *matcher) primary() (keyClass, int) {
	switch {
	case m.fingerprints != nil:
		return byFingerprints, 0
	case m.apiKey != "":
		return byAPIKey, 0
	case m.subject != nil && m.subject.parts == nil:
		return bySubject, 0
	}
	for i := range m.claims {
		if m.claims[i].g.parts == nil {
			return byClaim, i
		}
	}
	class, at, best := byIssuer, 0, -1
	if m.subject != nil {
		class, best = bySubjectPrefix, len(m.subject.parts[0])
	}
	for i := range m.claims {
		if n := len(m.claims[i].g.parts[0]); n > best {
			class, at, best = byClaimPrefix, i, n
		}
	}
	return class, at
}

// keyClass says where a binding is filed.
type keyClass uint8

const (
	byFingerprints  keyClass = iota
	byAPIKey                 // the API key name
	bySubject                // exact subject
	byClaim                  // exact claim value
	bySubjectPrefix          // the literal prefix of a subject glob
	byClaimPrefix            // the literal prefix of a claim glob
	byIssuer                 // the issuer alone
)

// buildIndex indexes bs; the positions it records are those in bs.
func buildIndex(bs []*Binding) *index {
	x := &index{bindings: slices.Clone(bs), issuers: map[string]*issuerIndex{}}
	// Size the maps for their keys first: growing a map of a million keys
	// rehashes it many times.
	var fps, keys, patterns int
	for _, b := range bs {
		switch class, _ := b.matcher.primary(); class {
		case byFingerprints:
			fps += len(b.matcher.fingerprints)
		case byAPIKey:
			keys++
		}
		patterns += len(b.req.workloads)
	}
	if fps > 0 {
		x.fingerprints = make(map[string]posting, fps)
	}
	if keys > 0 {
		x.apiKeys = make(map[string]posting, keys)
	}
	if patterns > 0 {
		x.workloads = make(map[string]struct{}, patterns/2) // about half are exact, half prefixes
	}
	var belowEntries []prefixEntry
	for i, b := range bs {
		pos := int32(i)
		m := &b.matcher
		class, at := m.primary()
		switch class {
		case byFingerprints:
			for _, fp := range m.fingerprints {
				x.fingerprints = fileUnder(x, x.fingerprints, fp, pos)
			}
		case byAPIKey:
			x.apiKeys = fileUnder(x, x.apiKeys, m.apiKey, pos)
		case bySubject:
			ii := x.issuer(m.issuer)
			ii.subjects = fileUnder(x, ii.subjects, m.subject.raw, pos)
		case byClaim:
			ci := x.issuer(m.issuer).claim(m.claims[at].key)
			ci.exact = fileUnder(x, ci.exact, m.claims[at].g.raw, pos)
		case bySubjectPrefix:
			ii := x.issuer(m.issuer)
			ii.subjectEntries = append(ii.subjectEntries, prefixEntry{m.subject.parts[0], pos})
		case byClaimPrefix:
			ci := x.issuer(m.issuer).claim(m.claims[at].key)
			ci.entries = append(ci.entries, prefixEntry{m.claims[at].g.parts[0], pos})
		case byIssuer:
			x.add(&x.issuer(m.issuer).alone, pos)
		}
		for _, p := range b.req.workloads {
			// "spiffe://td/path/*" is every ID strictly below path.
			if key, isBelow := strings.CutSuffix(p.String(), "*"); isBelow {
				belowEntries = append(belowEntries, prefixEntry{key, pos})
				continue
			}
			x.workloads[p.String()] = struct{}{}
		}
	}
	for _, ii := range x.issuers {
		ii.subjectP, ii.subjectEntries = newPrefixIndex(ii.subjectEntries), nil
		slices.SortFunc(ii.claims, func(a, b *claimIndex) int { return strings.Compare(a.name, b.name) })
		for _, ci := range ii.claims {
			ci.prefixP, ci.entries = newPrefixIndex(ci.entries), nil
		}
		if len(ii.claims) <= manyClaims {
			ii.byName = nil
		}
	}
	x.workloadBelow = newPrefixIndex(belowEntries)
	return x
}

func (x *index) issuer(iss string) *issuerIndex {
	ii := x.issuers[iss]
	if ii == nil {
		ii = &issuerIndex{alone: noPosting}
		x.issuers[iss] = ii
	}
	return ii
}

func (ii *issuerIndex) claim(name string) *claimIndex {
	if ci := ii.byName[name]; ci != nil {
		return ci
	}
	ci := &claimIndex{name: name}
	if ii.byName == nil {
		ii.byName = map[string]*claimIndex{}
	}
	ii.byName[name] = ci
	ii.claims = append(ii.claims, ci)
	return ci
}

// fileUnder files binding pos under key k of m.
func fileUnder[K comparable](x *index, m map[K]posting, k K, pos int32) map[K]posting {
	if m == nil {
		m = map[K]posting{}
	}
	p, ok := m[k]
	if !ok {
		p = noPosting
	}
	x.add(&p, pos)
	m[k] = p
	return m
}

// add adds binding pos to the posting p. Bindings are filed in ascending
// order, so every posting list is ascending.
func (x *index) add(p *posting, pos int32) {
	switch {
	case *p == noPosting:
		*p = posting(pos)
	case *p >= 0:
		if int32(*p) != pos {
			x.lists = append(x.lists, []int32{int32(*p), pos})
			*p = posting(-len(x.lists))
		}
	default:
		l := &x.lists[-1-*p]
		if (*l)[len(*l)-1] != pos {
			*l = append(*l, pos)
		}
	}
}

// match returns the binding the linear scan would: the first, in file
// order, whose match holds for c; nil when none does.
func (x *index) match(c *credential.Result) *Binding {
	md := &c.Metadata
	best := int32(len(x.bindings)) // no binding yet
	if c.Fingerprint != "" && x.fingerprints != nil {
		if p, ok := x.fingerprints[c.Fingerprint]; ok {
			best = x.first(p, c, best)
		}
	}
	if md.APIKey != "" && x.apiKeys != nil {
		if p, ok := x.apiKeys[md.APIKey]; ok {
			best = x.first(p, c, best)
		}
	}
	if md.Issuer != "" {
		if ii := x.issuers[md.Issuer]; ii != nil {
			best = x.underIssuer(ii, c, best)
		}
	}
	if ii := x.issuers[""]; ii != nil {
		best = x.underIssuer(ii, c, best)
	}
	if int(best) < len(x.bindings) {
		return x.bindings[best]
	}
	return nil
}

// underIssuer looks up the bindings filed under one issuer.
func (x *index) underIssuer(ii *issuerIndex, c *credential.Result, best int32) int32 {
	md := &c.Metadata
	best = x.first(ii.alone, c, best)
	if md.Subject != "" {
		if p, ok := ii.subjects[md.Subject]; ok {
			best = x.first(p, c, best)
		}
		best = x.firstOfPrefixes(ii.subjectP, md.Subject, c, best)
	}
	if len(ii.claims) == 0 || len(md.Claims) == 0 {
		return best
	}
	if ii.byName == nil || len(ii.claims) <= len(md.Claims) {
		for _, ci := range ii.claims {
			if v, ok := md.Claims[ci.name].(string); ok {
				best = x.underClaim(ci, v, c, best)
			}
		}
		return best
	}
	for name, v := range md.Claims {
		if ci := ii.byName[name]; ci != nil {
			if s, ok := v.(string); ok {
				best = x.underClaim(ci, s, c, best)
			}
		}
	}
	return best
}

func (x *index) underClaim(ci *claimIndex, v string, c *credential.Result, best int32) int32 {
	if p, ok := ci.exact[v]; ok {
		best = x.first(p, c, best)
	}
	return x.firstOfPrefixes(ci.prefixP, v, c, best)
}

// first returns the first binding of posting p, before best, that matches
// c; best when none does.
func (x *index) first(p posting, c *credential.Result, best int32) int32 {
	switch {
	case p == noPosting:
		return best
	case p >= 0:
		if int32(p) < best && x.bindings[p].matcher.matches(c) {
			return int32(p)
		}
		return best
	}
	return x.firstOf(x.lists[-1-p], c, best)
}

// firstOf returns the first binding of the ascending list l, before best,
// that matches c; best when none does.
func (x *index) firstOf(l []int32, c *credential.Result, best int32) int32 {
	for _, i := range l {
		if i >= best {
			break
		}
		if x.bindings[i].matcher.matches(c) {
			return i
		}
	}
	return best
}

// firstOfPrefixes checks the bindings filed under every literal prefix of s.
func (x *index) firstOfPrefixes(p *prefixIndex, s string, c *credential.Result, best int32) int32 {
	for n := p.deepest(s); n >= 0; n = p.parent[n] {
		best = x.firstOf(p.vals[p.off[n]:p.off[n+1]], c, best)
	}
	return best
}

// namesWorkload reports whether some binding's workload pattern matches id.
func (x *index) namesWorkload(id spiffeid.ID) bool {
	s := id.String()
	if _, ok := x.workloads[s]; ok {
		return true
	}
	// A ".../path/*" pattern matches IDs strictly below path: its key
	// "spiffe://td/path/" must be a proper prefix of the ID.
	p := x.workloadBelow
	for n := p.deepest(s); n >= 0; n = p.parent[n] {
		if len(p.keys[n]) < len(s) {
			return true
		}
	}
	return false
}

// prefixIndex finds, among a set of keys, all that are prefixes of a
// string. The keys are sorted; parent links each key to the longest other
// key that is a prefix of it, so the keys that are prefixes of any key form
// a chain. For a string s, the last key k <= s has every key that is a
// prefix of s on its chain (a key p that is a prefix of s has p <= s, so
// p <= k <= s, and every string between p and s starts with p); those no
// longer than the common prefix of k and s are exactly the prefixes of s.
type prefixIndex struct {
	keys   []string // distinct, sorted
	parent []int32  // -1: no key is a prefix of keys[i]
	off    []int32  // the bindings of keys[i] are vals[off[i]:off[i+1]], ascending
	vals   []int32
}

type prefixEntry struct {
	key string
	pos int32
}

// newPrefixIndex indexes es; nil when there are none.
func newPrefixIndex(es []prefixEntry) *prefixIndex {
	if len(es) == 0 {
		return nil
	}
	slices.SortFunc(es, func(a, b prefixEntry) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(a.pos - b.pos)
	})
	p := &prefixIndex{vals: make([]int32, 0, len(es))}
	var chain []int32 // the keys on the chain of the last key, shortest first
	for _, e := range es {
		if n := len(p.keys); n == 0 || p.keys[n-1] != e.key {
			for len(chain) > 0 && !strings.HasPrefix(e.key, p.keys[chain[len(chain)-1]]) {
				chain = chain[:len(chain)-1]
			}
			parent := int32(-1)
			if len(chain) > 0 {
				parent = chain[len(chain)-1]
			}
			chain = append(chain, int32(n))
			p.keys = append(p.keys, e.key)
			p.parent = append(p.parent, parent)
			p.off = append(p.off, int32(len(p.vals)))
		}
		p.vals = append(p.vals, e.pos)
	}
	p.off = append(p.off, int32(len(p.vals)))
	return p
}

// deepest returns the longest key that is a prefix of s, -1 when none (or
// p is nil); the others are on its parent chain.
func (p *prefixIndex) deepest(s string) int32 {
	if p == nil {
		return -1
	}
	lo, hi := 0, len(p.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.keys[m] <= s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	n := int32(lo - 1)
	if n < 0 {
		return -1
	}
	common := commonPrefixLen(p.keys[n], s)
	for n >= 0 && len(p.keys[n]) > common {
		n = p.parent[n]
	}
	return n
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
