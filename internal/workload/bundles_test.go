package workload_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

func TestLoadBundles(t *testing.T) {
	dir := t.TempDir()
	a := workloadtest.NewCA(t, "a.example")
	b := workloadtest.NewCA(t, "b.example")
	bundles, err := workload.LoadBundles([]workload.BundleConfig{
		{TrustDomain: "a.example", X509CAFile: a.WritePEM(t, dir), JWTBundleFile: a.JWTBundleFile(t, dir)},
		{TrustDomain: "spiffe://b.example", JWTBundleFile: writePlainJWKS(t, dir, b)},
	})
	if err != nil {
		t.Fatalf("LoadBundles: %v", err)
	}
	now := time.Now()
	chain, _ := a.IssueSVID(t, "spiffe://a.example/api")
	if _, err := bundles.VerifyX509(chain, now, workload.SourceMTLS); err != nil {
		t.Errorf("X.509-SVID of a.example: %v", err)
	}
	for _, ca := range []*workloadtest.CA{a, b} {
		tok := ca.SignJWTSVID(t, "spiffe://"+ca.TrustDomain()+"/api", aud, now.Add(time.Minute))
		if _, err := bundles.VerifyJWT(tok, aud, now); err != nil {
			t.Errorf("JWT-SVID of %s: %v", ca.TrustDomain(), err)
		}
	}
	// b.example has no X.509 bundle: only JWT-SVIDs from it verify.
	chain, _ = b.IssueSVID(t, "spiffe://b.example/api")
	if _, err := bundles.VerifyX509(chain, now, workload.SourceMTLS); err == nil {
		t.Error("X.509-SVID of b.example accepted without an X.509 bundle")
	}
}

func TestLoadBundlesErrors(t *testing.T) {
	dir := t.TempDir()
	ca := workloadtest.NewCA(t, "a.example")
	caPEM := ca.WritePEM(t, dir)
	leaf, _ := ca.IssueSVID(t, "spiffe://a.example/api")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privBytes, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	privJWK, err := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	pubJWK, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	pubNoKid, err := json.Marshal(jose.JSONWebKey{Key: priv.Public()})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		cfg      workload.BundleConfig
		wantFile bool     // error must name the file
		want     []string // more substrings the error must have
	}{
		{"missing CA file", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: filepath.Join(dir, "nope.pem")}, true, nil},
		{"missing JWT file", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: filepath.Join(dir, "nope.json")}, true, nil},
		{"CA file not PEM", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: write("garbage.pem", "hello")}, true, []string{"no PEM"}},
		{"CA file with a key block", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: write("key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})))}, true, []string{"PRIVATE KEY"}},
		{"CA file with a leaf", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: write("leaf.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf[0].Raw})))}, true, []string{"not a CA"}},
		{"CA file corrupt certificate", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: write("bad.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x01}})))}, true, nil},
		{"CA file too large", workload.BundleConfig{TrustDomain: "a.example", X509CAFile: write("big.pem", strings.Repeat("x", 1<<20+1))}, true, []string{"larger than"}},
		{"JWKS not JSON", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("bad.json", "{")}, true, nil},
		{"JWKS private key", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("priv.json", `{"keys":[`+string(privJWK)+`]}`)}, true, []string{"not a public"}},
		{"JWKS symmetric key", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("oct.json", `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)}, true, []string{"not a public"}},
		{"JWKS without kid", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("nokid.json", `{"keys":[`+string(pubNoKid)+`]}`)}, true, []string{"kid"}},
		{"JWKS duplicate kid", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("dup.json", `{"keys":[`+string(pubJWK)+`,`+string(pubJWK)+`]}`)}, true, []string{"duplicate"}},
		{"JWKS with only x509-svid keys", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("x509only.json", `{"keys":[{"use":"x509-svid","kty":"EC"}]}`)}, true, []string{"no JWT-SVID key"}},
		{"JWKS empty", workload.BundleConfig{TrustDomain: "a.example", JWTBundleFile: write("empty.json", `{"keys":[]}`)}, true, []string{"no JWT-SVID key"}},
		{"bad trust domain", workload.BundleConfig{TrustDomain: "A Example", X509CAFile: caPEM}, false, []string{"A Example"}},
		{"no files", workload.BundleConfig{TrustDomain: "a.example"}, false, []string{"neither"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workload.LoadBundles([]workload.BundleConfig{tc.cfg})
			if err == nil {
				t.Fatal("LoadBundles accepted the configuration")
			}
			msg := err.Error()
			if tc.wantFile {
				file := tc.cfg.X509CAFile + tc.cfg.JWTBundleFile
				if !strings.Contains(msg, file) || !strings.Contains(msg, `"a.example"`) {
					t.Errorf("error %q does not name file %q and trust domain", msg, file)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, base64.RawURLEncoding.EncodeToString(privBytes)) {
				t.Errorf("error leaks private key material")
			}
		})
	}
	_, err = workload.LoadBundles([]workload.BundleConfig{
		{TrustDomain: "a.example", X509CAFile: caPEM},
		{TrustDomain: "spiffe://a.example", X509CAFile: caPEM},
	})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate trust domain: %v", err)
	}
}

// writePlainJWKS writes ca's JWT key as a plain JWKS (no "use").
func writePlainJWKS(t *testing.T, dir string, ca *workloadtest.CA) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, key := range ca.JWTBundle().JWTAuthorities() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: "ES256"})
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ca.TrustDomain()+"-plain.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
