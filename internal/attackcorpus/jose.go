package attackcorpus

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/big"
	"strings"
)

// The keys of the corpus come from fixed seeds, so the corpus is the same
// on every run. They are published: test keys only.

// ecKey derives a P-256 key from label.
func ecKey(label string) *ecdsa.PrivateKey {
	for i := 0; ; i++ {
		d := sha256.Sum256([]byte(fmt.Sprintf("provost attack corpus: %s: %d", label, i)))
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]); err == nil {
			return k
		}
	}
}

// edKey derives an Ed25519 key from label.
func edKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("provost attack corpus: " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// detSigner signs with deterministic ECDSA (RFC 6979) whatever random
// source it is given, so certificates come out the same on every run.
type detSigner struct{ *ecdsa.PrivateKey }

func (s detSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.PrivateKey.Sign(nil, digest, opts)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// raw is JSON text put into an object as it is.
type raw string

// member is one member of a JSON object built in order.
type member struct {
	name  string
	value any // raw, or anything encoding/json marshals
}

// object writes the members in order as one JSON object, without the
// HTML escaping of encoding/json (so "+" and "<" stay as they are).
func object(ms ...member) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonValue(m.name))
		b.WriteByte(':')
		b.WriteString(jsonValue(m.value))
	}
	b.WriteByte('}')
	return b.String()
}

func jsonValue(v any) string {
	if r, ok := v.(raw); ok {
		return string(r)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only values of this package are encoded
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// with returns ms with each of set replacing the member of its name in
// place, or appended when there is none; a member whose value is drop is
// removed.
func with(ms []member, set ...member) []member {
	out := append([]member(nil), ms...)
	for _, s := range set {
		i := -1
		for j, m := range out {
			if m.name == s.name {
				i = j
			}
		}
		switch {
		case s.value == drop && i >= 0:
			out = append(out[:i], out[i+1:]...)
		case s.value == drop:
		case i >= 0:
			out[i] = s
		default:
			out = append(out, s)
		}
	}
	return out
}

// drop as a member value in with removes the member.
var drop = raw("<drop>")

// signer signs a JWS signing input.
type signer func(input string) []byte

// es256 signs with deterministic ECDSA P-256 and returns raw r||s.
func es256(k *ecdsa.PrivateKey) signer {
	return func(input string) []byte {
		sum := sha256.Sum256([]byte(input))
		der, err := k.Sign(nil, sum[:], crypto.SHA256)
		if err != nil {
			panic(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out
	}
}

// es256DER signs like es256 but returns the ASN.1 DER signature.
func es256DER(k *ecdsa.PrivateKey) signer {
	return func(input string) []byte {
		sum := sha256.Sum256([]byte(input))
		der, err := k.Sign(nil, sum[:], crypto.SHA256)
		if err != nil {
			panic(err)
		}
		return der
	}
}

func eddsa(k ed25519.PrivateKey) signer {
	return func(input string) []byte { return ed25519.Sign(k, []byte(input)) }
}

// hs signs with HMAC (HS256, HS384 or HS512) under key.
func hs(alg string, key []byte) signer {
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	return func(input string) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

// fixed "signs" with sig whatever the input.
func fixed(sig []byte) signer { return func(string) []byte { return sig } }

// compact serialises a JWS: header and payload are the exact JSON bytes.
func compact(header, payload string, sign signer) string {
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	return input + "." + b64(sign(input))
}

// segments splits a compact JWS into its three segments.
func segments(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// p256N is the order of P-256.
var p256N = elliptic.P256().Params().N

// withSignature replaces tok's signature by r||s, each 32 bytes.
func withSignature(tok string, r, s *big.Int) string {
	h, p, _ := segments(tok)
	sig := make([]byte, 64)
	fill(sig[:32], r)
	fill(sig[32:], s)
	return h + "." + p + "." + b64(sig)
}

// fill writes v big-endian into b, or all 0xff when v does not fit.
func fill(b []byte, v *big.Int) {
	if v.BitLen() > 8*len(b) {
		for i := range b {
			b[i] = 0xff
		}
		return
	}
	v.FillBytes(b)
}

// signatureOf returns the r and s of an ES256 compact JWS.
func signatureOf(tok string) (r, s *big.Int) {
	_, _, sig := segments(tok)
	b, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(b) != 64 {
		panic("not an ES256 JWS")
	}
	return new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:])
}

// malleate returns tok's ECDSA twin: the signature (r, n-s), which
// verifies exactly as (r, s) does.
func malleate(tok string) string {
	r, s := signatureOf(tok)
	return withSignature(tok, r, new(big.Int).Sub(p256N, s))
}

// ecPoint returns the x and y coordinates of k's public key.
func ecPoint(k *ecdsa.PrivateKey) (x, y []byte) {
	u, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	return u[1:33], u[33:]
}

// ecJWK is k's public JWK, members in RFC 7638 order, plus extra.
func ecJWK(k *ecdsa.PrivateKey, extra ...member) string {
	x, y := ecPoint(k)
	return object(append([]member{{"crv", "P-256"}, {"kty", "EC"}, {"x", b64(x)}, {"y", b64(y)}}, extra...)...)
}

// edJWK is k's public JWK plus extra.
func edJWK(k ed25519.PrivateKey, extra ...member) string {
	return object(append([]member{{"crv", "Ed25519"}, {"kty", "OKP"}, {"x", b64(k.Public().(ed25519.PublicKey))}}, extra...)...)
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of k's public key.
func thumbprint(k *ecdsa.PrivateKey) string {
	sum := sha256.Sum256([]byte(ecJWK(k)))
	return b64(sum[:])
}
