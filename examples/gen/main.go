//go:build ignore

// Command gen writes the example request files under examples/requests from
// the example-only keys in examples/keys (made on first run). Run it from the
// repository root: go run examples/gen/main.go
//
// The keys are examples: never use them for anything real.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/hop"
)

const (
	dir      = "examples"
	iss      = "https://issuer.example.com"
	aud      = "https://api.example.com"
	origin   = "https://api.example.com"
	observed = "2026-06-01T12:00:00Z"
)

var at, _ = time.Parse(time.RFC3339, observed)

func main() {
	es := loadKey("issuer-es256.pem", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	ed := loadKey("issuer-ed25519.pem", func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k })
	client := loadKey("dpop-client.pem", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	other := loadKey("dpop-other.pem", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	certKey := loadKey("client-cert.pem", func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k })
	cert := selfSigned(certKey, "billing-sync")
	otherCert := selfSigned(other, "someone-else")

	writeJWKS(map[string]crypto.Signer{"es-2026": es, "ed-2026": ed})

	base := map[string]any{"iss": iss, "aud": aud, "iat": at.Add(-5 * time.Minute).Unix(), "exp": at.Add(55 * time.Minute).Unix(), "example": "credential"}
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range base {
			c[k] = v
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	jkt := thumbprint(client)
	certSum := sha256.Sum256(cert.Raw)
	x5t := base64.RawURLEncoding.EncodeToString(certSum[:])

	bearer := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "ci-runner-42", "client_id": "ci", "jti": "t-001"}), false)
	agent := sign(ed, jose.EdDSA, "ed-2026", "at+jwt", claims(map[string]any{"sub": "support-agent", "azp": "agent-runtime",
		"act": map[string]any{"sub": "tool-broker", "act": map[string]any{"sub": "orchestrator"}}}), false)
	dpopBound := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "agent-7", "cnf": map[string]any{"jkt": jkt}}), false)
	mtlsBound := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "billing-sync", "cnf": map[string]any{"x5t#S256": x5t}}), false)
	expired := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "old-integration", "iat": at.Add(-48 * time.Hour).Unix(), "exp": at.Add(-24 * time.Hour).Unix()}), false)
	foreign := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "x", "iss": "https://evil.example.net"}), false)
	wrongAud := sign(es, jose.ES256, "es-2026", "at+jwt", claims(map[string]any{"sub": "x", "aud": "https://other-api.example.com"}), false)
	headerKey := sign(es, jose.ES256, "", "at+jwt", claims(map[string]any{"sub": "x"}), true)
	none := b64json(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + b64json(claims(map[string]any{"sub": "ci-runner-42"})) + "."

	proof := dpopProof(client, "POST", origin+"/v1/tools/search", dpopBound)
	otherProof := dpopProof(other, "POST", origin+"/v1/tools/search", dpopBound)

	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCert.Raw}))

	write("01-bearer-es256.json", req("GET", "/v1/builds/42", "Bearer "+bearer, "", ""))
	write("02-agent-eddsa-act-chain.json", req("GET", "/v1/tickets?status=open", "Bearer "+agent, "", ""))
	write("03-dpop-bound.json", req("POST", "/v1/tools/search", "DPoP "+dpopBound, proof, ""))
	write("04-dpop-replayed.json", req("POST", "/v1/tools/search", "DPoP "+dpopBound, proof, ""))
	write("05-dpop-bound-as-bearer.json", req("POST", "/v1/tools/search", "Bearer "+dpopBound, "", ""))
	write("06-dpop-proof-from-other-key.json", req("POST", "/v1/tools/search", "DPoP "+dpopBound, otherProof, ""))
	write("07-mtls-bound.json", req("GET", "/v1/invoices", "Bearer "+mtlsBound, "", certPEM))
	write("08-mtls-bound-other-cert.json", req("GET", "/v1/invoices", "Bearer "+mtlsBound, "", otherPEM))
	write("09-expired.json", req("GET", "/v1/builds/42", "Bearer "+expired, "", ""))
	write("10-alg-none.json", req("GET", "/v1/builds/42", "Bearer "+none, "", ""))
	write("11-unknown-issuer.json", req("GET", "/v1/builds/42", "Bearer "+foreign, "", ""))
	write("12-key-in-header.json", req("GET", "/v1/builds/42", "Bearer "+headerKey, "", ""))
	write("13-wrong-audience.json", req("GET", "/v1/builds/42", "Bearer "+wrongAud, "", ""))
	write("14-unknown-api-key.json", req("GET", "/v1/builds/42", "Bearer sk_live_example_not_configured", "", ""))

	provenance(es, client)
}

// provenance writes the requests 20-31: the acceptance scenarios of
// DESIGN.md, judged offline in order by one engine, and a posture
// attestation carried over to another credential.
func provenance(es crypto.Signer, client crypto.Signer) {
	caKey := loadKey("spiffe-ca.pem", genEC)
	ca := caCert(caKey)
	must(os.MkdirAll(filepath.Join(dir, "trust"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "trust", "spiffe-ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644))
	edge := loadKey("hop-edge.pem", genEd)
	gw := loadKey("hop-gw.pem", genEd)
	writePub("hop-edge.pub", edge.Public())
	writePub("hop-gw.pub", gw.Public())
	att := loadKey("attestor.pem", genEC)
	b, _ := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: att.Public(), KeyID: "hostguard-1", Algorithm: "ES256", Use: "sig"}}}, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "trust", "attestor.jwks.json"), append(b, '\n'), 0o644))

	tok := func(sub string, extra map[string]any) string {
		c := map[string]any{"iss": iss, "aud": aud, "sub": sub, "iat": at.Add(-5 * time.Minute).Unix(), "exp": at.Add(2 * time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return sign(es, jose.ES256, "es-2026", "at+jwt", c, false)
	}
	// posture is hostguard's attestation of host, bound to this Provost (its
	// external origin) and to token, the credential it is sent with
	// (docs/posture-attestation.md).
	posture := func(host, runner, token string, when time.Time) string {
		return sign(att, jose.ES256, "hostguard-1", "posture+jwt", map[string]any{"iss": "https://hostguard.example.com", "sub": host,
			"aud": origin, "iat": when.Add(-30 * time.Second).Unix(), "cred": hop.CredentialDigest(token),
			"host_id": host, "runner_type": runner, "os": "linux"}, false)
	}
	type r = map[string]any
	with := func(m r, kv r) r {
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	t := func(min int) time.Time { return at.Add(time.Duration(min) * time.Minute) }

	ci := tok("repo:acme/deploy:ref:refs/heads/main", r{"repository": "acme/deploy", "workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main", "runner_environment": "self-hosted"})
	write("20-ci-approved-build-host.json", with(reqAt(t(0), "POST", "/v1/deploy", "Bearer "+ci), r{"peer": "10.20.3.4", "posture": posture("build-7", "self-hosted", ci, t(0))}))
	write("21-ci-unapproved-build-host.json", with(reqAt(t(2), "POST", "/v1/deploy", "Bearer "+ci), r{"peer": "198.51.100.23", "posture": posture("laptop-x", "self-hosted", ci, t(2))}))
	write("22-ci-after-revocation.json", with(reqAt(t(3), "POST", "/v1/deploy", "Bearer "+ci), r{"peer": "10.20.3.4", "posture": posture("build-7", "self-hosted", ci, t(3))}))

	agent := tok("support-bot", nil)
	svid := svidChain(ca, caKey, "spiffe://acme.example/agents/support-bot")
	write("23-agent-from-runtime.json", with(reqAt(t(10), "GET", "/v1/tools/search", "Bearer "+agent), r{"peer": "10.30.1.5", "client_cert": svid}))
	write("24-agent-token-copied.json", with(reqAt(t(11), "GET", "/v1/tools/search", "Bearer "+agent), r{"peer": "203.0.113.50"}))

	helpdesk := tok("integration:helpdesk", nil)
	hops := signHops(helpdesk, "GET", "/v1/tickets", t(20), []string{"edge", "gw"}, map[string]crypto.Signer{"edge": edge, "gw": gw})
	write("25-helpdesk-through-proxies.json", with(reqAt(t(20), "GET", "/v1/tickets", "Bearer "+helpdesk), r{"peer": "10.0.0.2", "x_forwarded_for": []string{"10.60.0.8, 10.0.0.1"}, "hops": []string{hops}}))
	write("26-helpdesk-bypassing-proxies.json", with(reqAt(t(40), "GET", "/v1/tickets", "Bearer "+helpdesk), r{"peer": "10.60.0.8"}))

	exportKey := loadKey("dpop-export.pem", genEC)
	export := tok("svc:customer-export", r{"cnf": r{"jkt": thumbprint(exportKey)}})
	exporter := svidChain(ca, caKey, "spiffe://acme.example/exporter")
	write("27-export-possession-only.json", with(reqAt(t(30), "GET", "/v1/customers/export", "DPoP "+export), r{"peer": "10.40.0.9",
		"dpop": dpopProofAt(exportKey, "GET", origin+"/v1/customers/export", export, "export-1", t(30))}))
	write("28-export-with-origin-evidence.json", with(reqAt(t(31), "GET", "/v1/customers/export", "DPoP "+export), r{"peer": "10.40.0.9",
		"dpop": dpopProofAt(exportKey, "GET", origin+"/v1/customers/export", export, "export-2", t(31)), "client_cert": exporter, "posture": posture("db-export-1", "hardened", export, t(31))}))

	write("29-shadow-automation.json", with(reqAt(t(50), "GET", "/v1/things", "Bearer "+tok("svc:nightly-cron", nil)), r{"peer": "10.40.1.1"}))
	write("30-honeytoken.json", with(reqAt(t(55), "GET", "/admin/users", "Bearer "+tok("svc:legacy-admin", nil)), r{"peer": "203.0.113.9"}))

	// A fresh build-host attestation made for one token of the deploy
	// pipeline, presented with another token of it from the approved host.
	fresh := r{"iat": t(59).Unix(), "exp": t(120).Unix()}
	run2 := tok("repo:acme/deploy:ref:refs/heads/main", with(r{"repository": "acme/deploy", "workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main", "runner_environment": "self-hosted", "jti": "run-2"}, fresh))
	run3 := tok("repo:acme/deploy:ref:refs/heads/main", with(r{"repository": "acme/deploy", "workflow_ref": "acme/deploy/.github/workflows/release.yml@refs/heads/main", "runner_environment": "self-hosted", "jti": "run-3"}, fresh))
	write("31-ci-posture-of-another-token.json", with(reqAt(t(60), "POST", "/v1/deploy", "Bearer "+run3), r{"peer": "10.20.3.4", "posture": posture("build-7", "self-hosted", run2, t(60))}))
}

func reqAt(when time.Time, method, target, authz string) map[string]any {
	return map[string]any{"at": when.Format(time.RFC3339), "method": method, "target": target, "authorization": authz}
}

func genEC() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
func genEd() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }

func writePub(name string, pub crypto.PublicKey) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(err)
	must(os.WriteFile(filepath.Join(dir, "trust", name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
}

func caCert(k crypto.Signer) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme.example example CA"},
		NotBefore: at.Add(-24 * time.Hour), NotAfter: at.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:     []*url.URL{{Scheme: "spiffe", Host: "acme.example"}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	must(err)
	c, err := x509.ParseCertificate(der)
	must(err)
	return c
}

// svidChain issues an X.509-SVID for id and returns it as PEM.
func svidChain(ca *x509.Certificate, caKey crypto.Signer, id string) string {
	k := genEC()
	u, _ := url.Parse(id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(at.UnixNano() + int64(len(id))), NotBefore: at.Add(-time.Hour), NotAfter: at.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
	must(err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// signHops signs a Provost-Hop header value as each named proxy in turn,
// the same way `provost hop sign` does (see docs/hop-attestation.md).
func signHops(token, method, target string, when time.Time, names []string, keys map[string]crypto.Signer) string {
	sum := sha256.Sum256([]byte(token))
	cred := base64.RawURLEncoding.EncodeToString(sum[:])
	reqSum := sha256.Sum256([]byte(method + "\n" + target + "\n" + cred))
	value, prevSig := "", []byte(nil)
	for _, n := range names {
		p := map[string]any{"v": 1, "hop": n, "iat": when.Add(-time.Second).Unix(), "req": base64.RawURLEncoding.EncodeToString(reqSum[:])}
		if prevSig != nil {
			ps := sha256.Sum256(prevSig)
			p["prev"] = base64.RawURLEncoding.EncodeToString(ps[:])
		}
		att := sign(keys[n], jose.EdDSA, n, "provost-hop+jwt", p, false)
		seg := att[strings.LastIndexByte(att, '.')+1:]
		prevSig, _ = base64.RawURLEncoding.DecodeString(seg)
		if value != "" {
			value += ","
		}
		value += att
	}
	return value
}

func dpopProofAt(k crypto.Signer, method, htu, token, jti string, when time.Time) string {
	sum := sha256.Sum256([]byte(token))
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}}}).WithType("dpop+jwt"))
	must(err)
	payload, _ := json.Marshal(map[string]any{"jti": jti, "htm": method, "htu": htu, "iat": when.Add(-2 * time.Second).Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])})
	obj, err := s.Sign(payload)
	must(err)
	out, err := obj.CompactSerialize()
	must(err)
	return out
}

func req(method, target, authz, proof, cert string) map[string]any {
	r := map[string]any{"at": observed, "method": method, "target": target, "authorization": authz}
	if proof != "" {
		r["dpop"] = proof
	}
	if cert != "" {
		r["client_cert"] = cert
	}
	return r
}

func write(name string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "requests", name), append(b, '\n'), 0o644))
}

func sign(k crypto.Signer, alg jose.SignatureAlgorithm, kid, typ string, claims map[string]any, embed bool) string {
	opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts)
	must(err)
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	must(err)
	out, err := obj.CompactSerialize()
	must(err)
	return out
}

func dpopProof(k crypto.Signer, method, htu, token string) string {
	sum := sha256.Sum256([]byte(token))
	jwk := jose.JSONWebKey{Key: k.Public()}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jwk}}).WithType("dpop+jwt"))
	must(err)
	payload, _ := json.Marshal(map[string]any{"jti": "proof-" + htu[len(htu)-6:] + fmt.Sprint(at.Unix()%1000),
		"htm": method, "htu": htu, "iat": at.Add(-2 * time.Second).Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:])})
	obj, err := s.Sign(payload)
	must(err)
	out, err := obj.CompactSerialize()
	must(err)
	return out
}

func thumbprint(k crypto.Signer) string {
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	must(err)
	return base64.RawURLEncoding.EncodeToString(tp)
}

func writeJWKS(keys map[string]crypto.Signer) {
	var set jose.JSONWebKeySet
	for _, kid := range []string{"es-2026", "ed-2026"} {
		alg := "ES256"
		if _, ok := keys[kid].(ed25519.PrivateKey); ok {
			alg = "EdDSA"
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: keys[kid].Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
	}
	b, _ := json.MarshalIndent(set, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "issuer.jwks.json"), append(b, '\n'), 0o644))
}

func selfSigned(k crypto.Signer, cn string) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: at.Add(-24 * time.Hour), NotAfter: at.Add(365 * 24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	must(err)
	c, err := x509.ParseCertificate(der)
	must(err)
	return c
}

func loadKey(name string, gen func() crypto.Signer) crypto.Signer {
	path := filepath.Join(dir, "keys", name)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := gen()
		der, err := x509.MarshalPKCS8PrivateKey(k)
		must(err)
		must(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
		return k
	}
	must(err)
	b, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	must(err)
	return k.(crypto.Signer)
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
