package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

// claims are the proof claims this package reads (RFC 9449 section 4.2).
// Other claims are allowed and ignored.
type claims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"` // checked by numericDate: a JSON number, not a string
	ATH   string          `json:"ath"`
	Nonce string          `json:"nonce"`
}

func decodeClaims(payload []byte) (*claims, error) {
	var c claims
	if err := jws.DecodeObject(payload, &c); err != nil {
		return nil, reason.Wrap(reason.DPoPMalformed, "proof claims are not a strict JSON object", err)
	}
	return &c, nil
}

// maxNumericDate keeps time arithmetic far from overflow (year 5138).
const maxNumericDate = 1e11

// numericDate reads a JSON number (RFC 7519 NumericDate, fractions allowed).
func numericDate(raw []byte) (time.Time, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// ATH returns the ath value of an access token: base64url (no padding) of
// the SHA-256 of its ASCII bytes (RFC 9449 section 4.2).
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func checkATH(ath, accessToken string) error {
	if ath == "" {
		return reason.New(reason.DPoPATHMissing, "proof has no ath for the presented access token")
	}
	want := ATH(accessToken)
	if subtle.ConstantTimeCompare([]byte(ath), []byte(want)) != 1 {
		return reason.New(reason.DPoPATHMismatch, "proof ath does not match the presented access token")
	}
	return nil
}
