package provost_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"os"
	"testing/fstest"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/stores"
	"github.com/provost-dev/provost/verdict"
)

// A Go service embeds the engine and judges each request. Here the request
// is one of the examples, observed at the time it was recorded.
func ExampleEngine_Check() {
	dataDir, err := os.MkdirTemp("", "provost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	observed := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return observed }
	ctx := context.Background()
	// README: open
	pol, err := provost.LoadPolicy(ctx, "examples/provost.yaml")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := stores.OpenDir(ctx, dataDir, stores.Options{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	eng, err := provost.New(ctx, pol, dir.Stores(), provost.Options{Secret: dir.Secret(), Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	// README: end

	var file struct{ Authorization, Posture string }
	data, err := os.ReadFile("examples/requests/20-ci-approved-build-host.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		log.Fatal(err)
	}
	for _, peer := range []string{"10.20.3.4", "198.51.100.23"} {
		d, err := eng.Check(context.Background(), &provost.Request{
			Method:        "POST",
			Target:        "/v1/deploy",
			Authorization: file.Authorization,
			Posture:       file.Posture,
			Peer:          netip.MustParseAddr(peer),
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(peer, d.Outcome, d.Credential.Verdict, d.Provenance, d.Actions)
	}
	// Output:
	// 10.20.3.4 allow accepted verified []
	// 198.51.100.23 deny accepted violated [revoke alert]
}

// An engine built from a policy written in Go and kept in memory: no files,
// no data directory. The service branches on the decision and, for detail,
// on stable reason codes.
func ExampleParsePolicy() {
	ctx := context.Background()
	// The issuer's key; in production its JWKS comes from a file or a URL.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	files := fstest.MapFS{
		"issuer.jwks.json": {Data: jwks},
		"bindings.yaml": {Data: []byte(`version: 1
networks:
  build-hosts: [10.20.0.0/16]
bindings:
  - name: deploy
    match: {subject: "ci:deploy"}
    require: {networks: [build-hosts]}
`)},
	}
	pol, err := provost.ParsePolicy(ctx, []byte(`version: 1
bindings: bindings.yaml
issuers:
  - issuer: https://sts.example
    audiences: [https://api.example]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
`), files)
	if err != nil {
		log.Fatal(err)
	}
	eng, err := provost.New(ctx, pol, stores.Memory(stores.Options{}), provost.Options{Secret: stores.NewSecret()})
	if err != nil {
		log.Fatal(err)
	}

	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	claims, _ := json.Marshal(map[string]any{"iss": "https://sts.example", "aud": "https://api.example", "sub": "ci:deploy",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	jws, _ := signer.Sign(claims)
	token, _ := jws.CompactSerialize()

	for _, peer := range []string{"10.20.3.4", "198.51.100.23"} {
		// README: check
		d, err := eng.Check(ctx, &provost.Request{Method: "POST", Target: "/v1/deploy",
			Authorization: "Bearer " + token, Peer: netip.MustParseAddr(peer)})
		if err != nil {
			log.Fatal(err) // Provost itself failed; d is a denial
		}
		switch {
		case d.Outcome == verdict.Allow:
			fmt.Println(peer, "allowed for", d.Credential.Metadata.Subject, "by binding", d.Binding)
		case d.Has(reason.NetworkNotApproved):
			fmt.Println(peer, "denied: not from an approved network")
		default:
			fmt.Println(peer, d.Outcome, d.Codes())
		}
		// README: end
	}
	// Output:
	// 10.20.3.4 allowed for ci:deploy by binding deploy
	// 198.51.100.23 denied: not from an approved network
}
