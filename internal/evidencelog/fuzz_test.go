package evidencelog

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func goldenVKey(f *testing.F) string {
	b, err := os.ReadFile("testdata/example.vkey")
	if err != nil {
		f.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// FuzzVerifyReceipt: no receipt, however malformed, makes ParseReceipt or
// VerifyReceipt panic, and every rejection is a typed *Error.
func FuzzVerifyReceipt(f *testing.F) {
	vkey := goldenVKey(f)
	for _, name := range []string{"testdata/example.receipt.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"record":"","index":0,"checkpoint":"","proof":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceipt(data)
		if err != nil {
			mustBeTyped(t, err)
			return
		}
		if err := VerifyReceipt(r, vkey); err != nil {
			mustBeTyped(t, err)
		}
	})
}

// FuzzOpenCheckpoint: no signed note makes OpenCheckpoint panic; a body that
// parses without extension lines formats back to itself.
func FuzzOpenCheckpoint(f *testing.F) {
	vkey := goldenVKey(f)
	b, err := os.ReadFile("testdata/example.checkpoint")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := OpenCheckpoint(data, vkey); err != nil {
			mustBeTyped(t, err)
		}
		c, err := ParseCheckpoint(string(data))
		if err != nil {
			mustBeTyped(t, err)
			return
		}
		if strings.Count(string(data), "\n") == 3 && formatCheckpoint(c) != string(data) {
			t.Fatalf("%q parses but formats as %q", data, formatCheckpoint(c))
		}
	})
}

func mustBeTyped(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("untyped error %v", err)
	}
}
