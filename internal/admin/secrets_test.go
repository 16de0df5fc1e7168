package admin_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin/admintest"
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

// Issue 8 item 4a: a credential sent as a member name of an admin request
// body (or where a decoding error would quote it) comes back neither in
// the problem answered nor in the log.
func TestCreateDoesNotEchoCredentialsInErrors(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	c := e.w.HTTPClient()
	tok := e.w.MustToken(admintest.Subject, nil)
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"JWT as a member name", `{"kind":"jti","value":"x","` + tok + `":1}`, 400,
			`unknown field (a ` + strconv.Itoa(len(tok)) + `-byte name starting "eyJh" at byte 26)`},
		{"JWT as the first member name", `{"` + tok + `":"x"}`, 400, "at byte 1)"},
		{"JWT as a nested member name", `{"kind":"jti","value":{"` + tok + `":1}}`, 400, "field value must be a string"},
		{"JWT under a JWT", `{"` + tok + `":{"` + tok + `":1}}`, 400, "unknown field (a "},
		{"JWT in a string with a control character", `{"kind":"jti","value":"` + tok + "\x01" + `"}`, 400, "not valid JSON"},
		{"JWT cut short", `{"kind":"jti","value":"` + tok, 400, "cut short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.call(t, c, "token", "POST", "/v1/revocations", tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, out)
			}
			if l := leakedPiece(string(out), tok); l != "" {
				t.Fatalf("the answer repeats %q of the credential: %.300s", l, out)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if l := leakedPiece(v, tok); l != "" {
						t.Fatalf("header %s repeats %q of the credential", k, l)
					}
				}
			}
			if p := problem(t, resp, out); !strings.Contains(p.Detail, tc.want) {
				t.Errorf("detail %q, want %q", p.Detail, tc.want)
			}
		})
	}
	if l := leakedPiece(e.logs.String(), tok); l != "" {
		t.Fatalf("the log repeats %q of the credential", l)
	}
	if !strings.Contains(e.logs.String(), `"status":400`) {
		t.Fatalf("the bad requests were not logged:\n%s", e.logs.String())
	}
}
