package evidence

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUnmarshal checks that Unmarshal never panics and that whatever it
// accepts re-marshals to the same bytes and decodes to the same record.
func FuzzUnmarshal(f *testing.F) {
	for _, name := range []string{"allow.json", "deny-revoke.json", "rejected.json", "revocation.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		f.Add(b)
		f.Add(bytes.Replace(b, []byte(`"v":1`), []byte(`"v":2`), 1))
		f.Add(bytes.Replace(b, []byte(`"v":2`), []byte(`"v":1`), 1))
	}
	f.Add([]byte(`{"v":2,"time":"2026-03-01T12:00:00.000000000Z","event":"revocation","revocation":{"id":"r","kind":"jti","value":"j"}}`))
	f.Add([]byte(`{"v":2,"time":"2026-03-01T12:00:00.000000000Z","decision":"deny","event":"revocation","revocation":{"id":"r","kind":"jti","value":"j"}}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"time":"2026-03-01T12:00:00.000000000Z","decision":"deny","provenance":"insufficient","credential":{"verdict":"rejected"}}`))
	f.Add([]byte(`{"v":1,"time":"0001-01-01T00:00:00.000000001Z","decision":"allow","provenance":"verified","credential":{"verdict":"accepted","message":"\ufffd\u2028"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Unmarshal(data)
		if err != nil {
			return
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted record does not marshal: %v\n%q", err, data)
		}
		if !bytes.Equal(b, data) {
			t.Fatalf("accepted record re-marshals differently:\n%q\n%q", data, b)
		}
		again, err := Unmarshal(b)
		if err != nil || !equal(again, r) {
			t.Fatalf("re-marshalled record decodes differently (%v)", err)
		}
		if _, err := r.ID(); err != nil {
			t.Fatalf("accepted record has no ID: %v", err)
		}
	})
}
