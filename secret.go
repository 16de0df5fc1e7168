package provost

import (
	"crypto/hmac"
	"crypto/sha256"
)

// deriveKey derives a purpose-specific key from the server secret, so one
// secret never serves two purposes directly.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("provost key derivation\x00" + purpose))
	return m.Sum(nil)
}
