package server

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// leakedPiece returns an 8-character piece of secret found in text, or "":
// at most the first 4 characters of a credential may be repeated.
func leakedPiece(text, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			return secret[i : i+8]
		}
	}
	return ""
}

// Issue 8 item 4a: a credential sent where a member name belongs (or in a
// place a decoding error would quote) comes back neither in the problem
// answered nor in the log.
func TestCheckAPIDoesNotEchoCredentialsInErrors(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	jwt := w.MustToken("svc:reports", nil)
	const pre = `{"method":"GET","target":"/",`
	cases := []struct{ name, body, field string }{
		{"JWT as a member name", pre + `"` + jwt + `":1}`, `(a ` + strconv.Itoa(len(jwt)) + `-byte name starting "eyJh" at byte 29)`},
		{"JWT as a nested member name", pre + `"hops":{"` + jwt + `":1}}`, "hops"},
		{"JWT under a JWT", `{"` + jwt + `":{"` + jwt + `":1}}`, ""},
		{"JWT as a time", pre + `"at":"` + jwt + `"}`, "(body)"},
		{"JWT in a string with a control character", pre + `"authorization":"Bearer ` + jwt + "\x01" + `"}`, "(body)"},
		{"JWT cut short", pre + `"authorization":"Bearer ` + jwt, "(body)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := postJSON(t, http.DefaultClient, r.url+PathCheck, []byte(c.body))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if l := leakedPiece(string(body), jwt); l != "" {
				t.Fatalf("the answer repeats %q of the credential: %s", l, body)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if l := leakedPiece(v, jwt); l != "" {
						t.Fatalf("header %s repeats %q of the credential", k, l)
					}
				}
			}
			if c.field != "" && !strings.Contains(string(body), `"field":"`+strings.ReplaceAll(c.field, `"`, `\"`)+`"`) {
				t.Errorf("answer %s, want field %s", body, c.field)
			}
		})
	}
	if l := leakedPiece(w.logs.String(), jwt); l != "" {
		t.Fatalf("the log repeats %q of the credential:\n%s", l, w.logs.String())
	}
	if !strings.Contains(w.logs.String(), "invalid-field") {
		t.Fatalf("the bad requests were not logged:\n%s", w.logs.String())
	}
}
