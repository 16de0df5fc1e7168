package checkreq

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// realJWT is an ES256 access token of 343 characters, shaped as issued
// (the signature is random bytes).
func realJWT(t testing.TB) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"sts-1"}`))
	sig := make([]byte, 64)
	rand.Read(sig)
	for n := 0; n < 200; n++ {
		payload := `{"iss":"https://sts.acme.test","aud":"https://api.acme.test","sub":"svc:reports","iat":1767225600,"exp":1767229200,"jti":"` + strings.Repeat("J", n) + `"}`
		tok := header + "." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sig)
		if len(tok) >= 343 {
			return tok
		}
	}
	t.Fatal("no 343-character token")
	return ""
}

// leaked returns an 8-character piece of secret found in text, or "": at
// most the first 4 characters of a long untrusted string may be repeated.
func leaked(text, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			return secret[i : i+8]
		}
	}
	return ""
}

// Issue 8 item 4a: an error never repeats a long member name, a long key
// nested in a value, or a long string a syntax error is found in.
func TestDecodeErrorsDoNotEchoLongStrings(t *testing.T) {
	jwt := realJWT(t)
	if len(jwt) != 343 {
		t.Fatalf("token of %d characters", len(jwt))
	}
	const pre = `{"method":"GET","target":"/",`
	cases := []struct {
		name, body, field string // field "" when any
	}{
		{"JWT as a member name", pre + `"` + jwt + `":1}`, `(a 343-byte name starting "eyJh" at byte 29)`},
		{"JWT as the first member name", `{"` + jwt + `":1,"method":"GET","target":"/"}`, `(a 343-byte name starting "eyJh" at byte 1)`},
		{"JWT as an escaped member name", pre + `"\u0065` + jwt[1:] + `":1}`, `(a 343-byte name starting "eyJh" at byte 29)`},
		{"nested long key in a list field", pre + `"hops":{"` + jwt + `":1}}`, "hops"},
		{"nested long key in a list", pre + `"x_forwarded_for":[{"` + jwt + `":"a"}]}`, ""}, // "x_forwarded_for" (".0" with GOEXPERIMENT=jsonv2)
		{"nested long key under a long key", pre + `"` + jwt + `":{"` + jwt + `x":1}}`, ""},
		{"nested long key under an unknown key", pre + `"extra":{"` + jwt + `":1}}`, "extra"},
		{"long string in a time", `{"at":"` + jwt + `","method":"GET","target":"/"}`, "(body)"},
		{"control character in a long string", pre + `"authorization":"Bearer ` + jwt + "\x01" + `"}`, "(body)"},
		{"bad escape in a long name", pre + `"` + jwt + `\q":1}`, "(body)"},
		{"bad escape in a long value", pre + `"authorization":"Bearer ` + jwt + `\q"}`, "(body)"},
		{"long string cut short", pre + `"authorization":"Bearer ` + jwt, "(body)"},
		{"long name cut short", pre + `"` + jwt, "(body)"},
		{"long key inside a time", pre + `"at":{"` + jwt + `":1}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(c.body))
			fe, ok := err.(*FieldError)
			if !ok {
				t.Fatalf("err %T %v, want a FieldError", err, err)
			}
			if l := leaked(fe.Error(), jwt); l != "" {
				t.Fatalf("the error repeats %q of the token: %.200s", l, fe.Error())
			}
			if c.field != "" && fe.Field != c.field {
				t.Errorf("field %q, want %q (%s)", fe.Field, c.field, fe.Msg)
			}
		})
	}
}

// A short member name is still named as is.
func TestDecodeNamesShortUnknownFields(t *testing.T) {
	for name, want := range map[string]string{
		"peer_addr":       "peer_addr",
		"x-forwarded-for": "x-forwarded-for",
		// Upper case and digits are what short secrets are made of.
		"X-Forwarded-For":              `(a 15-byte name starting "X-Fo" at byte 29)`,
		"sk_live_4fTq9ZkLm2Xw8RbN0cVd": `(a 28-byte name starting "sk_l" at byte 29)`,
		strings.Repeat("a", 32):        strings.Repeat("a", 32),
		strings.Repeat("a", 33):        `(a 33-byte name starting "aaaa" at byte 29)`,
		"has space":                    `(a 9-byte name starting "has" at byte 29)`,
		"x.y":                          `(a 3-byte name starting "x" at byte 29)`,
		"\u00e9t\u00e9":                `(a 5-byte name at byte 29)`,
	} {
		_, err := Decode(strings.NewReader(`{"method":"GET","target":"/","` + name + `":1}`))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != want || fe.Msg != "unknown field" {
			t.Errorf("%q: %v, want field %q", name, err, want)
		}
	}
}
