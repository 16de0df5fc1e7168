package target

import (
	"net/url"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, method, raw    string
		want                 reason.Code // reason.OK when accepted
		path, target, rawOut string
	}{
		{"plain", "GET", "/v1/reports", reason.OK, "/v1/reports", "/v1/reports", "/v1/reports"},
		{"query kept", "GET", "/v1/reports?q=1&r", reason.OK, "/v1/reports", "/v1/reports?q=1&r", "/v1/reports?q=1&r"},
		{"empty query kept", "GET", "/a?", reason.OK, "/a", "/a?", "/a?"},
		{"trailing slash", "GET", "/v1/reports/", reason.OK, "/v1/reports/", "/v1/reports/", "/v1/reports/"},
		{"root", "OPTIONS", "/", reason.OK, "/", "/", "/"},
		{"unreserved decoded", "GET", "/v1/%72eports/%7euser", reason.OK, "/v1/reports/~user", "/v1/reports/~user", "/v1/%72eports/%7euser"},
		{"reserved kept, hex upper-cased", "GET", "/a%3fb/%c3%a9", reason.OK, "/a%3Fb/%C3%A9", "/a%3Fb/%C3%A9", "/a%3fb/%c3%a9"},
		{"raw bytes RFC 3986 does not allow are encoded", "GET", "/a|b/{c}", reason.OK, "/a%7Cb/%7Bc%7D", "/a%7Cb/%7Bc%7D", "/a|b/{c}"},
		{"so their encoded form is the same path", "GET", "/a%7cb/%7Bc%7d", reason.OK, "/a%7Cb/%7Bc%7D", "/a%7Cb/%7Bc%7D", "/a%7cb/%7Bc%7d"},
		{"dots inside a segment", "GET", "/a/..b/.c/v1.2", reason.OK, "/a/..b/.c/v1.2", "/a/..b/.c/v1.2", "/a/..b/.c/v1.2"},
		{"extension method", "PROPFIND", "/", reason.OK, "/", "/", "/"},
		{"registered method with a hyphen", "VERSION-CONTROL", "/", reason.OK, "/", "/", "/"},
		{"access_token redacted", "GET", "/v1/x?a=1&access_token=eyJhbGciOi.e30.sig&b=2", reason.OK, "/v1/x", "/v1/x?a=1&access_token=REDACTED&b=2", "/v1/x?a=1&access_token=REDACTED&b=2"},
		{"encoded and cased name redacted", "GET", "/x?API_Key=k1&%6Bey=k2&token=t", reason.OK, "/x", "/x?API_Key=REDACTED&%6Bey=REDACTED&token=REDACTED", "/x?API_Key=REDACTED&%6Bey=REDACTED&token=REDACTED"},
		{"redaction in a refused-later raw form", "GET", "/%61?token=t", reason.OK, "/a", "/a?token=REDACTED", "/%61?token=REDACTED"},

		{"dot-dot", "GET", "/a/../b", reason.RequestTargetInvalid, "", "", ""},
		{"dot-dot at the end", "GET", "/a/..", reason.RequestTargetInvalid, "", "", ""},
		{"dot", "GET", "/a/./b", reason.RequestTargetInvalid, "", "", ""},
		{"encoded dot-dot", "GET", "/a/%2e%2e/b", reason.RequestTargetInvalid, "", "", ""},
		{"half-encoded dot-dot", "GET", "/a/.%2E/b", reason.RequestTargetInvalid, "", "", ""},
		{"bypass of a prefix rule", "GET", "/v1/reports/../admin/users", reason.RequestTargetInvalid, "", "", ""},
		{"encoded slash", "GET", "/a%2fb", reason.RequestTargetInvalid, "", "", ""},
		{"encoded slash upper", "GET", "/a%2Fb", reason.RequestTargetInvalid, "", "", ""},
		{"encoded backslash", "GET", "/a%5cb", reason.RequestTargetInvalid, "", "", ""},
		{"backslash", "GET", `/a\b`, reason.RequestTargetInvalid, "", "", ""},
		{"backslash in query", "GET", `/a?x=\`, reason.RequestTargetInvalid, "", "", ""},
		{"NUL", "GET", "/a\x00b", reason.RequestTargetInvalid, "", "", ""},
		{"encoded NUL", "GET", "/a%00b", reason.RequestTargetInvalid, "", "", ""},
		{"CR LF", "GET", "/a\r\nX-Evil: 1", reason.RequestTargetInvalid, "", "", ""},
		{"encoded CR LF", "GET", "/a%0d%0ab", reason.RequestTargetInvalid, "", "", ""},
		{"LF in query", "GET", "/a?x=\n", reason.RequestTargetInvalid, "", "", ""},
		{"tab", "GET", "/a\tb", reason.RequestTargetInvalid, "", "", ""},
		{"space", "GET", "/a b", reason.RequestTargetInvalid, "", "", ""},
		{"raw UTF-8", "GET", "/caf\xc3\xa9", reason.RequestTargetInvalid, "", "", ""},
		{"fragment", "GET", "/a#b", reason.RequestTargetInvalid, "", "", ""},
		{"empty segment", "GET", "/a//b", reason.RequestTargetInvalid, "", "", ""},
		{"leading empty segment", "GET", "//evil.example/a", reason.RequestTargetInvalid, "", "", ""},
		{"bad percent-encoding", "GET", "/a%zz", reason.RequestTargetInvalid, "", "", ""},
		{"truncated percent-encoding", "GET", "/a%4", reason.RequestTargetInvalid, "", "", ""},
		{"absolute form", "GET", "http://evil.example/a", reason.RequestTargetInvalid, "", "", ""},
		{"asterisk form", "OPTIONS", "*", reason.RequestTargetInvalid, "", "", ""},
		{"empty target", "GET", "", reason.RequestTargetInvalid, "", "", ""},
		{"too long", "GET", "/" + strings.Repeat("a", MaxBytes), reason.RequestTargetInvalid, "", "", ""},
		{"too long once normalised", "GET", "/" + strings.Repeat(`"`, MaxBytes/3+1), reason.RequestTargetInvalid, "", "", ""},

		{"lower-case method", "get", "/", reason.RequestMethodInvalid, "", "", ""},
		{"mixed-case method", "Delete", "/", reason.RequestMethodInvalid, "", "", ""},
		{"method with a space", "DEL ETE", "/", reason.RequestMethodInvalid, "", "", ""},
		{"1000-character method", strings.Repeat("G", 1000), "/", reason.RequestMethodInvalid, "", "", ""},
		{"method with a separator", "GET/", "/", reason.RequestMethodInvalid, "", "", ""},
		{"method with NUL", "GET\x00", "/", reason.RequestMethodInvalid, "", "", ""},
		{"no method", "", "/", reason.RequestMethodInvalid, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.method, c.raw, NewRedactor(nil))
			if code := reason.Of(err); code != c.want {
				t.Fatalf("Parse(%q, %q): %v, want %s", c.method, c.raw, err, c.want)
			}
			if err != nil {
				if strings.Contains(err.Error(), c.raw) && c.raw != "" {
					t.Errorf("the error repeats the target: %v", err)
				}
				return
			}
			if got.Path != c.path || got.Target() != c.target || got.Raw != c.rawOut || got.Method != c.method {
				t.Errorf("got %+v (target %q), want path %q target %q raw %q", got, got.Target(), c.path, c.target, c.rawOut)
			}
		})
	}
}

// The configuration adds parameters; the defaults stay.
func TestRedactorExtra(t *testing.T) {
	rd := NewRedactor([]string{"sig", "X-Amz-Signature"})
	got := rd.Target("/o?x-amz-signature=abc&sig=def&access_token=ghi&keep=1&flag")
	want := "/o?x-amz-signature=REDACTED&sig=REDACTED&access_token=REDACTED&keep=1&flag"
	if got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	var zero Redactor
	if got := zero.Query("token=t&a=b"); got != "token=REDACTED&a=b" {
		t.Fatalf("the zero Redactor: %q", got)
	}
}

func TestPrintable(t *testing.T) {
	got := Printable("/a\r\nb c\x00é?access_token=secret", 64, NewRedactor(nil))
	if want := "/a%0D%0Ab%20c%00%C3%A9?access_token=REDACTED"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := Printable(strings.Repeat("G", 1000), MaxMethodBytes, Redactor{}); len(got) != MaxMethodBytes {
		t.Fatalf("length %d, want %d", len(got), MaxMethodBytes)
	}
}

// FuzzParse: never panics; an accepted target's canonical form is itself
// canonical (parsing it again changes nothing) and holds no byte a rule
// could read two ways; a redacted value never survives.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/a%2fb", "/x?access_token=s3cr3t", "/%7e?%41", "/a//b", "/a\r\n", "/caf%C3%A9?q"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, raw string) {
		c, err := Parse(method, raw, NewRedactor(nil))
		if err != nil {
			if code := reason.Of(err); code != reason.RequestMethodInvalid && code != reason.RequestTargetInvalid {
				t.Fatalf("code %s", code)
			}
			return
		}
		again, err := Parse(method, c.Target(), NewRedactor(nil))
		if err != nil || again.Target() != c.Target() || again.Path != c.Path {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, c.Target(), again.Target(), err)
		}
		if strings.Contains(c.Path, "/../") || strings.Contains(c.Path, "//") || strings.ContainsAny(c.Target(), "\\\x00\r\n ") {
			t.Fatalf("canonical form %q", c.Path)
		}
		_, rawQuery, _ := strings.Cut(c.Raw, "?")
		for _, q := range []string{c.Query, rawQuery} {
			if v, ok := credentialValue(q); ok {
				t.Fatalf("the value %q of a credential parameter survived: %q", v, c.Target())
			}
		}
	})
}

// credentialValue finds an access_token parameter (its name compared
// case-insensitively and percent-decoded, as the application may read it)
// whose value is not Redacted. A "access_token=..." in the path is no
// parameter: an earlier form of FuzzParse took it for one
// (testdata/fuzz/FuzzParse/e59f5df825c1b073).
func credentialValue(query string) (string, bool) {
	for part := range strings.SplitSeq(query, "&") {
		name, value, hasValue := strings.Cut(part, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if hasValue && strings.EqualFold(name, "access_token") && value != Redacted {
			return value, true
		}
	}
	return "", false
}
