package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
)

// /readyz is 503 while a store decisions need does not answer, names the
// store, and is ready again once it answers.
func TestReadyzFollowsTheStores(t *testing.T) {
	var down error
	pol, err := provost.ParsePolicy(context.Background(), []byte("version: 1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Deps{Checker: provost.CheckFunc(nil), Policy: func() *provost.Policy { return pol },
		Ready: func(context.Context) error { return down }}, config.Serve{}, nil)
	if rec := httptestGet(s, PathReadyz); rec.Code != http.StatusOK {
		t.Fatalf("up: %d %s", rec.Code, rec.Body)
	}
	down = errors.New("redis: not answering")
	rec := httptestGet(s, PathReadyz)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status":"not_ready"`) || !strings.Contains(rec.Body.String(), "redis") {
		t.Fatalf("down: %d %s", rec.Code, rec.Body)
	}
	if rec := httptestGet(s, PathHealthz); rec.Code != http.StatusOK {
		t.Fatalf("healthz must stay alive: %d", rec.Code)
	}
	down = nil
	if rec := httptestGet(s, PathReadyz); rec.Code != http.StatusOK {
		t.Fatalf("back up: %d %s", rec.Code, rec.Body)
	}
}
