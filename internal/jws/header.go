package jws

import (
	stdjson "encoding/json"
	"strings"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/reason"
)

// parseHeader decodes the protected header raw into h and applies the
// header rules every Provost token follows.
func parseHeader(h *Header, raw []byte) error {
	h.Raw = raw
	if err := validateObject(raw, h); err != nil {
		return err
	}
	alg := strings.TrimSpace(h.Alg)
	switch {
	case alg == "" || strings.EqualFold(alg, "none"):
		return reason.New(reason.JWSAlgNone, `JWS alg is missing or "none"`)
	case h.HasCrit:
		return reason.New(reason.JWSCritUnsupported, "JWS crit header is not supported")
	case h.HasB64:
		return reason.New(reason.JWSB64Unsupported, "JWS b64 header is not supported")
	}
	return nil
}

// setHeaderMember records one top-level header member. value is the raw,
// already validated JSON value; it stays valid as long as h.Raw.
func setHeaderMember(h *Header, name, value []byte) error {
	var err error
	switch string(name) {
	case "alg":
		h.Alg, err = headerString("alg", value)
	case "kid":
		h.Kid, err = headerString("kid", value)
	case "typ":
		h.Typ, err = headerString("typ", value)
	case "cty":
		h.Cty, err = headerString("cty", value)
	case "crit":
		h.HasCrit = true
		// Rejected anyway; keep the names when they are well formed.
		if stdjson.Unmarshal(value, &h.Crit) != nil {
			h.Crit = nil
		}
	case "b64":
		h.HasB64 = true
	case "jwk":
		h.JWK = stdjson.RawMessage(value[:len(value):len(value)])
	case "jku":
		h.HasJKU = true
	case "x5u":
		h.HasX5U = true
	case "x5c":
		h.HasX5C = true
	case "x5t", "x5t#S256":
		h.HasX5T = true
	}
	return err
}

// headerString decodes a JSON string value of a header member.
func headerString(member string, value []byte) (string, error) {
	if len(value) < 2 || value[0] != '"' {
		return "", reason.New(reason.JWSMalformedJSON, "JWS header "+member+" is not a string")
	}
	inner := value[1 : len(value)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := stdjson.Unmarshal(value, &s); err != nil {
				return "", reason.Wrap(reason.JWSMalformedJSON, "JWS header "+member+" is not a string", jsonerr.Describe(err, nil))
			}
			return s, nil
		}
	}
	return string(inner), nil
}
