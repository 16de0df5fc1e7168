package server

import (
	"encoding/json"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// The proof answers name every member docs/openapi.yaml requires, a 0
// included (index 0 and old 0 were once left out).
func TestLogProofAnswersNameZero(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	for range 2 {
		decide(t, w, r.url, checkCases[0])
	}
	for _, c := range []struct {
		url  string
		want []string
	}{
		{r.url + PathLogInclusionProof + "?index=0&size=2", []string{"index", "size", "proof"}},
		{r.url + PathLogConsistencyProof + "?old=0&new=2", []string{"old", "new", "proof"}},
	} {
		var got map[string]json.RawMessage
		if err := json.Unmarshal(getOK(t, c.url, nil), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: members %v, want %v", c.url, got, c.want)
		}
		for _, k := range c.want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: no %q in %v", c.url, k, got)
			}
		}
	}
}
