package checkreq

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	good := `{"method":"GET","target":"/x?y=1","authorization":"Bearer t","peer":"[2001:db8::7]:443","x_forwarded_for":["10.0.0.1"],"hops":["a.b.c"]}`
	r, err := Decode(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if a, err := r.PeerAddr(); err != nil || a.String() != "2001:db8::7" {
		t.Fatalf("peer %v %v", a, err)
	}
	cases := []struct{ body, field string }{
		{`{"method":"get","target":"/"}`, "method"},
		{`{"method":"GET","target":"x"}`, "target"},
		{`{"method":"GET","target":"/","peer":"host.example"}`, "peer"},
		{`{"method":"GET","target":"/","hops":"a"}`, "hops"},
		{`{"method":"GET","target":"/","nope":1}`, "nope"},
		{`[]`, "(body)"},
		{`{"method":"GET","target":"/"}x`, "(body)"},
		{`{"method":"GET","target":"/","client_cert":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, "client_cert"},
		{strings.Repeat(" ", MaxBytes+1), "(body)"},
	}
	for _, c := range cases {
		_, err := Decode(strings.NewReader(c.body))
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%.40q: err %v, want a FieldError on %s", c.body, err, c.field)
		}
	}
}

// FuzzDecode: whatever the body, Decode returns a request that passes its
// own checks or a FieldError naming a field; it never panics.
func FuzzDecode(f *testing.F) {
	f.Add(`{"method":"GET","target":"/","peer":"10.0.0.1:80","client_cert":""}`)
	f.Add(`{"method":"POST","target":"/a?b","x_forwarded_for":["1.2.3.4, 5.6.7.8"],"forwarded":["for=1.2.3.4"]}`)
	f.Add(`{"at":"2026-01-01T00:00:00Z","method":"GET","target":"/"}`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := Decode(strings.NewReader(body))
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.Method == "" || !strings.HasPrefix(r.Target, "/") {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		if _, err := r.PeerAddr(); err != nil {
			t.Fatalf("accepted a bad peer: %v", err)
		}
	})
}
