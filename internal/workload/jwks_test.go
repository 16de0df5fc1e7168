package workload

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestParseJWTBundleFixtures(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("a.example")
	for _, tc := range []struct {
		file     string
		wantKids []string // nil: must be rejected
		wantErr  string
	}{
		{"plain.json", []string{"ec-1", "rsa-1"}, ""},
		{"spiffe-bundle.json", []string{"ec-1"}, ""}, // "enc" key skipped
		{"ed25519.json", nil, "not usable for JWT-SVIDs"},
		{"rsa-1024.json", nil, "fewer than 2048"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/jwks/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseJWTBundle(td, data)
			if tc.wantKids == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWTBundle: %v", err)
			}
			var kids []string
			for kid := range b.JWTAuthorities() {
				kids = append(kids, kid)
			}
			slices.Sort(kids)
			if !slices.Equal(kids, tc.wantKids) {
				t.Fatalf("kids = %v, want %v", kids, tc.wantKids)
			}
		})
	}
}
