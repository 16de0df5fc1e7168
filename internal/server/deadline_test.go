package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
)

// newHangingIssuerFixture is the test world with its issuer's keys at a
// JWKS URL that never answers until the test ends: the key cache is cold.
func newHangingIssuerFixture(t *testing.T) *fixture {
	t.Helper()
	release := make(chan struct{})
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(jwks.Close)
	t.Cleanup(func() { close(release) }) // runs first
	w := provosttest.New(t, provosttest.Options{
		Issuer: wIssuer, Audience: wAudience, Origin: wOrigin, TrustDomain: "acme.test",
		Proxies: []string{"127.0.0.1/32"}, Bindings: worldBindings,
	})
	cfg, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(cfg), "jwks_file: issuer.jwks.json", "jwks_url: "+jwks.URL+"/jwks", 1)
	if edited == string(cfg) {
		t.Fatal("the world's configuration names no issuer JWKS file")
	}
	w.Write("provost.yaml", edited)
	return &fixture{T: w, t: t, app: w.App(""), logs: &syncBuffer{}}
}

// A decision that runs out of time, here on a cold key cache and an issuer
// that hangs, is answered with the fail-closed denial before the write
// timeout: the caller always gets an answer.
func TestDecisionDeadlineBeforeWriteTimeout(t *testing.T) {
	w := newHangingIssuerFixture(t)
	const writeTimeout = 2 * time.Second
	r := w.start(config.Serve{WriteTimeout: config.Duration(writeTimeout)})
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("check", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"method": "GET", "target": "/v1/reports",
			"authorization": "Bearer " + w.MustToken("svc:reports", nil), "peer": "10.40.7.7"})
		began := time.Now()
		resp, got := postJSON(t, client, r.url+PathCheck, body)
		if took := time.Since(began); took >= writeTimeout {
			t.Fatalf("answered after %s, not before the %s write timeout", took, writeTimeout)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		var ans struct {
			Decision string `json:"decision"`
		}
		if err := json.Unmarshal(got, &ans); err != nil {
			t.Fatalf("answer %s: %v", got, err)
		}
		// The engine fails closed on the deadline: internal_error.
		if ans.Decision != "deny" || !strings.Contains(string(got), `"code":"`+string(reason.InternalError)+`"`) {
			t.Fatalf("answer %s: want the fail-closed denial", got)
		}
	})

	t.Run("forward-auth", func(t *testing.T) {
		began := time.Now()
		resp, got := fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports",
			"Authorization": "Bearer " + w.MustToken("svc:reports", nil)}}.do(t, client, r.url)
		if took := time.Since(began); took >= writeTimeout {
			t.Fatalf("answered after %s, not before the %s write timeout", took, writeTimeout)
		}
		if resp.StatusCode != http.StatusUnauthorized || got != "deny\n" ||
			resp.Header.Get(answer.HeaderReasons) != string(reason.InternalError) {
			t.Fatalf("status %d %q reasons %q: want the fail-closed denial", resp.StatusCode, got, resp.Header.Get(answer.HeaderReasons))
		}
	})
}

func TestDecisionTimeout(t *testing.T) {
	for _, c := range []struct{ write, want time.Duration }{
		{10 * time.Second, 9 * time.Second},
		{2 * time.Second, time.Second},
		{time.Second, 500 * time.Millisecond},
		{500 * time.Millisecond, 250 * time.Millisecond},
	} {
		s := New(Deps{}, config.Serve{WriteTimeout: config.Duration(c.write)}, nil)
		if got := s.decisionTimeout(); got != c.want {
			t.Errorf("write timeout %s: decision timeout %s, want %s", c.write, got, c.want)
		}
	}
}
