package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// The leak scan finds what it must (a token's signature, a private key as
// PEM lines, in JSON or raw, a secret in hex) and nothing public (a
// token's header and payload, the public key, the PKCS #8 framing every
// key shares, a secret's own file).
func TestLeakScanSelf(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := "eyJhbGciOiJFUzI1NiIsImtpZCI6InN0cy0xIn0.eyJzdWIiOiJzdmM6cmVwb3J0cyJ9." + randomName(t, 86)
	secret := []byte(randomName(t, 32))
	pemOf := func(k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	pubPEM := func(k *ecdsa.PrivateKey) string {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	jsonOf := func(s string) string { b, _ := json.Marshal(map[string]string{"key": s}); return string(b) }

	s := &leakScan{}
	s.addSecret("token", "", jwtPieces(tok))
	s.addSecret("ec key", "", privateKeyPieces(t, ec))
	s.addSecret("ed key", "", privateKeyPieces(t, ed))
	s.addSecret("secret", "/data/server.secret", rawPieces(secret))
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	planted := map[string]string{
		"signature":        "x " + sig[30:60] + " y",
		"ec PEM":           "log: " + pemOf(ec),
		"ec PEM in JSON":   jsonOf(pemOf(ec)),
		"ed PEM":           pemOf(ed),
		"secret in hex":    "secret=" + hex.EncodeToString(secret),
		"secret raw bytes": "\x00\x01" + string(secret) + "\xff",
	}
	clean := map[string]string{
		"header and payload": tok[:strings.LastIndexByte(tok, '.')+3],
		"public key":         pubPEM(ec),
		"another key":        pemOf(otherEC),
	}
	for name, v := range planted {
		s.addSource("planted: "+name, []byte(v))
	}
	for name, v := range clean {
		s.addSource("clean: "+name, []byte(v))
	}
	s.mu.Lock()
	s.sources = append(s.sources, leakSource{name: "clean: the secret's own file", file: "/data/server.secret", data: secret})
	s.mu.Unlock()
	found := map[string]bool{}
	for _, h := range s.run() {
		found[h.source] = true
		if strings.HasPrefix(h.source, "clean: ") {
			t.Errorf("false positive: %s in %s: %q", h.secret, h.source, h.context)
		}
		if strings.Contains(h.context, sig[30:50]) {
			t.Errorf("the report repeats the secret: %q", h.context)
		}
	}
	for name := range planted {
		if !found["planted: "+name] {
			t.Errorf("not found: %s", name)
		}
	}

	// A piece that public material holds is dropped.
	s.addPublic([]byte(sig[:pieceLen+5]))
	s.index()
	if s.dropped == 0 {
		t.Error("no piece dropped as public")
	}
}
