package workload

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

func FuzzParseJWTBundle(f *testing.F) {
	ca := workloadtest.NewCA(f, "a.example")
	seed, err := os.ReadFile(ca.JWTBundleFile(f, f.TempDir()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"k","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"use":"x509-svid"}]}`))
	entries, _ := filepath.Glob("testdata/jwks/*.json")
	for _, e := range entries {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b)
		}
	}
	td := spiffeid.RequireTrustDomainFromString("a.example")
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseJWTBundle(td, data)
		if err != nil {
			return
		}
		if b.Empty() {
			t.Fatal("accepted an empty bundle")
		}
		for kid, key := range b.JWTAuthorities() {
			switch key.(type) {
			case *ecdsa.PublicKey, *rsa.PublicKey:
			default:
				t.Fatalf("accepted key %q of type %T", kid, key)
			}
			if kid == "" {
				t.Fatal("accepted a key without kid")
			}
		}
	})
}
