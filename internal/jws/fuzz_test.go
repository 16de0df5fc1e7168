package jws

import (
	stdjson "encoding/json"
	"testing"
)

func FuzzParse(f *testing.F) {
	k := keys()
	f.Add(signed(f, "ES256", k.p256, es256, payload))
	f.Add(signed(f, "EdDSA", k.ed, `{"alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"AA"}}`, nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AA")
	f.Add("e30.e30.AA")
	f.Add("..")
	f.Add(`{"payload":""}`)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s, 0)
		if err != nil {
			if tok != nil {
				t.Fatal("error with a token")
			}
			return
		}
		// Whatever Parse accepts re-encodes to the exact input.
		again := enc(tok.Header.Raw) + "." + enc(tok.Payload) + "." + enc(tok.Signature)
		if again != s {
			t.Fatalf("round trip: %q != %q", again, s)
		}
		if tok.SigningInput+"."+enc(tok.Signature) != s || tok.Compact != s {
			t.Fatal("signing input or compact form differ from the input")
		}
		if !stdjson.Valid(tok.Header.Raw) {
			t.Fatal("accepted header is not valid JSON")
		}
		_ = tok.Header.KeyMaterial()
		// Verify must not panic on anything Parse accepts.
		_ = Verify(tok, []string{tok.Header.Alg}, &k.p256.PublicKey)
	})
}

func FuzzDecodeObject(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[true,null,"x"],"c":{"d":-1.5e3}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"\u0061":"\ud83d\ude00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v map[string]any
		if err := DecodeObject(data, &v); err != nil {
			return
		}
		if !stdjson.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if v == nil {
			t.Fatalf("accepted %q but decoded nothing", data)
		}
	})
}
