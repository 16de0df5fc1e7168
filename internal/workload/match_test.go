package workload_test

import (
	"testing"

	"github.com/provost-dev/provost/internal/workload"
)

func TestMatchID(t *testing.T) {
	for _, tc := range []struct {
		pattern, id string
		want        bool
	}{
		// Exact.
		{"spiffe://td/ns/prod/api", "spiffe://td/ns/prod/api", true},
		{"spiffe://td/ns/prod/api", "spiffe://td/ns/prod/api2", false},
		{"spiffe://td/ns/prod/api", "spiffe://td/ns/prod", false},
		{"spiffe://td/ns/prod/api", "spiffe://td/ns/prod/api/x", false},
		{"spiffe://td/ns/prod/api", "spiffe://other/ns/prod/api", false},
		{"spiffe://td/ns/prod", "spiffe://td/ns/prod-evil", false},
		// Prefix: strictly below, on a segment boundary.
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/api", true},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/a/b/c", true},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod-evil", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod-evil/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/production/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td2/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://t/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/*", false},
		{"spiffe://td/*", "spiffe://td/anything", true},
		{"spiffe://td/*", "spiffe://td", false},
		{"spiffe://td/*", "spiffe://td2/anything", false},
		// Trailing slashes are not SPIFFE IDs, in patterns or in IDs.
		{"spiffe://td/ns/prod/", "spiffe://td/ns/prod/", false},
		{"spiffe://td/ns/prod/", "spiffe://td/ns/prod", false},
		{"spiffe://td/ns/prod//*", "spiffe://td/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/api/", false},
		{"spiffe://td/ns/prod", "spiffe://td/ns/prod/", false},
		// IDs and patterns that are not valid SPIFFE IDs match nothing.
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/../admin", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/./api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod//api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/api?x=1", false},
		{"spiffe://td/ns/prod/*", "spiffe://td/ns/prod/api#x", false},
		{"spiffe://td/ns/prod/*", "SPIFFE://td/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://TD/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://user@td/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "spiffe://td:443/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "https://td/ns/prod/api", false},
		{"spiffe://td/ns/prod/*", "", false},
		{"spiffe://td", "spiffe://td", false},
		{"spiffe://td/ns/*/api", "spiffe://td/ns/x/api", false},
		{"*", "spiffe://td/api", false},
		{"", "", false},
	} {
		if got := workload.MatchID(tc.pattern, tc.id); got != tc.want {
			t.Errorf("MatchID(%q, %q) = %v, want %v", tc.pattern, tc.id, got, tc.want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for _, s := range []string{"spiffe://td/a", "spiffe://td/a/*", "spiffe://td/*"} {
		p, err := workload.ParsePattern(s)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", s, err)
		}
		if p.String() != s {
			t.Errorf("String() = %q, want %q", p.String(), s)
		}
	}
	for _, s := range []string{"", "*", "spiffe://td", "spiffe://td/", "spiffe://td/a/", "spiffe://td/a//*", "spiffe://td/a*", "https://td/a"} {
		if _, err := workload.ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted", s)
		}
	}
	var zero workload.Pattern
	if zero.Match("spiffe://td/a") {
		t.Error("zero Pattern matched")
	}
}
