package hopcli

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/hop"
)

const secret = "s3cr3t-token-value"

func writeKey(t *testing.T, key any, pemType string) string {
	t.Helper()
	var der []byte
	var err error
	if pemType == "PRIVATE KEY" {
		der, err = x509.MarshalPKCS8PrivateKey(key)
	} else {
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := SignCommand(args, strings.NewReader(stdin), &out)
	if strings.Contains(out.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
		t.Fatalf("the raw credential leaked into output or error")
	}
	return out.String(), err
}

func TestSignCommandChain(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edFile, ecFile := writeKey(t, edKey, "PRIVATE KEY"), writeKey(t, ecKey, "PRIVATE KEY")
	common := []string{"--method", "GET", "--target", "/v1/orders?id=7", "--credential-stdin"}

	first, err := run(t, secret+"\n", append([]string{"--name", "edge", "--key", edFile}, common...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(first, "\n") || strings.Count(first, "\n") != 1 {
		t.Fatalf("output %q is not one line", first)
	}
	second, err := run(t, secret, append([]string{"--name", "gateway", "--key", ecFile, "--prior", strings.TrimSpace(first)}, common...)...)
	if err != nil {
		t.Fatal(err)
	}
	v := &hop.Verifier{
		Keys: hop.Keys{"edge": {Name: "edge", Public: edKey.Public()}, "gateway": {Name: "gateway", Public: ecKey.Public()}},
		Now:  time.Now,
	}
	req := hop.Request{Method: "GET", Target: "/v1/orders?id=7", CredentialDigest: hop.CredentialDigest(secret)}
	got, err := v.Verify([]string{strings.TrimSpace(second)}, req)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !hop.MatchChain([]string{"edge", "gateway"}, got.Hops) {
		t.Fatalf("Hops = %v", got.Hops)
	}

	noCred, err := run(t, "", "--name", "edge", "--key", edFile, "--method", "GET", "--target", "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify([]string{strings.TrimSpace(noCred)}, hop.Request{Method: "GET", Target: "/healthz"}); err != nil {
		t.Fatalf("Verify without credential: %v", err)
	}
}

func TestSignCommandErrors(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ed := writeKey(t, edKey, "PRIVATE KEY")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), maxKeyFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func(key string) []string {
		return []string{"--name", "edge", "--key", key, "--method", "GET", "--target", "/"}
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no name", "", []string{"--key", ed, "--method", "GET", "--target", "/"}, "--name is required"},
		{"no key", "", []string{"--name", "edge", "--method", "GET", "--target", "/"}, "--key is required"},
		{"no method", "", []string{"--name", "edge", "--key", ed, "--target", "/"}, "--method is required"},
		{"no target", "", []string{"--name", "edge", "--key", ed, "--method", "GET"}, "--target is required"},
		{"credential as a flag", "", append(base(ed), "--credential", secret), "invalid arguments"},
		{"credential as a bool value", "", append(base(ed), "--credential-stdin="+secret), "invalid arguments"},
		{"credential as a flag name", "", append(base(ed), "-"+secret), "invalid arguments"},
		{"extra argument", "", append(base(ed), secret), "invalid arguments"},
		{"missing key file", "", base(filepath.Join(t.TempDir(), "none.pem")), "key file"},
		{"not PEM", "", base(big), "larger than"},
		{"SEC1 not PKCS 8", "", base(writeKey(t, ecKey, "EC PRIVATE KEY")), "PKCS #8"},
		{"broken PKCS 8", "", base(garbage), "not a PKCS #8"},
		{"RSA key", "", base(writeKey(t, rsaKey, "PRIVATE KEY")), "P-256"},
		{"empty credential", "\n", append(base(ed), "--credential-stdin"), "empty"},
		{"huge credential", strings.Repeat("a", maxCredentialBytes+1), append(base(ed), "--credential-stdin"), "larger than"},
		{"bad prior", "", append(base(ed), "--prior", "garbage"), "prior"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.stdin, tt.args...)
			if err == nil {
				t.Fatalf("SignCommand = %q, want an error containing %q", out, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("printed %q on error", out)
			}
		})
	}
}

func TestSignCommandHelp(t *testing.T) {
	out, err := run(t, "", "-h")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: provost hop sign", "-credential-stdin", "-prior"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage %q lacks %q", out, want)
		}
	}
}

func TestReadCredentialTrailingNewline(t *testing.T) {
	for _, in := range []string{secret, secret + "\n", secret + "\r\n"} {
		got, err := readCredential(strings.NewReader(in))
		if err != nil || got != secret {
			t.Errorf("readCredential(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := readCredential(nil); err == nil {
		t.Error("readCredential(nil) did not fail")
	}
}

var _ crypto.Signer = ed25519.PrivateKey(nil)
