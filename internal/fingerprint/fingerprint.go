package fingerprint

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
)

// Prefix starts every fingerprint; the digit is the scheme version.
const Prefix = "fp1:"

// encodedLen is the length of a fingerprint: the prefix and 43 base64url
// characters, the unpadded encoding of 32 bytes.
const encodedLen = len(Prefix) + (sha256.Size*8+5)/6

// maxPooledBuf bounds the scratch buffer a pooled state keeps between calls,
// so one huge credential does not pin memory.
const maxPooledBuf = 16 << 10

// Fingerprinter computes fingerprints with one server secret. It is safe for
// concurrent use.
type Fingerprinter struct {
	pool sync.Pool // of *state
}

// state is the per-call scratch space: a keyed HMAC that is Reset between
// uses, and a buffer the credential is copied into (a []byte(string)
// conversion passed to an interface method would allocate on every call).
type state struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// New returns a Fingerprinter keyed with secret, which must be at least 32
// bytes. The secret is copied.
func New(secret []byte) (*Fingerprinter, error) {
	if len(secret) < SecretSize {
		return nil, fmt.Errorf("fingerprint: secret is %d bytes, need at least %d", len(secret), SecretSize)
	}
	key := append([]byte(nil), secret...)
	f := &Fingerprinter{}
	f.pool.New = func() any {
		return &state{mac: hmac.New(sha256.New, key)}
	}
	return f, nil
}

// Of returns the fingerprint of a raw credential: "fp1:" followed by
// base64url-no-pad(HMAC-SHA256(secret, raw)). The result is safe to log and
// store; raw is not retained.
func (f *Fingerprinter) Of(raw string) string {
	s := f.pool.Get().(*state)
	s.buf = append(s.buf[:0], raw...)
	s.mac.Reset()
	s.mac.Write(s.buf)
	sum := s.mac.Sum(s.sum[:0])
	clear(s.buf) // do not keep a copy of the credential in pooled memory
	if cap(s.buf) > maxPooledBuf {
		s.buf = nil
	}
	var out [64]byte
	n := copy(out[:], Prefix)
	base64.RawURLEncoding.Encode(out[n:], sum)
	fp := string(out[:encodedLen])
	f.pool.Put(s)
	return fp
}

// Valid reports whether s has the form of a fingerprint: the "fp1:" prefix
// and the base64url encoding of 32 bytes. It tells a fingerprint from a raw
// credential pasted by mistake; it cannot tell whether s came from this
// server's secret.
func Valid(s string) bool {
	if len(s) != encodedLen || s[:len(Prefix)] != Prefix {
		return false
	}
	var sum [sha256.Size + 2]byte
	n, err := base64.RawURLEncoding.Strict().Decode(sum[:], []byte(s[len(Prefix):]))
	return err == nil && n == sha256.Size
}

// Equal reports whether two fingerprints are equal, in time that depends only
// on their lengths.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
