package binding

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPatternBytes bounds one glob or exact value.
const maxPatternBytes = 1024

// glob is an exact value or a pattern where each '*' matches any run of
// characters, '/' included, and every other character matches itself.
type glob struct {
	raw   string
	parts []string // raw split at '*'; nil when raw has no '*'
}

func compileGlob(p string) (glob, error) {
	switch {
	case p == "":
		return glob{}, errors.New("is empty")
	case len(p) > maxPatternBytes:
		return glob{}, errors.New("is longer than 1024 bytes")
	case !utf8.ValidString(p):
		return glob{}, errors.New("is not valid UTF-8")
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return glob{}, errors.New("holds a control character")
	case strings.Contains(p, "**"):
		return glob{}, errors.New("holds \"**\": write a single '*', which already matches any run of characters, '/' included")
	}
	g := glob{raw: p}
	if strings.Contains(p, "*") {
		g.parts = strings.Split(p, "*")
	}
	return g, nil
}

// match reports whether s matches the pattern. With '*' as the only
// wildcard, taking the leftmost occurrence of each middle part is exact.
func (g *glob) match(s string) bool {
	if g.parts == nil {
		return s == g.raw
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, part := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}
