package jws

import (
	stdjson "encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

func TestDecodeObject(t *testing.T) {
	type claims struct {
		Iss string             `json:"iss"`
		Exp int64              `json:"exp"`
		Aud []string           `json:"aud"`
		Cnf stdjson.RawMessage `json:"cnf"`
	}
	var c claims
	wantCode(t, DecodeObject([]byte(` {"iss":"a\u00e9","exp":5,"aud":["x"],"cnf":{"jkt":"t"}} `), &c), reason.OK)
	if c.Iss != "aé" || c.Exp != 5 || len(c.Aud) != 1 || string(c.Cnf) != `{"jkt":"t"}` {
		t.Fatalf("decoded %+v", c)
	}

	// Member names match case-sensitively: "ISS" must not fill Iss.
	c = claims{}
	wantCode(t, DecodeObject([]byte(`{"ISS":"evil","iss":"good"}`), &c), reason.OK)
	if c.Iss != "good" {
		t.Fatalf("case-insensitive match: Iss=%q", c.Iss)
	}
	c = claims{}
	wantCode(t, DecodeObject([]byte(`{"ISS":"evil"}`), &c), reason.OK)
	if c.Iss != "" {
		t.Fatalf("ISS filled iss: %q", c.Iss)
	}

	many := make([]string, 100)
	for i := range many {
		many[i] = `"k` + strconv.Itoa(i) + `":1`
	}
	wideOK := "{" + strings.Join(many, ",") + "}"
	wideDup := "{" + strings.Join(many, ",") + `,"k3":2}`

	tests := []struct {
		name string
		in   string
		want reason.Code
	}{
		{"empty object", `{}`, reason.OK},
		{"wide object", wideOK, reason.OK},
		{"same name in sibling objects", `{"a":{"x":1},"b":{"x":1}}`, reason.OK},
		{"same name at two depths", `{"x":{"x":{"x":1}}}`, reason.OK},
		{"numbers", `{"a":-0.5e+10,"b":0,"c":[1,2.25,-3E2]}`, reason.OK},
		{"literals", `{"a":true,"b":false,"c":null}`, reason.OK},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, reason.OK},
		{"duplicate", `{"iss":"a","iss":"b"}`, reason.JWSDuplicateMember},
		{"duplicate in wide object", wideDup, reason.JWSDuplicateMember},
		{"duplicate in array element", `{"a":[{"k":1,"k":2}]}`, reason.JWSDuplicateMember},
		{"duplicate after escape", `{"a":1,"\u0061":2}`, reason.JWSDuplicateMember},
		{"empty input", ``, reason.JWSMalformedJSON},
		{"not an object", `[1]`, reason.JWSMalformedJSON},
		{"null", `null`, reason.JWSMalformedJSON},
		{"trailing data", `{"a":1} x`, reason.JWSMalformedJSON},
		{"trailing comma", `{"a":1,}`, reason.JWSMalformedJSON},
		{"missing colon", `{"a" 1}`, reason.JWSMalformedJSON},
		{"unterminated string", `{"a":"b}`, reason.JWSMalformedJSON},
		{"bad escape", `{"a":"\x"}`, reason.JWSMalformedJSON},
		{"bad unicode escape", `{"a":"\u12G4"}`, reason.JWSMalformedJSON},
		{"lone low surrogate", `{"a":"\udc00"}`, reason.JWSMalformedJSON},
		{"high surrogate then other", `{"a":"\ud800\u0041"}`, reason.JWSMalformedJSON},
		{"invalid utf8", "{\"a\":\"\xc3\x28\"}", reason.JWSMalformedJSON},
		{"leading zero", `{"a":012}`, reason.JWSMalformedJSON},
		{"bare minus", `{"a":-}`, reason.JWSMalformedJSON},
		{"dot without digits", `{"a":1.}`, reason.JWSMalformedJSON},
		{"bad literal", `{"a":tru}`, reason.JWSMalformedJSON},
		{"wrong type for field", `{"exp":"soon"}`, reason.JWSMalformedJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c claims
			wantCode(t, DecodeObject([]byte(tc.in), &c), tc.want)
		})
	}
}
