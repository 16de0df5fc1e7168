package jws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestSmoke(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	o, _ := s.Sign([]byte(`{"a":1}`))
	c, _ := o.CompactSerialize()
	tok, err := Parse(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", tok.Header)
	if err := Verify(tok, []string{"ES256"}, &k.PublicKey); err != nil {
		t.Fatal(err)
	}
}
