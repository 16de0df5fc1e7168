package jws_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
)

func Example() {
	// An issuer signs a token (here with go-jose and a fresh key).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	obj, _ := signer.Sign([]byte(`{"iss":"https://issuer.example","sub":"ci-runner"}`))
	compact, _ := obj.CompactSerialize()

	// Provost checks it: shape first, then the signature with the algorithms
	// its configuration allows for this issuer.
	tok, err := jws.Parse(compact, 0)
	if err != nil {
		fmt.Println("rejected:", reason.Of(err))
		return
	}
	if err := jws.Verify(tok, []string{"ES256"}, &key.PublicKey); err != nil {
		fmt.Println("rejected:", reason.Of(err))
		return
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	if err := jws.DecodeObject(tok.Payload, &claims); err != nil {
		fmt.Println("rejected:", reason.Of(err))
		return
	}
	fmt.Println(claims.Sub)

	// A token that says alg "none" never gets that far.
	_, err = jws.Parse("eyJhbGciOiJub25lIn0.e30.", 0)
	fmt.Println(reason.Of(err))
	// Output:
	// ci-runner
	// jws_alg_none
}
