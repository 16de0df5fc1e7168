package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/provost-dev/provost/reason"
)

// A nonce is base64url(step || HMAC-SHA256(NonceKey, label || step)[:16]),
// where step is the 8-byte big-endian number of NonceLifetime periods since
// the Unix epoch. It needs no server state and every replica with the same
// key accepts it.
const (
	nonceLabel  = "provost/dpop-nonce/v1\x00"
	nonceMACLen = 16
	nonceRawLen = 8 + nonceMACLen
	nonceEncLen = (nonceRawLen*8 + 5) / 6 // base64url without padding
)

// Nonce returns a fresh nonce to send in the DPoP-Nonce response header, or
// "" when nonces are off.
func (v *Verifier) Nonce() string {
	if v.nonceKey == nil {
		return ""
	}
	var raw [nonceRawLen]byte
	step := v.step(v.now())
	binary.BigEndian.PutUint64(raw[:8], uint64(step))
	copy(raw[8:], v.nonceMAC(raw[:8]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (v *Verifier) step(t time.Time) int64 {
	return t.UnixNano() / int64(v.nonceLifetime)
}

func (v *Verifier) nonceMAC(step []byte) []byte {
	m := hmac.New(sha256.New, v.nonceKey)
	m.Write([]byte(nonceLabel))
	m.Write(step)
	return m.Sum(nil)[:nonceMACLen]
}

// checkNonce: a missing or expired nonce is DPoPNonceRequired (the caller
// answers with a fresh Nonce and use_dpop_nonce); a nonce this server did not
// make is DPoPNonceInvalid.
func (v *Verifier) checkNonce(nonce string, now time.Time) error {
	if nonce == "" {
		return reason.New(reason.DPoPNonceRequired, "proof has no nonce")
	}
	var raw [nonceRawLen]byte
	if len(nonce) != nonceEncLen {
		return reason.New(reason.DPoPNonceInvalid, "proof nonce was not made by this server")
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(nonce)); err != nil || n != nonceRawLen {
		return reason.New(reason.DPoPNonceInvalid, "proof nonce was not made by this server")
	}
	if subtle.ConstantTimeCompare(raw[8:], v.nonceMAC(raw[:8])) != 1 {
		return reason.New(reason.DPoPNonceInvalid, "proof nonce was not made by this server")
	}
	step := int64(binary.BigEndian.Uint64(raw[:8]))
	cur := v.step(now)
	if step != cur && step != cur-1 {
		return reason.New(reason.DPoPNonceRequired, "proof nonce expired")
	}
	return nil
}
