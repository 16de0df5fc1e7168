package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/provost-dev/provost/reason"
)

// testKeys are generated once per test binary run; never written after.
type testKeyset struct {
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
	rsa              *rsa.PrivateKey
	rsa1024          *rsa.PrivateKey
}

var keys = sync.OnceValue(func() *testKeyset {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k testKeyset
	var err error
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // deliberately weak, to be rejected
	must(err)
	return &k
})

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// hashFor returns the digest of in for a JWS alg.
func hashFor(alg string, in []byte) (crypto.Hash, []byte) {
	switch alg[2:] {
	case "384":
		h := sha512.Sum384(in)
		return crypto.SHA384, h[:]
	case "512":
		h := sha512.Sum512(in)
		return crypto.SHA512, h[:]
	}
	h := sha256.Sum256(in)
	return crypto.SHA256, h[:]
}

// rawSign signs input with key for alg and returns the JWS signature bytes.
func rawSign(t testing.TB, alg string, key crypto.Signer, input []byte) []byte {
	t.Helper()
	if alg == "EdDSA" || alg == "Ed25519" {
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	}
	h, digest := hashFor(alg, input)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("unsupported key %T", key)
	return nil
}

// signed builds a compact JWS with the given raw header JSON and payload.
func signed(t testing.TB, alg string, key crypto.Signer, header string, payload []byte) string {
	t.Helper()
	in := enc([]byte(header)) + "." + enc(payload)
	return in + "." + enc(rawSign(t, alg, key, []byte(in)))
}

// withSig replaces the signature segment of tok.
func withSig(tok string, sig []byte) string {
	i := len(tok) - 1
	for tok[i] != '.' {
		i--
	}
	return tok[:i+1] + enc(sig)
}

// ecSig builds a raw r||s signature of the given coordinate size.
func ecSig(size int, r, s *big.Int) []byte {
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out
}

func wantCode(t *testing.T, err error, want reason.Code) {
	t.Helper()
	if want == reason.OK {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var re *reason.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *reason.Error, want %s", err, want)
	}
	if re.Code != want {
		t.Fatalf("code %s (%v), want %s", re.Code, err, want)
	}
}
