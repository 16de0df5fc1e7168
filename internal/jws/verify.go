package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"math/big"
	"slices"

	_ "crypto/sha256" // hashes for PS256
	_ "crypto/sha512" // hashes for PS384, PS512

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/reason"
)

// RSA modulus sizes Verify accepts, in bits.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// Curve orders N, big-endian, padded to the size of a coordinate.
const (
	p256N = "\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xbc\xe6\xfa\xad\xa7\x17\x9e\x84\xf3\xb9\xca\xc2\xfc\x63\x25\x51"
	p384N = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xc7\x63\x4d\x81\xf4\x37\x2d\xdf\x58\x1a\x0d\xb2\x48\xb0\xa7\x7a\xec\xec\x19\x6a\xcc\xc5\x29\x73"
	p521N = "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfa\x51\x86\x87\x83\xbf\x2f\x96\x6b\x7f\xcc\x01\x48\xf7\x09\xa5\xd0\x3b\xb5\xc9\xb8\x89\x9c\x47\xae\xbb\x6f\xb7\x1e\x91\x38\x64\x09"
)

// family is the kind of key an algorithm needs.
type family int

const (
	famUnsupported family = iota
	famSymmetric
	famEC
	famRSA
	famEd25519
)

// algorithm describes a JWS alg value.
type algorithm struct {
	fam   family
	hash  crypto.Hash    // the digest signed (not used by Ed25519)
	curve elliptic.Curve // famEC only
	order string         // famEC only: curve order N, len is the coordinate size
	pss   bool           // PS*: the salt length equals the hash size
}

// The two names of an Ed25519 signature. RFC 9864 deprecates the polymorphic
// "EdDSA" (Ed25519 or Ed448) for the fully-specified "Ed25519". Provost
// verifies no EdDSA curve but Ed25519, so both names mean the same algorithm:
// an allow-list or a JWK alg naming one admits the other, and either name
// needs an Ed25519 key (an Ed448 key is refused under both).
const (
	AlgEdDSA   = "EdDSA"
	AlgEd25519 = "Ed25519"
)

// SameAlg reports whether the JWS alg values a and b name the same
// algorithm: they are equal (case-sensitively, as RFC 7515 requires), or one
// is "EdDSA" and the other "Ed25519".
func SameAlg(a, b string) bool {
	return a == b || (isEd25519Name(a) && isEd25519Name(b))
}

// AlgAllowed reports whether the allow-list allowed admits alg, by SameAlg.
func AlgAllowed(allowed []string, alg string) bool {
	return slices.ContainsFunc(allowed, func(a string) bool { return SameAlg(a, alg) })
}

func isEd25519Name(alg string) bool { return alg == AlgEdDSA || alg == AlgEd25519 }

func lookupAlg(alg string) algorithm {
	switch alg {
	case "ES256":
		return algorithm{fam: famEC, hash: crypto.SHA256, curve: elliptic.P256(), order: p256N}
	case "ES384":
		return algorithm{fam: famEC, hash: crypto.SHA384, curve: elliptic.P384(), order: p384N}
	case "ES512":
		return algorithm{fam: famEC, hash: crypto.SHA512, curve: elliptic.P521(), order: p521N}
	case "RS256":
		return algorithm{fam: famRSA, hash: crypto.SHA256}
	case "RS384":
		return algorithm{fam: famRSA, hash: crypto.SHA384}
	case "RS512":
		return algorithm{fam: famRSA, hash: crypto.SHA512}
	case "PS256":
		return algorithm{fam: famRSA, hash: crypto.SHA256, pss: true}
	case "PS384":
		return algorithm{fam: famRSA, hash: crypto.SHA384, pss: true}
	case "PS512":
		return algorithm{fam: famRSA, hash: crypto.SHA512, pss: true}
	case AlgEdDSA, AlgEd25519:
		return algorithm{fam: famEd25519}
	case "HS256", "HS384", "HS512":
		return algorithm{fam: famSymmetric}
	}
	return algorithm{}
}

// Verify checks tok's signature with key, allowing only algorithms in allowed
// (chosen by the caller from configuration, never from the token). key is a
// public key: *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey, or a
// *jose.JSONWebKey holding one. tok must come from Parse.
//
// Supported: ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512
// and Ed25519 under either of its names, EdDSA and Ed25519 (RFC 9864; see
// SameAlg: allowed and a JWK's alg may use either name). HS256/HS384/HS512
// are always rejected, even when listed in allowed. Every error is a
// *reason.Error.
func Verify(tok *Token, allowed []string, key any) error {
	if tok == nil {
		return reason.New(reason.TokenMissing, "no token")
	}
	if !consistent(tok) {
		return reason.New(reason.InternalError, "token was not produced by jws.Parse")
	}
	alg := tok.Header.Alg
	a := lookupAlg(alg)
	switch {
	case a.fam == famSymmetric:
		return reason.New(reason.JWSSymmetricAlg, "symmetric JWS algorithms are never accepted")
	case !AlgAllowed(allowed, alg):
		return reason.New(reason.JWSAlgNotAllowed, "JWS alg is not allowed")
	case a.fam == famUnsupported:
		return reason.New(reason.JWSAlgNotAllowed, "JWS alg is not supported")
	}
	pub, err := publicKey(alg, key)
	if err != nil {
		return err
	}
	if err := checkKey(a, pub); err != nil {
		return err
	}
	if a.fam == famEC {
		if err := checkECDSASignature(a.order, tok.Signature); err != nil {
			return err
		}
	}
	if !verifySignature(a, pub, tok) {
		return reason.New(reason.JWSBadSignature, "JWS signature does not verify")
	}
	return nil
}

// verifySignature is the signature check proper, over the signing input
// Parse kept. It calls the standard library directly: the token is already
// parsed strictly, and going through go-jose would parse it a second time
// (about 90 allocations per signature) only to make the same calls. PS*
// salt length is fixed to the hash size, as RFC 7518 section 3.5 requires.
func verifySignature(a algorithm, pub any, tok *Token) bool {
	if a.fam == famEd25519 {
		return ed25519.Verify(pub.(ed25519.PublicKey), []byte(tok.SigningInput), tok.Signature)
	}
	var sum [64]byte
	d := a.hash.New()
	d.Write([]byte(tok.SigningInput))
	digest := d.Sum(sum[:0])
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := len(a.order)
		r := new(big.Int).SetBytes(tok.Signature[:size])
		s := new(big.Int).SetBytes(tok.Signature[size:])
		return ecdsa.Verify(k, digest, r, s)
	case *rsa.PublicKey:
		if a.pss {
			return rsa.VerifyPSS(k, a.hash, digest, tok.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, a.hash, digest, tok.Signature) == nil
	}
	return false
}

// consistent reports whether tok's parts still describe tok.Compact.
func consistent(tok *Token) bool {
	n := len(tok.SigningInput)
	return len(tok.Compact) > n && tok.Compact[:n] == tok.SigningInput && tok.Compact[n] == '.'
}

// publicKey unwraps key, applying a JWK's own alg and use.
func publicKey(alg string, key any) (any, error) {
	var jwk *jose.JSONWebKey
	switch k := key.(type) {
	case nil:
		return nil, reason.New(reason.JWSKeyNotFound, "no verification key")
	case *jose.JSONWebKey:
		jwk = k
	case jose.JSONWebKey:
		jwk = &k
	default:
		return key, nil
	}
	if jwk == nil || jwk.Key == nil {
		return nil, reason.New(reason.JWSKeyNotFound, "no verification key")
	}
	if jwk.Algorithm != "" && !SameAlg(jwk.Algorithm, alg) {
		return nil, reason.New(reason.JWSKeyAlgMismatch, "JWK alg differs from the JWS alg")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, reason.New(reason.JWSKeyAlgMismatch, "JWK is not for signatures")
	}
	return jwk.Key, nil
}

// checkKey checks that pub is a public key that fits algorithm a.
func checkKey(a algorithm, pub any) error {
	mismatch := func(msg string) error { return reason.New(reason.JWSKeyAlgMismatch, msg) }
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if a.fam != famEC || k == nil || k.Curve != a.curve {
			return mismatch("EC key does not fit the JWS alg")
		}
	case *rsa.PublicKey:
		if a.fam != famRSA || k == nil || k.N == nil {
			return mismatch("RSA key does not fit the JWS alg")
		}
		if b := k.N.BitLen(); b < minRSABits || b > maxRSABits {
			return mismatch("RSA key size is outside 2048..8192 bits")
		}
	case ed25519.PublicKey:
		if a.fam != famEd25519 || len(k) != ed25519.PublicKeySize {
			return mismatch("Ed25519 key does not fit the JWS alg")
		}
	default:
		return mismatch("key is not a supported public key")
	}
	return nil
}

// checkECDSASignature checks that sig is raw r||s (RFC 7518 section 3.4)
// with 0 < r, s < N. order is N, padded to the coordinate size.
func checkECDSASignature(order string, sig []byte) error {
	size := len(order)
	if len(sig) != 2*size {
		return reason.New(reason.JWSECDSAForm, "ECDSA signature is not raw r||s of the curve size")
	}
	for _, v := range [2][]byte{sig[:size], sig[size:]} {
		if isZero(v) || string(v) >= order {
			return reason.New(reason.JWSECDSARange, "ECDSA signature r or s is out of range")
		}
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
