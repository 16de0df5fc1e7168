package provost_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"os"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/stores"
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
