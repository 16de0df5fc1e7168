package pemkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
)

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestParse(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecDER, _ := x509.MarshalECPrivateKey(p256)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"Ed25519", pkcs8(t, ed), nil},
		{"P-256", pkcs8(t, p256), nil},
		{"P-384", pkcs8(t, p384), ErrKeyType},
		{"RSA", pkcs8(t, rsaKey), ErrKeyType},
		{"SEC 1 EC PRIVATE KEY block", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), ErrNoBlock},
		{"not PEM", []byte("not a key"), ErrNoBlock},
		{"PRIVATE KEY block of garbage", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), ErrNotPKCS8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := Parse(c.data)
			if !errors.Is(err, c.want) || (err == nil) != (k != nil) {
				t.Fatalf("Parse: %v %v, want error %v", k, err, c.want)
			}
		})
	}
}
