package jws

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/provost-dev/provost/reason"
)

// DefaultMaxBytes is the size limit Parse applies when given maxBytes <= 0.
const DefaultMaxBytes = 16 << 10

// Header is the decoded protected header. Raw is the decoded JSON.
type Header struct {
	Alg, Kid, Typ, Cty string
	Crit               []string
	HasCrit, HasB64    bool
	// Key material carried in the header: never trusted for access tokens;
	// DPoP needs JWK.
	JWK                            json.RawMessage // nil when absent
	HasJKU, HasX5U, HasX5C, HasX5T bool
	Raw                            []byte
}

// KeyMaterial names the first key-carrying member present, in the order
// "jwk", "jku", "x5u", "x5c", or returns "" when there is none. (x5t and
// x5t#S256 only name a certificate, so they are not key material.)
func (h *Header) KeyMaterial() string {
	switch {
	case h.JWK != nil:
		return "jwk"
	case h.HasJKU:
		return "jku"
	case h.HasX5U:
		return "x5u"
	case h.HasX5C:
		return "x5c"
	}
	return ""
}

// Token is a parsed compact JWS whose signature is not yet verified.
type Token struct {
	Header       Header
	Payload      []byte // decoded payload bytes
	SigningInput string // "<b64 header>.<b64 payload>"
	Signature    []byte
	Compact      string // the input, for go-jose re-parse; never log it
}

var b64 = base64.RawURLEncoding.Strict()

// Parse splits and decodes a compact JWS strictly. maxBytes <= 0 means
// DefaultMaxBytes. It checks the header (strict JSON, alg present and not
// "none", no crit, no b64) but neither the signature nor the payload, which
// may be any bytes: decode claims with DecodeObject.
//
// Every error is a *reason.Error.
func Parse(token string, maxBytes int) (*Token, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	switch {
	case len(token) == 0:
		return nil, reason.New(reason.TokenMissing, "no token")
	case len(token) > maxBytes:
		return nil, reason.New(reason.TokenTooLarge, "token larger than the size limit")
	case token[0] == '{':
		return nil, reason.New(reason.JWSJSONSerialization, "JWS JSON serialization is not accepted")
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, reason.New(reason.JWSSegmentCount, "JWS must have three segments")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return nil, reason.New(reason.JWSSegmentCount, "JWS must have three segments")
	}
	for _, seg := range [3]string{h, p, s} {
		if !isBase64URL(seg) {
			return nil, reason.New(reason.JWSBase64, "JWS segment is not base64url without padding")
		}
	}

	// One buffer holds the three decoded segments.
	hl, pl, sl := b64.DecodedLen(len(h)), b64.DecodedLen(len(p)), b64.DecodedLen(len(s))
	buf := make([]byte, hl+pl+sl)
	hdr, err := decodeSeg(buf[:hl:hl], h)
	if err != nil {
		return nil, err
	}
	payload, err := decodeSeg(buf[hl:hl+pl:hl+pl], p)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSeg(buf[hl+pl:], s)
	if err != nil {
		return nil, err
	}

	tok := &Token{
		Payload:      payload,
		SigningInput: token[:len(h)+1+len(p)],
		Signature:    sig,
		Compact:      token,
	}
	if err := parseHeader(&tok.Header, hdr); err != nil {
		return nil, err
	}
	if len(sig) == 0 {
		return nil, reason.New(reason.JWSBadSignature, "JWS signature is empty")
	}
	return tok, nil
}

// isBase64URL reports whether seg holds only base64url alphabet characters.
// (The decoder alone would skip '\r' and '\n'.)
func isBase64URL(seg string) bool {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func decodeSeg(dst []byte, seg string) ([]byte, error) {
	n, err := b64.Decode(dst, []byte(seg))
	if err != nil {
		return nil, reason.Wrap(reason.JWSBase64, "JWS segment is not base64url without padding", err)
	}
	return dst[:n], nil
}
