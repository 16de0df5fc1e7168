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
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
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

	base := map[string]any{"iss": iss, "aud": aud, "iat": at.Add(-5 * time.Minute).Unix(), "exp": at.Add(55 * time.Minute).Unix()}
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
