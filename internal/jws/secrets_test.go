package jws_test

import (
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/jws"
)

// Issue 8 item 4a: the error of DecodeObject, which may reach a log, never
// repeats a long piece of the object (claims and headers are untrusted).
func TestDecodeObjectErrorsDoNotEchoTheObject(t *testing.T) {
	long := strings.Repeat("7", 400)
	word := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
	cases := []struct {
		name, doc, secret string
		v                 any
	}{
		{"number out of range", `{"iat":` + long + `}`, long, new(map[string]any)},
		{"long number for a string", `{"sub":` + long + `}`, long, new(struct {
			Sub string `json:"sub"`
		})},
		{"long name for a number", `{"` + word + `":"x"}`, word, new(map[string]float64)},
		{"long name in a nested object", `{"act":{"` + word + `":"x"}}`, word, new(map[string]map[string]int)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := jws.DecodeObject([]byte(c.doc), c.v)
			if err == nil {
				t.Fatal("decoded")
			}
			msg := err.Error()
			for i := 0; i+8 <= len(c.secret); i++ {
				if strings.Contains(msg, c.secret[i:i+8]) {
					t.Fatalf("the error repeats %q: %.200s", c.secret[i:i+8], msg)
				}
			}
		})
	}
}
