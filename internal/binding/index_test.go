package binding

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// linearMatch is the linear first-match scan Match replaced: the oracle of
// the index.
func linearMatch(s *Set, c *credential.Result) *Binding {
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

// linearNamesWorkload is the linear scan NamesWorkload replaced.
func linearNamesWorkload(s *Set, id string) bool {
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

func nameOf(b *Binding) string {
	if b == nil {
		return ""
	}
	return b.Name
}

// The first-match rule: whatever index a binding is filed under, the
// binding declared first among those whose match holds wins.
func TestMatchFirstDeclaredWins(t *testing.T) {
	const iss = "https://i.example"
	jwt := func(sub string, claims map[string]any) credential.Result {
		return credential.Result{Verdict: credential.Accepted, Kind: credential.KindJWT, Fingerprint: fpDeploy,
			Metadata: credential.Metadata{Issuer: iss, Subject: sub, Claims: claims}}
	}
	cases := []struct {
		name     string
		bindings string // the bindings section
		c        credential.Result
		want     string
	}{
		{"subject glob before fingerprint", `
  - {name: glob, match: {subject: "repo:*"}}
  - {name: fp, match: {fingerprints: [` + fpDeploy + `]}}`, jwt("repo:x", nil), "glob"},
		{"fingerprint before subject glob", `
  - {name: fp, match: {fingerprints: [` + fpDeploy + `]}}
  - {name: glob, match: {subject: "repo:*"}}`, jwt("repo:x", nil), "fp"},
		{"issuer alone before exact subject", `
  - {name: any, match: {issuer: ` + iss + `}}
  - {name: exact, match: {issuer: ` + iss + `, subject: "repo:x"}}`, jwt("repo:x", nil), "any"},
		{"exact subject before issuer alone", `
  - {name: exact, match: {issuer: ` + iss + `, subject: "repo:x"}}
  - {name: any, match: {issuer: ` + iss + `}}`, jwt("repo:x", nil), "exact"},
		{"shorter prefix declared first", `
  - {name: short, match: {subject: "r*"}}
  - {name: long, match: {subject: "repo:x*"}}`, jwt("repo:xy", nil), "short"},
		{"longer prefix declared first", `
  - {name: long, match: {subject: "repo:x*"}}
  - {name: short, match: {subject: "r*"}}`, jwt("repo:xy", nil), "long"},
		{"empty prefix", `
  - {name: suffix, match: {subject: "*:xy"}}
  - {name: exact, match: {subject: "repo:xy"}}`, jwt("repo:xy", nil), "suffix"},
		{"no issuer before an issuer", `
  - {name: open, match: {subject: "repo:*"}}
  - {name: issued, match: {issuer: ` + iss + `, subject: "repo:*"}}`, jwt("repo:x", nil), "open"},
		{"other issuer skipped", `
  - {name: other, match: {issuer: https://other, subject: "repo:*"}}
  - {name: issued, match: {issuer: ` + iss + `, subject: "repo:*"}}`, jwt("repo:x", nil), "issued"},
		{"same key, first fails in full", `
  - {name: prod, match: {subject: "repo:*", claims: {env: prod}}}
  - {name: dev, match: {subject: "repo:*", claims: {env: dev}}}`, jwt("repo:x", map[string]any{"env": "dev"}), "dev"},
		{"claim glob before subject", `
  - {name: claim, match: {claims: {env: "pr*"}}}
  - {name: subject, match: {subject: "repo:x"}}`, jwt("repo:x", map[string]any{"env": "prod"}), "claim"},
		{"exact claim before claim glob", `
  - {name: exact, match: {claims: {env: prod, repo: "a*"}}}
  - {name: glob, match: {claims: {env: "p*"}}}`, jwt("s", map[string]any{"env": "prod", "repo": "ab"}), "exact"},
		{"claim glob before exact claim", `
  - {name: glob, match: {claims: {env: "p*"}}}
  - {name: exact, match: {claims: {env: prod, repo: "a*"}}}`, jwt("s", map[string]any{"env": "prod", "repo": "ab"}), "glob"},
		{"claim not a string", `
  - {name: glob, match: {claims: {env: "*"}}}
  - {name: any, match: {issuer: ` + iss + `}}`, jwt("s", map[string]any{"env": float64(1)}), "any"},
		{"same fingerprint twice", `
  - {name: first, match: {fingerprints: [` + fpDeploy + `, ` + fpOld + `]}}
  - {name: second, match: {fingerprints: [` + fpDeploy + `]}}`, jwt("s", nil), "first"},
		{"fingerprint filed, subject fails", `
  - {name: fp, match: {fingerprints: [` + fpDeploy + `], subject: "other"}}
  - {name: glob, match: {subject: "*"}}`, jwt("s", nil), "glob"},
		{"api key before issuer", `
  - {name: key, match: {api_key: k}}
  - {name: any, match: {subject: "*"}}`, credential.Result{Verdict: credential.Accepted, Metadata: credential.Metadata{APIKey: "k", Subject: "s"}}, "key"},
		{"nothing matches", `
  - {name: key, match: {api_key: k}}
  - {name: glob, match: {subject: "a*"}}`, jwt("s", nil), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustParse(t, "version: 1\nbindings:"+c.bindings+"\n")
			if got := nameOf(s.Match(&c.c)); got != c.want {
				t.Errorf("Match = %q, want %q", got, c.want)
			}
			if got := nameOf(linearMatch(s, &c.c)); got != c.want {
				t.Errorf("the linear scan gives %q, want %q: the case is wrong", got, c.want)
			}
		})
	}
}

func TestNamesWorkloadIndexed(t *testing.T) {
	s := mustParse(t, `version: 1
bindings:
  - {name: a, match: {issuer: x}, require: {workloads: ["spiffe://td/*"]}}
  - {name: b, match: {issuer: y}, require: {workloads: ["spiffe://acme/ns/prod/*", "spiffe://acme/ns/prod/api", "spiffe://acme/ns/prodx/*"]}}
  - {name: c, match: {issuer: z}, require: {workloads: ["spiffe://acme/ns/*", "spiffe://acme/a/b/c/*"]}}
`)
	cases := []struct {
		id   string
		want bool
	}{
		{"spiffe://td/x", true},
		{"spiffe://td", false},
		{"spiffe://tdx/x", false},
		{"spiffe://acme/ns/prod/api", true},
		{"spiffe://acme/ns/prod", true}, // below spiffe://acme/ns/*
		{"spiffe://acme/ns", false},
		{"spiffe://acme/nsx/a", false},
		{"spiffe://acme/a/b/c", false},
		{"spiffe://acme/a/b/c/d", true},
		{"spiffe://acme/a/b/cd", false},
		{"spiffe://acme/a/b", false},
		{"spiffe://acme/b", false},
		{"spiffe://ACME/ns/x", false},
		{"not an id", false},
	}
	for _, c := range cases {
		if got := s.NamesWorkload(c.id); got != c.want {
			t.Errorf("NamesWorkload(%q) = %v, want %v", c.id, got, c.want)
		}
		if got := linearNamesWorkload(s, c.id); got != c.want {
			t.Errorf("the linear scan names %q: %v, want %v: the case is wrong", c.id, got, c.want)
		}
	}
}

func TestPrefixIndex(t *testing.T) {
	keys := []string{"ab", "", "abc", "b", "abd", "ab", "abcde", "x"}
	var es []prefixEntry
	for i, k := range keys {
		es = append(es, prefixEntry{k, int32(i)})
	}
	p := newPrefixIndex(es)
	cases := []struct {
		s    string
		want string // the keys that are prefixes of s, longest first, with their positions
	}{
		{"abcdef", "abcde:6 abc:2 ab:0,5 :1"},
		{"abcd", "abc:2 ab:0,5 :1"},
		{"abd", "abd:4 ab:0,5 :1"},
		{"abz", "ab:0,5 :1"},
		{"a", ":1"},
		{"", ":1"},
		{"bz", "b:3 :1"},
		{"zz", ":1"},
		{"x", "x:7 :1"},
	}
	for _, c := range cases {
		var got []string
		for n := p.deepest(c.s); n >= 0; n = p.parent[n] {
			var pos []string
			for _, v := range p.vals[p.off[n]:p.off[n+1]] {
				pos = append(pos, strconv.Itoa(int(v)))
			}
			got = append(got, p.keys[n]+":"+strings.Join(pos, ","))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("prefixes of %q: %s, want %s", c.s, g, c.want)
		}
	}
	if (&prefixIndex{}).deepest("a") != -1 {
		t.Error("an empty index has a prefix")
	}
}

// source gives the choices of a random binding set: from a PRNG in the
// differential test, from the fuzzer's bytes in the fuzz target (0 once
// they run out).
type source interface{ intn(n int) int }

type prngSource struct{ r *rand.Rand }

func (s prngSource) intn(n int) int { return s.r.IntN(n) }

type byteSource struct{ b []byte }

func (s *byteSource) intn(n int) int {
	if len(s.b) == 0 {
		return 0
	}
	v := int(s.b[0])
	s.b = s.b[1:]
	return v % n
}

var (
	diffFingerprints = []string{fpDeploy, fpOld, scaleFingerprint(1), scaleFingerprint(2)}
	diffIssuers      = []string{"", "i1", "i2"}
	diffClaimNames   = []string{"x", "y", "z", "u", "v", "w"} // more than manyClaims
	diffWorkloads    = []string{"spiffe://t1/a", "spiffe://t1/a/*", "spiffe://t1/*", "spiffe://t2/a/b", "spiffe://t1/a/b/*", "spiffe://t1/ab/*", "spiffe://t2/*", "spiffe://t1/a/b"}
	diffIDs          = []string{"spiffe://t1/a", "spiffe://t1/a/b", "spiffe://t1/a/b/c", "spiffe://t1/ab", "spiffe://t1/ab/c", "spiffe://t2/a", "spiffe://t2/a/b", "spiffe://t3/a", "spiffe://t1", "x"}
)

// diffString is a short string over a small alphabet, so that values,
// prefixes and globs collide often; with star, it may hold single '*'.
func diffString(src source, star bool) string {
	const alphabet = "ab:/"
	var sb strings.Builder
	for range src.intn(5) {
		if star && src.intn(3) == 0 && !strings.HasSuffix(sb.String(), "*") {
			sb.WriteByte('*')
			continue
		}
		sb.WriteByte(alphabet[src.intn(len(alphabet))])
	}
	return sb.String()
}

func diffPattern(src source) string {
	for {
		p := diffString(src, true)
		if _, err := compileGlob(p); err == nil {
			return p
		}
		if src.intn(2) == 0 {
			return "*"
		}
	}
}

// diffSet is a random set of up to 24 bindings.
func diffSet(t testing.TB, src source) *Set {
	t.Helper()
	doc := &fileDoc{Version: Version}
	for i := range 1 + src.intn(24) {
		d := bindingDoc{Name: "b" + strconv.Itoa(i)}
		m := &d.Match
		if src.intn(4) == 0 {
			for range 1 + src.intn(2) {
				m.Fingerprints = append(m.Fingerprints, diffFingerprints[src.intn(len(diffFingerprints))])
			}
		}
		m.Issuer = diffIssuers[src.intn(len(diffIssuers))]
		if src.intn(2) == 0 {
			m.Subject = diffPattern(src)
		}
		if src.intn(2) == 0 {
			m.Claims = map[string]string{}
			for range 1 + src.intn(3) {
				m.Claims[diffClaimNames[src.intn(len(diffClaimNames))]] = diffPattern(src)
			}
		}
		if src.intn(5) == 0 {
			m.APIKey = "k" + strconv.Itoa(src.intn(3))
		}
		if m.Fingerprints == nil && m.Issuer == "" && m.Subject == "" && m.Claims == nil && m.APIKey == "" {
			m.Issuer = "i1"
		}
		if src.intn(2) == 0 {
			for range 1 + src.intn(2) {
				d.Require.Workloads = append(d.Require.Workloads, diffWorkloads[src.intn(len(diffWorkloads))])
			}
		}
		doc.Bindings = append(doc.Bindings, d)
	}
	s, err := compile(doc)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func diffCredential(src source) credential.Result {
	c := credential.Result{Verdict: credential.Accepted, Kind: credential.KindJWT}
	if src.intn(8) == 0 {
		c.Verdict = credential.Rejected
	}
	if i := src.intn(len(diffFingerprints) + 2); i < len(diffFingerprints) {
		c.Fingerprint = diffFingerprints[i]
	}
	c.Metadata.Issuer = diffIssuers[src.intn(len(diffIssuers))]
	c.Metadata.Subject = diffString(src, false)
	if src.intn(3) > 0 {
		c.Metadata.Claims = map[string]any{}
		for _, n := range diffClaimNames {
			switch src.intn(6) {
			case 0, 1, 2:
			case 3:
				c.Metadata.Claims[n] = float64(src.intn(3))
			default:
				c.Metadata.Claims[n] = diffString(src, false)
			}
		}
	}
	if i := src.intn(4); i < 3 {
		c.Metadata.APIKey = "k" + strconv.Itoa(i)
	}
	return c
}

// checkAgainstLinear compares the indexed Match and NamesWorkload with the
// linear scans on every credential.
func checkAgainstLinear(t testing.TB, s *Set, creds []credential.Result) {
	t.Helper()
	for i := range creds {
		c := &creds[i]
		if got, want := s.Match(c), linearMatch(s, c); got != want {
			t.Fatalf("Match(%+v) = %q, the linear scan gives %q; bindings:\n%s", *c, nameOf(got), nameOf(want), describeSet(s))
		}
	}
	for _, id := range diffIDs {
		if got, want := s.NamesWorkload(id), linearNamesWorkload(s, id); got != want {
			t.Fatalf("NamesWorkload(%q) = %v, the linear scan gives %v; bindings:\n%s", id, got, want, describeSet(s))
		}
	}
}

func describeSet(s *Set) string {
	var sb strings.Builder
	for _, b := range s.Bindings {
		fmt.Fprintf(&sb, "%s: %+v workloads=%v\n", b.Name, b.Match, b.Require.Workloads)
	}
	return sb.String()
}

// TestMatchIndexDifferential: over random binding sets and credentials, the
// indexed Match and NamesWorkload agree with the linear scans.
func TestMatchIndexDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := prngSource{r}
	matched := 0
	for range 400 {
		s := diffSet(t, src)
		creds := make([]credential.Result, 200)
		for i := range creds {
			creds[i] = diffCredential(src)
			if linearMatch(s, &creds[i]) != nil {
				matched++
			}
		}
		checkAgainstLinear(t, s, creds)
	}
	// The generator must make matches common, or the comparison says little.
	if matched < 400*200/10 {
		t.Errorf("only %d of %d credentials matched a binding", matched, 400*200)
	}
}

// FuzzMatchIndex: the fuzzer's bytes choose a binding set and credentials;
// the indexed Match and NamesWorkload must agree with the linear scans.
func FuzzMatchIndex(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3} {
		b := binary.LittleEndian.AppendUint64(nil, seed)
		f.Add(append(b, strings.Repeat("\x07\x01\x03\x00\x02\x05", 20)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &byteSource{b: data}
		s := diffSet(t, src)
		creds := make([]credential.Result, 8)
		for i := range creds {
			creds[i] = diffCredential(src)
		}
		checkAgainstLinear(t, s, creds)
	})
}
