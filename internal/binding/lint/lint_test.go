package lint

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/binding"
)

// fpA and fpB are fingerprints as `provost fingerprint` prints them.
var fpA, fpB = "fp1:" + strings.Repeat("A", 43), "fp1:" + strings.Repeat("B", 42) + "A"

// Each rule has a row where it fires and a row where it nearly does.
func TestFindings(t *testing.T) {
	const dpop = "    require: {possession: dpop}\n"
	cases := []struct {
		name string
		src  string
		want []string // "rule line field: message", in order
	}{
		{"clean", "version: 1\nnetworks:\n  hosts: [10.0.0.0/8]\nbindings:\n  - name: a\n    match: {subject: a}\n    require: {networks: [hosts]}\n", nil},
		{"approves any origin", "version: 1\nbindings:\n  - name: a\n    match: {subject: a}\n" + dpop + "  - name: b\n    match: {subject: b}\n",
			[]string{"approves_any_origin 6 bindings[1]: binding b requires nothing and no evidence: it approves any origin"}},
		{"evidence alone is a requirement", "version: 1\nbindings:\n  - name: a\n    match: {subject: a}\n    require_evidence: [workload]\n", nil},
		{"unreachable", "version: 1\nbindings:\n  - name: a\n    match: {subject: \"svc:*\", fingerprints: [" + fpB + ", " + fpA + "]}\n" + dpop +
			"  - name: b\n    match:\n      fingerprints: [" + fpA + ", " + fpB + ", " + fpA + "]\n      subject: \"svc:*\"\n" + dpop,
			[]string{"unreachable_binding 8 bindings[1].match: binding b is unreachable: binding a before it has the identical match"}},
		{"different claims are reachable", "version: 1\nbindings:\n  - name: a\n    match: {subject: s, claims: {t: x}}\n" + dpop +
			"  - name: b\n    match: {subject: s, claims: {t: y}}\n" + dpop, nil},
		{"learn mode", "version: 1\nbindings:\n  - name: v\n    mode: learn\n    match: {subject: v}\n" + dpop,
			[]string{"learn_mode 3 bindings[0]: binding v is in learn mode: it allows every request; tighten it with `provost bindings propose --binding v`"}},
		{"monitor mode is not learning", "version: 1\nmode: monitor\nbindings:\n  - name: v\n    match: {subject: v}\n" + dpop, nil},
		{"honeytoken with requirements", "version: 1\nbindings:\n  - name: c\n    match: {subject: c}\n    honeytoken: true\n" + dpop,
			[]string{"honeytoken_with_requirements 3 bindings[0]: binding c is a honeytoken with requirements: a honeytoken is always denied, so they are never used"}},
		{"honeytoken requiring nothing", "version: 1\nbindings:\n  - name: c\n    match: {subject: c}\n    honeytoken: true\n", nil},
		{"unused network", "version: 1\nnetworks:\n  b: [10.2.0.0/16]\n  a: [10.1.0.0/16]\n  c: [10.3.0.0/16]\nbindings:\n  - name: x\n    match: {subject: x}\n    require: {networks: [c, 10.1.0.0/16]}\n",
			[]string{"unused_network 4 networks.a: network a is used by no binding", "unused_network 3 networks.b: network b is used by no binding"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, err := binding.Parse("b.yaml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			fs := Findings(set, []byte(c.src))
			var got []string
			for _, f := range fs {
				if f.Severity != Warning || f.File != "b.yaml" {
					t.Errorf("finding %+v", f)
				}
				got = append(got, fmt.Sprintf("%s %d %s: %s", f.Rule, f.Line, f.Field, f.Message))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	src := []byte("version: 1\nbindings:\n  - name: a\n    match: {subject: a}\n")
	set, err := binding.Parse("b.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	const msg = "warning: binding a requires nothing and no evidence: it approves any origin"
	if fs := Findings(set, src); len(fs) != 1 || fs[0].String() != "b.yaml:3: "+msg {
		t.Errorf("with the source: %v", fs)
	}
	// Without the source (or with another document) the line is unknown.
	for _, other := range [][]byte{nil, []byte("{"), []byte("version: 1\n")} {
		if fs := Findings(set, other); len(fs) != 1 || fs[0].Line != 0 || fs[0].String() != "b.yaml: "+msg {
			t.Errorf("with %q: %v", other, fs)
		}
	}
}

func TestDescribe(t *testing.T) {
	set, err := binding.Parse("b.yaml", []byte(strings.ReplaceAll(`version: 1
networks:
  build-hosts: [10.20.0.0/16]
bindings:
  - name: ci-deploy
    match: {subject: "repo:acme/deploy:*"}
    require:
      networks: [build-hosts]
      ci: {repository: acme/deploy}
    on_violation: revoke
  - name: vendor
    mode: monitor
    match: {fingerprints: [FPA, FPB], issuer: "https://sts.acme.test", claims: {"tenant id": "a b"}}
    require:
      workloads: [spiffe://acme.test/x]
      proxy_chain: [edge, gw]
      posture: {image: "sha256:*"}
      time: {windows: [{days: [mon, tue], hours: "09:00-17:00", tz: Europe/Paris}, {hours: "00:00-06:00"}], max_token_age: 1h, max_idle: 24h}
      possession: dpop
      rule: 'signals.request.method == "GET"'
    require_evidence: [workload, posture]
    on_violation: deny
  - name: canary
    match: {api_key: "key 1"}
    honeytoken: true
`, "FPA, FPB", fpA+", "+fpB)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ci-deploy (enforce): match subject=repo:acme/deploy:*; require networks=build-hosts ci.repository=acme/deploy; on_violation revoke",
		`vendor (monitor): match fingerprints(2) issuer=https://sts.acme.test claims.tenant id="a b"; require workloads=spiffe://acme.test/x proxy_chain=edge>gw posture.image=sha256:* ` +
			`time.window=mon,tue 09:00-17:00 Europe/Paris time.window=every-day 00:00-06:00 UTC time.max_token_age=1h time.max_idle=24h possession=dpop ` +
			`rule="signals.request.method == \"GET\"" evidence=workload,posture; on_violation deny`,
		`canary (enforce): match api_key="key 1"; require nothing; on_violation deny; honeytoken`,
	}
	for i, b := range set.Bindings {
		if got := Describe(b); got != want[i] {
			t.Errorf("Describe:\n got %s\nwant %s", got, want[i])
		}
	}
}

// sameMatch is the pairwise comparison matchKey replaced: the oracle.
func sameMatch(a, b *binding.MatchSpec) bool {
	fa, fb := slices.Clone(a.Fingerprints), slices.Clone(b.Fingerprints)
	slices.Sort(fa)
	slices.Sort(fb)
	return slices.Equal(slices.Compact(fa), slices.Compact(fb)) && a.Issuer == b.Issuer && a.Subject == b.Subject &&
		a.APIKey == b.APIKey && maps.Equal(a.Claims, b.Claims)
}

func TestMatchKey(t *testing.T) {
	m := func(fps []string, iss, sub, key string, claims map[string]string) binding.MatchSpec {
		return binding.MatchSpec{Fingerprints: fps, Issuer: iss, Subject: sub, APIKey: key, Claims: claims}
	}
	cases := []struct {
		name string
		a, b binding.MatchSpec
		same bool
	}{
		{"identical", m(nil, "i", "s", "", nil), m(nil, "i", "s", "", nil), true},
		{"fingerprints as a set", m([]string{fpA, fpB, fpA}, "", "", "", nil), m([]string{fpB, fpA}, "", "", "", nil), true},
		{"other fingerprints", m([]string{fpA}, "", "", "", nil), m([]string{fpA, fpB}, "", "", "", nil), false},
		{"empty is none", m([]string{}, "i", "", "", map[string]string{}), m(nil, "i", "", "", nil), true},
		{"issuer is not subject", m(nil, "a", "", "", nil), m(nil, "", "a", "", nil), false},
		{"subject is not api key", m(nil, "", "a", "", nil), m(nil, "", "", "a", nil), false},
		{"lengths do not run together", m(nil, "1:a", "", "", nil), m(nil, "1", "a", "", nil), false},
		{"claims in any order", m(nil, "", "", "", map[string]string{"x": "1", "y": "2"}), m(nil, "", "", "", map[string]string{"y": "2", "x": "1"}), true},
		{"claim name and value", m(nil, "", "", "", map[string]string{"x": "1y"}), m(nil, "", "", "", map[string]string{"x1": "y"}), false},
		{"claims are not the issuer", m(nil, "", "", "", map[string]string{"i": ""}), m(nil, "i", "", "", nil), false},
		{"claim names are length-prefixed", m(nil, "", "", "", map[string]string{"a": "1:b"}), m(nil, "", "", "", map[string]string{"a3:": "b"}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := matchKey(&c.a) == matchKey(&c.b); got != c.same {
				t.Errorf("same key: %v, want %v (%q, %q)", got, c.same, matchKey(&c.a), matchKey(&c.b))
			}
			if got := sameMatch(&c.a, &c.b); got != c.same {
				t.Errorf("the pairwise comparison says %v, want %v: the case is wrong", got, c.same)
			}
		})
	}
	// Random match sections over a tiny alphabet: the key agrees with the
	// pairwise comparison, and reads back to the section (so no two
	// sections share a key).
	r := rand.New(rand.NewPCG(3, 4))
	pick := func(vals ...string) string { return vals[r.IntN(len(vals))] }
	spec := func() binding.MatchSpec {
		var s binding.MatchSpec
		for range r.IntN(3) {
			s.Fingerprints = append(s.Fingerprints, pick(fpA, fpB))
		}
		s.Issuer, s.Subject, s.APIKey = pick("", "a", "b"), pick("", "a", "b"), pick("", "a")
		if r.IntN(2) == 0 {
			s.Claims = map[string]string{}
			for range r.IntN(3) {
				s.Claims[pick("a", "b")] = pick("", "a")
			}
		}
		return s
	}
	for range 5000 {
		a, b := spec(), spec()
		if (matchKey(&a) == matchKey(&b)) != sameMatch(&a, &b) {
			t.Fatalf("%+v and %+v: key %v, pairwise %v", a, b, matchKey(&a) == matchKey(&b), sameMatch(&a, &b))
		}
		if back, ok := readMatchKey(matchKey(&a)); !ok || !sameMatch(&back, &a) {
			t.Fatalf("%+v: key %q reads back as %+v (%v)", a, matchKey(&a), back, ok)
		}
	}
}

// readMatchKey decodes a matchKey.
func readMatchKey(k string) (binding.MatchSpec, bool) {
	var m binding.MatchSpec
	count := func() (int, bool) {
		n, rest, ok := strings.Cut(k, "|")
		i, err := strconv.Atoi(n)
		k = rest
		return i, ok && err == nil
	}
	part := func() (string, bool) {
		n, rest, ok := strings.Cut(k, ":")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i > len(rest) {
			return "", false
		}
		k = rest[i:]
		return rest[:i], true
	}
	n, ok := count()
	for ; ok && n > 0; n-- {
		var fp string
		fp, ok = part()
		m.Fingerprints = append(m.Fingerprints, fp)
	}
	for _, f := range []*string{&m.Issuer, &m.Subject, &m.APIKey} {
		if ok {
			*f, ok = part()
		}
	}
	if ok {
		n, ok = count()
	}
	for ; ok && n > 0; n-- {
		var name, v string
		if name, ok = part(); ok {
			v, ok = part()
		}
		if m.Claims == nil {
			m.Claims = map[string]string{}
		}
		m.Claims[name] = v
	}
	return m, ok && k == ""
}
