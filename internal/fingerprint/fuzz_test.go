package fingerprint

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzValid checks that Valid accepts exactly the canonical encodings of 32
// bytes behind the prefix, and every output of Of.
func FuzzValid(f *testing.F) {
	fp, _ := New(make([]byte, SecretSize))
	f.Add("credential")
	f.Add(fp.Of("credential"))
	f.Add("fp1:" + strings.Repeat("A", 43))
	f.Add("fp1:" + strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(fp.Of(s)) {
			t.Fatal("Valid rejects a fingerprint from Of")
		}
		if !Valid(s) {
			return
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(s, Prefix))
		if err != nil || len(raw) != 32 || Prefix+base64.RawURLEncoding.EncodeToString(raw) != s {
			t.Fatalf("Valid accepted a non-canonical fingerprint %q", s)
		}
	})
}
