package binding

import "testing"

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"abc", "ab", false},
		{"abc", "", false},
		{"*", "", true},
		{"*", "any/thing/at:all", true},
		{"a*", "a", true},
		{"a*", "ba", false},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"a*a", "aXa", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*b", "aXbYb", true},
		{"a*b", "aXbY", false},
		{"*ab*ab", "xabab", true},
		{"*ab*ab", "xab", false},
		{"*b*", "aaa", false},
		{"*b*", "b", true},
		{"repo:acme/deploy:*", "repo:acme/deploy:ref:refs/heads/main", true},
		{"repo:acme/deploy:*", "repo:acme/deploy-evil:ref:refs/heads/main", false},
		{"repo:acme/deploy:*", "repo:acme/deploy", false},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"sha256:*", "sha256:", true},
		{"prod*", "PROD", false},
		{"x?y", "xzy", false},
		{"x?y", "x?y", true},
		{"[a]", "a", false},
		{"[a]", "[a]", true},
		{"é*", "été", true},
	}
	for _, c := range cases {
		g, err := compileGlob(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := g.match(c.s); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestGlobBad(t *testing.T) {
	long := make([]byte, maxPatternBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, p := range []string{"", "a**", "**", "a\nb", "\xff", string(long)} {
		if _, err := compileGlob(p); err == nil {
			t.Errorf("%q compiled", p)
		}
	}
}
