package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/middleware"
	"github.com/provost-dev/provost/stores"
)

// A deploy API guarded by Provost. The CI runner's token is approved only
// from the build hosts: the same token from elsewhere never reaches the
// handler (and its binding revokes it).
func ExampleNew() {
	dataDir, err := os.MkdirTemp("", "provost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	observed := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return observed }
	ctx := context.Background()
	pol, err := provost.LoadPolicy(ctx, "../examples/provost.yaml")
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

	deploy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := middleware.DecisionFrom(r.Context())
		fmt.Fprintf(w, "deploying for %s (binding %s)", d.Credential.Metadata.Subject, d.Binding)
	})
	handler := middleware.New(eng)(deploy)

	var file struct{ Authorization, Posture string }
	data, err := os.ReadFile("../examples/requests/20-ci-approved-build-host.json")
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		log.Fatal(err)
	}
	for _, peer := range []string{"10.20.3.4", "198.51.100.23"} {
		r := httptest.NewRequest("POST", "/v1/deploy", nil)
		r.RemoteAddr = peer + ":40000" // the runner's connection
		r.Header.Set("Authorization", file.Authorization)
		r.Header.Set(provost.HeaderPosture, file.Posture)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(peer, w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 10.20.3.4 200 deploying for repo:acme/deploy:ref:refs/heads/main (binding ci-deploy)
	// 198.51.100.23 403 {"decision":"deny","reasons":["network_not_approved","copied_credential","concurrent_origins"]}
}
