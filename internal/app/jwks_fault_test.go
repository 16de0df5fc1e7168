package app_test

// A remote issuer's JWKS endpoint that is slow, down, answers garbage or a
// body over the bound (issue 14), in front of a Provost served over
// loopback HTTP with a short write timeout.

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
)

// jwksFault is an issuer's JWKS endpoint on a fixed loopback address that
// serves its keys or plays one fault.
type jwksFault struct {
	t     *testing.T
	addr  string
	good  []byte
	fault string // slow, down, garbage, huge
	bad   atomic.Bool
	hits  atomic.Int64

	mu      sync.Mutex
	srv     *httptest.Server
	healed  chan struct{} // closed by set(false): slow requests then answer
	release chan struct{} // closed when the test ends: slow requests return
}

func newJWKSFault(t *testing.T, good []byte, fault string) *jwksFault {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	j := &jwksFault{t: t, addr: ln.Addr().String(), good: good, fault: fault, healed: make(chan struct{}), release: make(chan struct{})}
	j.start(ln)
	t.Cleanup(func() {
		close(j.release)
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.srv != nil {
			j.srv.Close()
		}
	})
	return j
}

func (j *jwksFault) url() string { return "http://" + j.addr + "/jwks" }

func (j *jwksFault) start(ln net.Listener) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(j.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	j.mu.Lock()
	j.srv = srv
	j.mu.Unlock()
}

// set makes the endpoint play its fault (bad) or serve its keys.
func (j *jwksFault) set(bad bool) {
	j.t.Helper()
	j.mu.Lock()
	if was := j.bad.Swap(bad); was && !bad {
		close(j.healed)
	} else if !was && bad {
		j.healed = make(chan struct{})
	}
	j.mu.Unlock()
	if j.fault != "down" {
		return
	}
	j.mu.Lock()
	srv := j.srv
	j.srv = nil
	j.mu.Unlock()
	if bad && srv != nil {
		srv.Close() // nothing listens: connections are refused
		return
	}
	if !bad && srv == nil {
		ln, err := net.Listen("tcp", j.addr) // the same address again
		if err != nil {
			j.t.Fatalf("the JWKS endpoint cannot come back at %s: %v", j.addr, err)
		}
		j.start(ln)
	}
}

func (j *jwksFault) serve(w http.ResponseWriter, r *http.Request) {
	j.hits.Add(1)
	j.mu.Lock()
	bad, healed := j.bad.Load(), j.healed
	j.mu.Unlock()
	if !bad {
		w.Header().Set("Content-Type", "application/json")
		w.Write(j.good)
		return
	}
	switch j.fault {
	case "slow":
		select { // longer than any decision may wait: until healed
		case <-healed:
			w.Header().Set("Content-Type", "application/json")
			w.Write(j.good)
		case <-r.Context().Done():
		case <-j.release:
		}
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":`))
	case "huge":
		// Valid JSON, over the 1 MiB bound on a JWKS response.
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[],"padding":"`))
		w.Write(bytes.Repeat([]byte("A"), int(issuer.DefaultMaxBodyBytes)+1))
		w.Write([]byte(`"}`))
	}
}

// TestJWKSFaults: for each fault of the issuer's JWKS endpoint, a decision
// is always answered before the write timeout: denied with
// issuer_keys_unavailable (internal_error when the endpoint hangs past the
// decision's deadline) while no keys were ever fetched; allowed with the
// held keys once they are past their ttl but within max_stale, while the
// refresh fails; denied again past max_stale.
func TestJWKSFaults(t *testing.T) {
	const (
		writeTimeout = 2 * time.Second
		maxStale     = 4 * time.Second
	)
	cases := []struct {
		fault string
		code  reason.Code // of a decision with no usable keys
	}{
		{"slow", reason.InternalError},
		{"down", reason.IssuerKeysUnavailable},
		{"garbage", reason.IssuerKeysUnavailable},
		{"huge", reason.IssuerKeysUnavailable},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			t.Parallel()
			w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
			good, err := os.ReadFile(filepath.Join(w.Dir, "issuer.jwks.json"))
			if err != nil {
				t.Fatal(err)
			}
			j := newJWKSFault(t, good, c.fault)
			cfg, err := os.ReadFile(w.ConfigFile())
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.Replace(string(cfg), "    jwks_file: issuer.jwks.json\n",
				"    jwks_url: "+j.url()+"\n    refresh: {min_interval: 1s, ttl: 1s, max_stale: 4s}\n", 1)
			if edited == string(cfg) {
				t.Fatal("the world's configuration names no issuer JWKS file")
			}
			w.Write("provost.yaml", edited)
			s := serve(t, w.App(""), writeTimeout)
			decide := func(what string) checkAnswer {
				t.Helper()
				began := time.Now()
				ans := bearerDecision(w, s)
				if took := time.Since(began); took >= writeTimeout {
					t.Fatalf("%s: answered after %v, not before the %v write timeout", what, took, writeTimeout)
				}
				return ans
			}
			denied := func(what string) {
				t.Helper()
				if ans := decide(what); ans.decision != "deny" || !ans.has(c.code) {
					t.Fatalf("%s: %s, want deny with %s", what, ans, c.code)
				}
			}

			// Cold: the keys were never fetched.
			j.set(true)
			denied("no keys fetched yet")

			// Warm: once the endpoint answers (after min_interval).
			j.set(false)
			var warmAt time.Time
			if !waitFor(5*time.Second, func() bool {
				warmAt = time.Now()
				return allowedWithEvidence(decide("the endpoint back"))
			}) {
				t.Fatal("no decision allowed 5s after the endpoint served its keys")
			}

			// Past the ttl, within max_stale: the held keys answer while
			// the refresh meets the fault.
			j.set(true)
			hits := j.hits.Load()
			time.Sleep(1500 * time.Millisecond)
			for i := range 3 {
				if ans := decide("held keys"); !allowedWithEvidence(ans) {
					t.Fatalf("decision %d %v after the last good fetch (ttl 1s, max_stale %v): %s, want allow with the held keys",
						i, time.Since(warmAt).Round(time.Millisecond), maxStale, ans)
				}
			}
			if c.fault != "down" && !waitFor(5*time.Second, func() bool { return j.hits.Load() > hits }) {
				t.Fatal("no refresh reached the endpoint after the ttl: the fault was not met")
			}

			// Past max_stale: no usable keys.
			time.Sleep(time.Until(warmAt.Add(maxStale + 500*time.Millisecond)))
			denied("past max_stale")
		})
	}
}
