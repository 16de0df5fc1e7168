package configcheck_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/configcheck"
	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
)

// writePair writes a self-signed certificate valid from nb to na and its key.
func writePair(t *testing.T, dir, name string, nb, na time.Time) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: nb, NotAfter: na, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

func TestAGoodConfigurationPasses(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: demo.Bindings, Proxies: []string{"127.0.0.1"}})
	writePair(t, w.Dir, "serve", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	w.Write("provost.yaml", mustRead(t, w.ConfigFile())+"serve: {listen: 127.0.0.1:8080, tls: {cert: serve.pem, key: serve-key.pem}}\nadmin: {listen: 127.0.0.1:9443, token_sha256: "+strings.Repeat("0", 64)+"}\n")
	rep := configcheck.Check(t.Context(), w.ConfigFile())
	if len(rep.Problems) != 0 {
		t.Fatalf("problems in a good configuration: %v", rep.Problems)
	}
	sum := strings.Join(rep.Summary, "\n")
	for _, want := range []string{"1 issuer", "8 bindings", "serve.listen 127.0.0.1:8080", "admin.listen 127.0.0.1:9443", "2 hop keys"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Each broken part is reported at its field and line, and every one of
// them in one run.
func TestEveryProblemIsListed(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: demo.Bindings})
	os.Remove(filepath.Join(w.Dir, "issuer.jwks.json"))
	w.Write("hop-gw.pem", "not a key")
	w.Write("attestor.jwks.json", `{"keys": 3}`)
	w.Write("ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	writePair(t, w.Dir, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	w.Write("hop-key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	evKey := filepath.Join(w.Dir, "evidence.key")
	if _, err := evidencelog.CreateKeyFile(evKey, "demo.provost.test/log"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(evKey, 0o644)
	cfg := mustRead(t, w.ConfigFile()) + `serve: {listen: "0.0.0.0:9000", tls: {cert: old.pem, key: old-key.pem}}
admin: {listen: "127.0.0.1:9000", token_sha256: ` + strings.Repeat("0", 64) + `}
proxy: {listen: "127.0.0.1:9100", upstream: "http://127.0.0.1:1", hop: {name: gw, key: hop-key.pem}, tls: {cert: gone.pem, key: gone-key.pem}}
storage: {postgres: {dsn: "postgres://127.0.0.1/x", evidence_key_file: evidence.key}}
`
	w.Write("provost.yaml", cfg)
	rep := configcheck.Check(t.Context(), w.ConfigFile())
	want := map[string]string{
		"issuers[0].jwks_file":               "does not exist",
		"trust.hops[1].public_key":           "hop-gw.pem",
		"trust.attestors[0].jwks_file":       "attestor.jwks.json",
		"trust.spiffe[0].x509_bundle":        "ca.pem",
		"serve.tls":                          "expired",
		"admin.listen":                       "clashes with serve.listen",
		"proxy.hop.key":                      "PKCS #8",
		"proxy.tls":                          "does not exist",
		"storage.postgres.evidence_key_file": "chmod 600",
	}
	lines := strings.Split(cfg, "\n")
	for _, p := range rep.Problems {
		msg, ok := want[p.Field]
		if !ok {
			t.Errorf("unexpected problem: %s", p)
			continue
		}
		delete(want, p.Field)
		if !strings.Contains(p.Msg, msg) {
			t.Errorf("%s: %q does not say %q", p.Field, p.Msg, msg)
		}
		if p.File != w.ConfigFile() || p.Line < 1 || p.Line > len(lines) {
			t.Errorf("%s: at %s:%d", p.Field, p.File, p.Line)
			continue
		}
		last := p.Field[strings.LastIndex(p.Field, ".")+1:]
		if i := strings.IndexByte(last, '['); i > 0 {
			last = last[:i]
		}
		if !strings.Contains(lines[p.Line-1], last) {
			t.Errorf("%s: line %d is %q", p.Field, p.Line, lines[p.Line-1])
		}
		if !strings.HasPrefix(p.String(), w.ConfigFile()+":") {
			t.Errorf("%q does not start with file:line", p.String())
		}
	}
	for f := range want {
		t.Errorf("no problem reported for %s", f)
	}
}

// A bindings file that does not load is a problem; one that loads with
// lint findings gives warnings, not problems.
func TestBindings(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: "version: 1\nbindings:\n  - name: x\n    match: {subject: \"*\"}\n"})
	rep := configcheck.Check(t.Context(), w.ConfigFile())
	if len(rep.Problems) != 0 || len(rep.Warnings) == 0 {
		t.Fatalf("problems %v, warnings %v", rep.Problems, rep.Warnings)
	}
	w.Write("bindings.yaml", "version: 1\nbindings:\n  - name: x\n    match: {subjekt: a}\n")
	rep = configcheck.Check(t.Context(), w.ConfigFile())
	if len(rep.Problems) != 1 || rep.Problems[0].Field != "bindings" || !strings.Contains(rep.Problems[0].Msg, "subjekt") {
		t.Fatalf("problems %v", rep.Problems)
	}
	os.Remove(filepath.Join(w.Dir, "bindings.yaml"))
	rep = configcheck.Check(t.Context(), w.ConfigFile())
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Msg, "does not exist") {
		t.Fatalf("problems %v", rep.Problems)
	}
}

// A configuration that does not load at all is one problem, with the
// loader's file:line.
func TestAConfigurationThatDoesNotLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "provost.yaml")
	os.WriteFile(p, []byte("version: 1\nissuers:\n  - issuer: x\n    audiences: []\n"), 0o600)
	rep := configcheck.Check(t.Context(), p)
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].String(), ":4: issuers[0].audiences") {
		t.Fatalf("%v", rep.Problems)
	}
	rep = configcheck.Check(t.Context(), filepath.Join(t.TempDir(), "none.yaml"))
	if len(rep.Problems) != 1 {
		t.Fatalf("%v", rep.Problems)
	}
}
