package devworld_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/devworld"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/verdict"
)

const bindings = `version: 1
mode: enforce
networks: {datacenter: [10.40.0.0/16]}
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require: {networks: [datacenter]}
  - name: tools
    match: {subject: "agent:tools"}
    require: {possession: dpop}
  - name: exporter
    match: {subject: "svc:export"}
    require: {workloads: ["spiffe://demo.provost.test/exporter"]}
    require_evidence: [posture]
`

// kept builds a world as provosttest does and keeps its keys as `provost
// demo --keep` does (without the JWT-SVID bundle, which internal/demo adds).
func kept(t *testing.T) *provosttest.T {
	t.Helper()
	w := provosttest.New(t, provosttest.Options{Bindings: bindings})
	w.World.Now = time.Now
	k := w.Keys()
	jwt, err1 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dpop, err2 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	m := devworld.Manifest{Issuer: k.IssuerName, IssuerKeyID: provosttest.IssuerKeyID, Audience: k.Audience, Origin: w.Origin,
		TrustDomain: k.TrustDomain, JWTSVIDKeyID: "demo-jwt-1", JWTSVIDAudience: "provost", AttestorIssuer: k.AttestorIss, AttestorKeyID: provosttest.AttestorKeyID}
	if err := devworld.Write(w.Dir, m, devworld.Secrets{Issuer: k.Issuer, Attestor: k.Attestor, CA: k.CAKey, JWTSVID: jwt, DPoP: dpop, Hops: k.Hops}); err != nil {
		t.Fatal(err)
	}
	return w
}

func open(t *testing.T, w *provosttest.T) *devworld.World {
	t.Helper()
	dw, err := devworld.Open(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	return dw
}

func check(t *testing.T, w *provosttest.T, r *provost.Request) *verdict.Decision {
	t.Helper()
	d, err := w.App("").Engine.Check(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// What Write keeps: every key 0600 behind the banner, in a 0700 folder,
// beside the manifest and the README.
func TestWriteKeepsMarkedKeys(t *testing.T) {
	w := kept(t)
	dir := filepath.Join(w.Dir, devworld.KeysDir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v", dir, fi.Mode(), err)
	}
	names := []string{devworld.ManifestFile, devworld.ReadmeFile, devworld.HopKeyFile("edge"), devworld.HopKeyFile("gw")}
	for _, k := range []string{devworld.KeyIssuer, devworld.KeyAttestor, devworld.KeyCA, devworld.KeyJWTSVID, devworld.KeyDPoP} {
		names = append(names, devworld.KeyFile(k))
	}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", n, fi, err)
			continue
		}
		if strings.HasSuffix(n, ".key.pem") {
			if !strings.HasPrefix(n, "DEMO-ONLY-") {
				t.Errorf("%s is not named DEMO-ONLY-", n)
			}
			b, _ := os.ReadFile(filepath.Join(dir, n))
			if !strings.HasPrefix(string(b), "Provost DEMO-ONLY key") {
				t.Errorf("%s has no banner", n)
			}
		}
	}
	readme, _ := os.ReadFile(filepath.Join(dir, devworld.ReadmeFile))
	if !strings.Contains(string(readme), "NEVER USE THESE KEYS") {
		t.Errorf("README: %s", readme)
	}
	if err := devworld.Write(w.Dir, devworld.Manifest{}, devworld.Secrets{}); err == nil {
		t.Fatal("Write replaced a kept world")
	}
}

// The world's own engine accepts what is minted, and holds it to the
// bindings: allowed from the approved network, denied elsewhere, and
// rejected for another audience.
func TestTokenIsAcceptedByTheWorld(t *testing.T) {
	w := kept(t)
	dw := open(t, w)
	tok, err := dw.Token(devworld.TokenOptions{Subject: "svc:reports", TTL: time.Hour, Extra: map[string]any{"team": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(tok, peer string) *provost.Request {
		return &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(peer)}
	}
	if d := check(t, w, req(tok, "10.40.1.1")); d.Outcome != verdict.Allow || d.Credential.Metadata.Subject != "svc:reports" {
		t.Fatalf("from the datacenter: %s %v", d.Outcome, d.Codes())
	}
	other, _ := dw.Token(devworld.TokenOptions{Subject: "svc:reports", TTL: time.Hour})
	if d := check(t, w, req(other, "203.0.113.9")); d.Outcome != verdict.Deny || d.Credential.Verdict != verdict.Accepted {
		t.Fatalf("from elsewhere: %s %v", d.Outcome, d.Codes())
	}
	wrongAud, _ := dw.Token(devworld.TokenOptions{Subject: "svc:reports", TTL: time.Hour, Audience: "https://other.demo.provost.test"})
	if d := check(t, w, req(wrongAud, "10.40.1.1")); d.Credential.Verdict != verdict.Rejected {
		t.Fatalf("another audience: %s", d.Credential.Verdict)
	}
}

func TestTokenOptionsAreBounded(t *testing.T) {
	dw := open(t, kept(t))
	for name, o := range map[string]devworld.TokenOptions{
		"no subject":     {TTL: time.Hour},
		"ttl too long":   {Subject: "s", TTL: 25 * time.Hour},
		"ttl too short":  {Subject: "s", TTL: time.Millisecond},
		"iss in --claim": {Subject: "s", TTL: time.Hour, Extra: map[string]any{"iss": "https://evil.example"}},
		"exp in --claim": {Subject: "s", TTL: time.Hour, Extra: map[string]any{"exp": 1}},
	} {
		if tok, err := dw.Token(o); err == nil {
			t.Errorf("%s: minted %q", name, tok)
		}
	}
}

// A DPoP-bound token with a proof from the kept key is allowed; the same
// proof again is a replay.
func TestDPoP(t *testing.T) {
	w := kept(t)
	dw := open(t, w)
	tok, err := dw.Token(devworld.TokenOptions{Subject: "agent:tools", TTL: time.Hour, DPoP: true})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := dw.DPoP("POST", "/v1/run?x=1", tok)
	if err != nil {
		t.Fatal(err)
	}
	r := &provost.Request{Method: "POST", Target: "/v1/run?x=1", Authorization: "DPoP " + tok, DPoP: proof, Peer: netip.MustParseAddr("10.0.0.1")}
	a := w.App("")
	if d, _ := a.Engine.Check(t.Context(), r); d.Outcome != verdict.Allow {
		t.Fatalf("fresh proof: %s %v", d.Outcome, d.Codes())
	}
	if d, _ := a.Engine.Check(t.Context(), r); d.Outcome != verdict.Deny {
		t.Fatalf("replayed proof: %s %v", d.Outcome, d.Codes())
	}
	for _, bad := range [][2]string{{"get", "/x"}, {"GET", "ftp://h/x"}, {"GET", "x"}} {
		if _, err := dw.DPoP(bad[0], bad[1], tok); err == nil {
			t.Errorf("DPoP(%q, %q) minted", bad[0], bad[1])
		}
	}
}

// An X.509-SVID from the kept CA names its workload, and a posture
// attestation from the kept attestor is evidence the engine believes.
func TestSVIDAndPosture(t *testing.T) {
	w := kept(t)
	dw := open(t, w)
	certPEM, keyPEM, err := dw.X509SVID("spiffe://demo.provost.test/exporter", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("key: %s", keyPEM)
	}
	b, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(w.CA())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the SVID does not chain to the world's CA: %v", err)
	}
	tok, _ := dw.Token(devworld.TokenOptions{Subject: "svc:export", TTL: time.Hour})
	req := &provost.Request{Method: "GET", Target: "/e", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr("10.0.0.1"), ClientCerts: []*x509.Certificate{cert}}
	a := w.App("")
	if d, _ := a.Engine.Check(t.Context(), req); d.Outcome != verdict.StepUp {
		t.Fatalf("without posture: %s %v", d.Outcome, d.Codes())
	}
	if req.Posture, err = dw.Posture(devworld.PostureOptions{Host: "h1", Runner: "hardened", OS: "linux", Token: tok}); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Engine.Check(t.Context(), req); d.Outcome != verdict.Allow {
		t.Fatalf("with posture: %s %v", d.Outcome, d.Codes())
	}
	if _, _, err := dw.X509SVID("spiffe://prod.example/x", time.Hour); err == nil {
		t.Fatal("an SVID outside the demo trust domain was issued")
	}
	// The world's configuration here has no JWT bundle: a JWT-SVID it
	// would not believe is refused rather than minted.
	if _, err := dw.JWTSVID("spiffe://demo.provost.test/exporter", "", time.Hour); !errors.Is(err, devworld.ErrNotDemo) {
		t.Fatalf("JWT-SVID without a bundle: %v", err)
	}
}

// Open refuses whatever `provost demo --keep` did not make, so provost dev
// cannot mint with production keys.
func TestOpenRefusesKeysNotMarkedDemo(t *testing.T) {
	keyFile := func(w *provosttest.T) string {
		return filepath.Join(w.Dir, devworld.KeysDir, devworld.KeyFile(devworld.KeyIssuer))
	}
	editManifest := func(t *testing.T, w *provosttest.T, edit func(m map[string]any)) {
		p := filepath.Join(w.Dir, devworld.KeysDir, devworld.ManifestFile)
		b, _ := os.ReadFile(p)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ = json.Marshal(m)
		os.WriteFile(p, b, 0o600)
	}
	for name, spoil := range map[string]func(t *testing.T, w *provosttest.T){
		"no manifest": func(t *testing.T, w *provosttest.T) {
			os.Remove(filepath.Join(w.Dir, devworld.KeysDir, devworld.ManifestFile))
		},
		"no marker": func(t *testing.T, w *provosttest.T) {
			editManifest(t, w, func(m map[string]any) { m["marker"] = "production keys" })
		},
		"a real issuer": func(t *testing.T, w *provosttest.T) {
			editManifest(t, w, func(m map[string]any) { m["issuer"] = "https://sts.example.com" })
		},
		"a real trust domain": func(t *testing.T, w *provosttest.T) {
			editManifest(t, w, func(m map[string]any) { m["trust_domain"] = "prod.example.com" })
		},
		"key readable by others": func(t *testing.T, w *provosttest.T) { os.Chmod(keyFile(w), 0o644) },
		"key is a symbolic link": func(t *testing.T, w *provosttest.T) {
			elsewhere := filepath.Join(t.TempDir(), "issuer.pem")
			b, _ := os.ReadFile(keyFile(w))
			os.WriteFile(elsewhere, b, 0o600)
			os.Remove(keyFile(w))
			if err := os.Symlink(elsewhere, keyFile(w)); err != nil {
				t.Fatal(err)
			}
		},
		"key without the banner": func(t *testing.T, w *provosttest.T) {
			b, _ := os.ReadFile(keyFile(w))
			os.WriteFile(keyFile(w), b[strings.Index(string(b), "-----BEGIN"):], 0o600)
		},
		"a key the configuration does not trust": func(t *testing.T, w *provosttest.T) {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, _ := x509.MarshalPKCS8PrivateKey(k)
			b, _ := os.ReadFile(keyFile(w))
			banner := string(b[:strings.Index(string(b), "-----BEGIN")])
			os.WriteFile(keyFile(w), append([]byte(banner), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), 0o600)
		},
		"a configuration without the demo issuer": func(t *testing.T, w *provosttest.T) {
			b, _ := os.ReadFile(w.ConfigFile())
			os.WriteFile(w.ConfigFile(), []byte(strings.Replace(string(b), provosttest.Issuer, "https://sts.example.com", 1)), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := kept(t)
			open(t, w) // unspoilt, it opens
			spoil(t, w)
			if _, err := devworld.Open(w.ConfigFile()); !errors.Is(err, devworld.ErrNotDemo) {
				t.Fatalf("opened, or failed for another reason: %v", err)
			}
		})
	}
}

// A configuration with no demo-keys folder beside it (any production
// configuration) is refused outright.
func TestOpenRefusesAConfigurationWithoutDemoKeys(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{})
	_, err := devworld.Open(w.ConfigFile())
	if !errors.Is(err, devworld.ErrNotDemo) || !strings.Contains(err.Error(), "provost demo --keep") {
		t.Fatalf("%v", err)
	}
}
