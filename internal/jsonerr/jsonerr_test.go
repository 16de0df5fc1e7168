package jsonerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// secret is a long untrusted string: a JWT-shaped value with short dotted
// segments, so that a dotted path split on "." would look like names.
const secret = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

// leak returns a piece of s longer than PrefixLen found in text, or "".
func leak(text, s string) string {
	for i := 0; i+8 <= len(s); i++ {
		if strings.Contains(text, s[i:i+8]) {
			return s[i : i+8]
		}
	}
	return ""
}

type target struct {
	At     *time.Time     `json:"at"`
	Method string         `json:"method"`
	Hops   []string       `json:"hops"`
	M      map[string]int `json:"m"`
	N      struct {
		X int `json:"x"`
	} `json:"n"`
	Deep map[string]target `json:"deep"`
}

func decode(doc string) error {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var v target
	return dec.Decode(&v)
}

func TestDescribeNeverRepeatsTheDocument(t *testing.T) {
	cases := []struct {
		name, doc string
		kind      Kind
		field     string // "" to skip
	}{
		{"unknown member", `{"method":"GET","` + secret + `":1}`, UnknownField, `(a 81-byte name starting "eyJh" at byte 16)`},
		{"unknown member with escapes", `{"\u0065yJ` + secret[3:] + `":1}`, UnknownField, `(a 81-byte name starting "eyJh" at byte 1)`},
		{"unknown nested in map value", `{"deep":{"k":{"` + secret + `":1}}}`, UnknownField, ""},
		{"map key in a type error path", `{"m":{"` + secret + `":"x"}}`, Type, ""},
		{"deep map key", `{"deep":{"` + secret + `":{"m":{"a":"x"}}}}`, Type, ""},
		{"time", `{"at":"` + secret + `"}`, Other, ""},
		{"control character in a long string", `{"method":"` + secret + "\x01" + `"}`, Syntax, ""},
		{"bad escape in a long name", `{"` + secret + `\q":1}`, Syntax, ""},
		{"cut short in a long string", `{"method":"` + secret, Other, ""},
		{"long number", `{"method":` + strings.Repeat("7", 80) + `}`, Type, "method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decode(c.doc)
			if err == nil {
				t.Fatal("decoded")
			}
			e := Describe(err, []byte(c.doc))
			text := e.Error()
			if l := leak(text, secret); l != "" {
				t.Fatalf("%q repeats %q", text, l)
			}
			if l := leak(text, strings.Repeat("7", 80)); l != "" {
				t.Fatalf("%q repeats the number", text)
			}
			if e.Kind != c.kind {
				t.Errorf("%q: kind %d, want %d", text, e.Kind, c.kind)
			}
			if c.field != "" && e.Field != c.field {
				t.Errorf("field %q, want %q", e.Field, c.field)
			}
		})
	}
}

func TestDescribeKeepsNames(t *testing.T) {
	e := Describe(decode(`{"method":"GET","peer_addr":1}`), nil)
	if e.Kind != UnknownField || e.Field != "peer_addr" || !e.Named || e.Error() != "peer_addr: unknown field" {
		t.Fatalf("%+v", e)
	}
	e = Describe(decode(`{"hops":"x"}`), nil)
	if e.Kind != Type || e.Field != "hops" || e.Msg != "must be a []string, not a JSON string" {
		t.Fatalf("%+v", e)
	}
	e = Describe(decode(`{"n":{"x":"x"}}`), nil)
	if e.Kind != Type || e.Field != "n.x" {
		t.Fatalf("%+v", e)
	}
	// A dotted path is read from the document, name by name (with
	// GOEXPERIMENT=jsonv2 the error's path holds map keys; without, it does
	// not), and without the document a short one is kept.
	doc := `{"deep":{"abcdefghijklmnop":{"deep":{"qrstuvwxyz_abcde":{"hops":"x"}}}}}`
	e = Describe(decode(doc), []byte(doc))
	if e.Field != "deep.abcdefghijklmnop.deep.qrstuvwxyz_abcde.hops" || !e.Named {
		t.Fatalf("%+v", e)
	}
	mdoc := `{"m":{"x.y":"z"}}`
	if e = Describe(decode(mdoc), []byte(mdoc)); e.Field != `m.(a 3-byte name starting "x")` && e.Field != "m" {
		t.Fatalf("%+v", e)
	}
	if f, named := fieldPath("n.x", nil, -1); f != "n.x" || !named {
		t.Fatal(f)
	}
	if f, named := fieldPath("m."+secret, nil, -1); f != "(a 83-byte field path)" || named {
		t.Fatal(f)
	}
	if f, _ := fieldPath(strings.Repeat("a.", 20)+"b", []byte(doc), int64(strings.Index(doc, `"x"`)+3)); f != "deep.abcdefghijklmnop.deep.qrstuvwxyz_abcde.hops" {
		t.Fatalf("path from the document: %q", f)
	}
	e = Describe(decode(`{"method":1`), nil)
	if e.Kind != Other || e.Error() != "unexpected EOF" {
		t.Fatalf("%+v", e)
	}
	e = Describe(decode(`{"method" 1}`), nil)
	if e.Kind != Syntax || e.Offset < 10 || !strings.Contains(e.Msg, "at byte 1") {
		t.Fatalf("%+v", e)
	}
}

// TestIsNameRefusesSecretShapes: a short credential sent as a member name
// is not repeated (the secrets scan found "sk_live_" keys echoed whole).
func TestIsNameRefusesSecretShapes(t *testing.T) {
	for s, want := range map[string]bool{
		"method": true, "x_forwarded_for": true, "x5t": true, "client-cert": true, "sha256": true,
		"sk_live_4fTq9ZkLm2Xw8RbN0cVd": false, "0123456789abcdef0123456789abcdef": false,
		"ghp_abcdefghijklmnopqrstuvwx12": true, // lower case, few digits: kept (see MaxNameDigits)
		"ghp_abcdefghij1234567890":       false, "Authorization": false, "peerAddr": false, "_x": false, "": false,
		strings.Repeat("a", MaxName+1): false,
	} {
		if got := IsName(s); got != want {
			t.Errorf("IsName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		`json: unknown field "token"`:                `json: unknown field "token"`,
		`parsing time "` + secret + `" as "2006"`:    `parsing time "eyJh..."(81 bytes) as "2006..."(4 bytes)`,
		"cannot unmarshal number " + secret:          "cannot unmarshal number eyJh...(81 bytes)",
		"go-jose: unknown key type '" + secret + "'": "go-jose: unknown key type ...(83 bytes)",
		"quote `" + secret + "` and \"" + secret:     "quote `eyJh...`(81 bytes) and \"eyJh...\"(81 bytes)",
		"line\nbreak \"a b\"":                        "line break \"a...\"(3 bytes)",
		`escaped "\"` + secret + `\""`:               `escaped "..."(85 bytes)`,
	} {
		if got := Scrub(in); got != want {
			t.Errorf("Scrub(%.40q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("word ", 100)
	if got := Scrub(long); len(got) > maxMsg+3 {
		t.Errorf("Scrub kept %d bytes", len(got))
	}
}

func TestName(t *testing.T) {
	if Name("kind", 3) != "kind" || Name(secret, 7) != `(a 81-byte name starting "eyJh" at byte 7)` || Name(`"x`, -1) != `(a 2-byte name)` {
		t.Fatal(Name(secret, 7), Name(`"x`, -1))
	}
}

func TestDescribeWrapped(t *testing.T) {
	if Describe(nil, nil) != nil {
		t.Fatal("Describe(nil)")
	}
	var se *json.SyntaxError
	err := json.Unmarshal([]byte(`{`), &struct{}{})
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	e := Describe(errors.Join(errors.New("reading"), err), nil)
	if e.Kind != Syntax {
		t.Fatalf("%+v", e)
	}
	if !bytes.Contains([]byte(e.Msg), []byte("at byte")) {
		t.Fatal(e.Msg)
	}
}

// FuzzDescribe: whatever the document, Describe does not panic, and every
// quoted part of its message is a name or a description.
func FuzzDescribe(f *testing.F) {
	f.Add(`{"method":"GET","` + secret + `":1}`)
	f.Add(`{"m":{"` + secret + `":"x"}}`)
	f.Add(`{"at":"` + secret + `"}`)
	f.Add(`{"\u00`)
	f.Fuzz(func(t *testing.T, doc string) {
		err := decode(doc)
		if err == nil {
			return
		}
		e := Describe(err, []byte(doc))
		if len(e.Msg) > maxMsg+3 {
			t.Fatalf("message of %d bytes", len(e.Msg))
		}
		if e.Kind == UnknownField && !e.Named && !strings.HasPrefix(e.Field, "(a ") {
			t.Fatalf("unknown field %q", e.Field)
		}
		_ = Scrub(doc)
	})
}
