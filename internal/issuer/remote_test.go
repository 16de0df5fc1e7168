package issuer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/reason"
)

func newTestRemote(t *testing.T, srv *jwksServer, clock *fakeClock) *Remote {
	t.Helper()
	r, err := NewRemote(srv.config(clock))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustKeys(t *testing.T, r *Remote, kid string) *jose.JSONWebKeySet {
	t.Helper()
	set, err := r.Keys(context.Background(), kid)
	if err != nil {
		t.Fatalf("Keys(%q): %v", kid, err)
	}
	return set
}

// idle waits until no fetch of r is under way.
func (r *Remote) idle() {
	r.mu.Lock()
	call := r.inflight
	r.mu.Unlock()
	if call != nil {
		<-call.done
	}
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Keys: no error, want issuer_keys_unavailable")
	}
	var re *reason.Error
	if !errors.As(err, &re) || re.Code != reason.IssuerKeysUnavailable {
		t.Fatalf("Keys error %v: want *reason.Error with code %s", err, reason.IssuerKeysUnavailable)
	}
}

func TestRemoteLazy(t *testing.T) {
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	newTestRemote(t, srv, newFakeClock())
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("NewRemote fetched %d times; want lazy", n)
	}
}

func TestRemoteRotation(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "old", false)))
	r := newTestRemote(t, srv, clock)

	if got := kids(mustKeys(t, r, "old")); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("first fetch kids %v", got)
	}
	srv.set(jwksJSON(t, ecJWK(t, "old", false), ecJWK(t, "new", false)), http.StatusOK)

	// Within the interval the unknown kid causes no fetch; the set is returned anyway.
	set := mustKeys(t, r, "new")
	if hasKid(set, "new") || srv.hits.Load() != 1 {
		t.Fatalf("refreshed inside the interval: kids %v, hits %d", kids(set), srv.hits.Load())
	}
	clock.Advance(time.Minute)
	set = mustKeys(t, r, "new")
	if !hasKid(set, "new") {
		t.Fatalf("kid after rotation not found: kids %v", kids(set))
	}
	mustKeys(t, r, "new")
	mustKeys(t, r, "old")
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("server hits %d; want 2 (first fetch and exactly one refresh)", n)
	}
}

// flood makes n concurrent Keys calls with distinct unknown kids and returns
// the sets they got.
func flood(t *testing.T, r *Remote, round, n int) []*jose.JSONWebKeySet {
	t.Helper()
	sets := make([]*jose.JSONWebKeySet, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sets[i], errs[i] = r.Keys(context.Background(), fmt.Sprintf("unknown-%d-%d", round, i))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	return sets
}

func TestRemoteFloodOfUnknownKids(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	srv.delay = 20 * time.Millisecond // let callers pile up on the shared fetch
	r := newTestRemote(t, srv, clock)

	sets := flood(t, r, 0, 1000)
	for i, s := range sets {
		if s == nil || s != sets[0] {
			t.Fatalf("call %d got a different set: the fetch was not shared", i)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("first flood: %d fetches, want 1", n)
	}
	flood(t, r, 1, 1000)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("second flood in the same interval: %d fetches, want 1", n)
	}
	clock.Advance(time.Minute + time.Second)
	flood(t, r, 2, 1000)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("flood after the interval: %d fetches, want exactly 2", n)
	}
	if st := r.Stats(); st.Fetches != 2 || st.Failures != 0 || !st.LastSuccess.Equal(clock.Now()) {
		t.Fatalf("stats %+v", st)
	}
}

func TestRemoteIssuerDown(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	r := newTestRemote(t, srv, clock)
	good := mustKeys(t, r, "a")

	srv.set([]byte("down"), http.StatusServiceUnavailable)
	for _, at := range []time.Duration{16 * time.Minute, time.Hour, 24 * time.Hour} {
		clock.Advance(at - clock.Now().Sub(start))
		if set := mustKeys(t, r, "a"); set != good {
			t.Fatalf("at %s: last good keys not served", at)
		}
		r.idle() // the refresh runs in the background
	}
	hits := srv.hits.Load()
	if hits != 4 {
		t.Fatalf("hits %d, want 4 (one good, three failed refreshes)", hits)
	}
	clock.Advance(time.Second) // just past MaxStale
	_, err := r.Keys(context.Background(), "a")
	wantUnavailable(t, err)
	if !strings.Contains(err.Error(), srv.URL+"/jwks") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("error %q does not name the URL and the failure", err)
	}
	if st := r.Stats(); st.Fetches != 4 || st.Failures != 3 || !st.LastSuccess.Equal(start) {
		t.Fatalf("stats %+v", st)
	}

	// The issuer comes back: the next allowed fetch restores service.
	srv.set(jwksJSON(t, ecJWK(t, "b", false)), http.StatusOK)
	clock.Advance(time.Minute)
	if got := kids(mustKeys(t, r, "b")); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after recovery kids %v", got)
	}
}

func TestRemoteTTL(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	r := newTestRemote(t, srv, clock)
	mustKeys(t, r, "")
	srv.set(jwksJSON(t, ecJWK(t, "b", false)), http.StatusOK)

	clock.Advance(15*time.Minute - time.Second)
	if got := kids(mustKeys(t, r, "")); !slices.Equal(got, []string{"a"}) || srv.hits.Load() != 1 {
		t.Fatalf("refreshed before the TTL: kids %v hits %d", got, srv.hits.Load())
	}
	clock.Advance(time.Second)
	// At the TTL the held keys answer at once; the refresh runs in the background.
	if got := kids(mustKeys(t, r, "")); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("at the TTL kids %v, want the held [a] while refreshing", got)
	}
	r.idle()
	if got := kids(mustKeys(t, r, "")); !slices.Equal(got, []string{"b"}) || srv.hits.Load() != 2 {
		t.Fatalf("not refreshed at the TTL: kids %v hits %d", got, srv.hits.Load())
	}
}

// A refresh that hangs delays no caller while the held keys are within
// MaxStale: they are served at once, and only one refresh runs.
func TestRemoteStaleWhileRefreshing(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	r := newTestRemote(t, srv, clock)
	good := mustKeys(t, r, "a")

	gate := make(chan struct{})
	defer close(gate)
	srv.mu.Lock()
	srv.gate = gate // every later fetch hangs until the test ends
	srv.mu.Unlock()

	for _, at := range []time.Duration{16 * time.Minute, time.Hour, 23 * time.Hour} {
		clock.Advance(at - clock.Now().Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		began := time.Now()
		set, err := r.Keys(ctx, "a")
		cancel()
		if err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		if set != good {
			t.Fatalf("at %s: held keys not served", at)
		}
		if waited := time.Since(began); waited > 2*time.Second {
			t.Fatalf("at %s: Keys waited %s for a hanging refresh", at, waited)
		}
		// Keys without a kid are served alike.
		if set := mustKeys(t, r, ""); set != good {
			t.Fatalf("at %s: held keys not served for an empty kid", at)
		}
	}
	// Single flight: the first refresh still hangs, so no other started.
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("hits %d, want 2 (the first fetch and one hanging refresh)", n)
	}
	if st := r.Stats(); st.Fetches != 2 {
		t.Fatalf("stats %+v, want 2 fetches", st)
	}

	// Past MaxStale the held keys are no answer: the caller waits, bounded
	// by its context.
	clock.Advance(time.Hour + time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := r.Keys(ctx, "a")
	wantUnavailable(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past MaxStale: error %v, want the context's deadline", err)
	}
}

func TestRemoteContextCancel(t *testing.T) {
	clock := newFakeClock()
	srv := newJWKSServer(t, jwksJSON(t, ecJWK(t, "a", false)))
	gate := make(chan struct{})
	srv.gate = gate
	r := newTestRemote(t, srv, clock)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := r.Keys(ctx, "a")
	wantUnavailable(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap the context's error", err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("Keys took %s after its context ended", waited)
	}

	// The caller that gave up did not cancel the shared fetch.
	done := make(chan error, 1)
	go func() {
		_, err := r.Keys(context.Background(), "a")
		done <- err
	}()
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("waiter after release: %v", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("hits %d, want the one shared fetch", n)
	}

	// A context already done fails without fetching.
	clock.Advance(time.Hour)
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = r.Keys(cctx, "a")
	wantUnavailable(t, err)
	if !errors.Is(err, context.Canceled) || srv.hits.Load() != 1 {
		t.Fatalf("cancelled context: err %v, hits %d", err, srv.hits.Load())
	}
}

func TestRemoteFailedFetch(t *testing.T) {
	big := jwksJSON(t, ecJWK(t, "a", false), ecJWK(t, "b", false), ecJWK(t, "c", false))
	var manyKeys []jose.JSONWebKey
	for i := range 40 {
		manyKeys = append(manyKeys, ecJWK(t, fmt.Sprint(i), false))
	}
	many := jwksJSON(t, manyKeys...) // over httptest's 4 KiB buffer: sent chunked, no length
	tests := []struct {
		name   string
		body   []byte
		status int
		ctype  string
		max    int64
		want   string
	}{
		{name: "oversize body", body: big, max: 200, want: "bytes exceeds the 200 byte limit"},
		{name: "oversize chunked body", body: many, max: 4500, want: "body exceeds the 4500 byte limit"},
		{name: "bad JSON", body: []byte(`{"keys":[`), want: "invalid JWKS JSON"},
		{name: "not an object", body: []byte(`[1,2]`), want: "invalid JWKS JSON"},
		{name: "no keys member", body: []byte(`{"kids":[]}`), want: `no "keys" array`},
		{name: "duplicate member", body: []byte(`{"keys":[],"keys":[]}`), want: "duplicate key"},
		{name: "status 404", body: big, status: http.StatusNotFound, want: "status 404"},
		{name: "HTML", body: []byte("<html>"), ctype: "text/html; charset=utf-8", want: `content type "text/html; charset=utf-8" is not JSON`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.body)
			if tc.status != 0 {
				srv.status = tc.status
			}
			if tc.ctype != "" {
				srv.ctype = tc.ctype
			}
			cfg := srv.config(newFakeClock())
			cfg.MaxBodyBytes = tc.max
			r, err := NewRemote(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Keys(context.Background(), "a")
			wantUnavailable(t, err)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), cfg.URL) {
				t.Fatalf("error %q: want it to contain %q and the URL", err, tc.want)
			}
			if st := r.Stats(); st.Fetches != 1 || st.Failures != 1 || !st.LastSuccess.IsZero() {
				t.Fatalf("stats %+v", st)
			}
			// A failed first fetch is rate-limited like any other.
			_, err = r.Keys(context.Background(), "a")
			wantUnavailable(t, err)
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("hits %d after a failure inside the interval, want 1", n)
			}
		})
	}
}

func TestRemoteDropsBadKeys(t *testing.T) {
	good := ecJWK(t, "good", false)
	raws := []string{
		keyJSON(t, good),
		keyJSON(t, edJWK(t, "ed")),
		keyJSON(t, ecJWK(t, "ec-private", true)),
		keyJSON(t, octJWK("hmac")),
		keyJSON(t, jose.JSONWebKey{Key: &rsaKey(t, 1024).PublicKey, KeyID: "rsa-1024"}),
		keyJSON(t, ecJWK(t, "good", false)), // duplicate kid: the later key goes
		`{"kty":"EC","use":"enc","kid":"enc","crv":"P-256","x":"x","y":"y"}`,
		`{"kty":"XYZ","kid":"odd"}`,
	}
	srv := newJWKSServer(t, []byte(`{"keys":[`+strings.Join(raws, ",")+`]}`))
	r := newTestRemote(t, srv, newFakeClock())
	got := mustKeys(t, r, "good")
	if !slices.Equal(kids(got), []string{"good", "ed"}) {
		t.Fatalf("kept kids %v, want [good ed]", kids(got))
	}
	if !good.Key.(*ecdsa.PublicKey).Equal(got.Keys[0].Key) {
		t.Fatal("the duplicate kid replaced the first key")
	}
	if st := r.Stats(); st.KeysDropped != 6 || st.PrivateKeysDropped != 2 {
		t.Fatalf("stats %+v: want 6 dropped, 2 of them private", st)
	}
}

func TestNewRemoteConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  RemoteConfig
		want string
	}{
		{"empty URL", RemoteConfig{}, "scheme"},
		{"ftp", RemoteConfig{URL: "ftp://example.com/jwks"}, "scheme"},
		{"no host", RemoteConfig{URL: "https:///jwks"}, "no host"},
		{"user info", RemoteConfig{URL: "https://user:secret@example.com/jwks"}, "user info"},
		{"negative TTL", RemoteConfig{URL: "https://example.com/jwks", TTL: -time.Second}, "negative"},
		{"stale under TTL", RemoteConfig{URL: "https://example.com/jwks", TTL: time.Hour, MaxStale: time.Minute}, "shorter than TTL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRemote(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewRemote error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "secret") {
				t.Fatalf("error %q leaks the URL's password", err)
			}
		})
	}
	r, err := NewRemote(RemoteConfig{URL: "https://example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	if r.minRefresh != DefaultMinRefreshInterval || r.ttl != DefaultTTL || r.maxStale != DefaultMaxStale ||
		r.maxBody != DefaultMaxBodyBytes || r.client.Timeout != 10*time.Second {
		t.Fatalf("defaults not applied: %+v", r)
	}
}

func TestDefaultClientRedirects(t *testing.T) {
	tests := []struct {
		allowHTTP bool
		to        string
		via       int
		ok        bool
	}{
		{false, "https://example.com/b", 1, true},
		{false, "http://example.com/b", 1, false},
		{true, "http://example.com/b", 1, true},
		{true, "file:///etc/passwd", 1, false},
		{false, "https://example.com/b", maxRedirects, false},
	}
	for _, tc := range tests {
		c := defaultClient(tc.allowHTTP)
		u, _ := url.Parse(tc.to)
		via := make([]*http.Request, tc.via)
		err := c.CheckRedirect(&http.Request{URL: u}, via)
		if (err == nil) != tc.ok {
			t.Errorf("allowHTTP=%v redirect to %s after %d: err %v, want ok=%v", tc.allowHTTP, tc.to, tc.via, err, tc.ok)
		}
	}
}

// withKeyOps is the JSON of k with "key_ops" set to ops.
func withKeyOps(t *testing.T, k jose.JSONWebKey, ops string) string {
	t.Helper()
	s := keyJSON(t, k)
	return s[:len(s)-1] + `,"key_ops":` + ops + `}`
}

func TestRemoteDropsKeyOpsWithoutVerify(t *testing.T) {
	raws := []string{
		withKeyOps(t, ecJWK(t, "enc-ops", false), `["encrypt"]`),
		withKeyOps(t, ecJWK(t, "verify-ops", false), `["verify"]`),
		withKeyOps(t, ecJWK(t, "empty-ops", false), `[]`),
		keyJSON(t, ecJWK(t, "no-ops", false)),
	}
	srv := newJWKSServer(t, []byte(`{"keys":[`+strings.Join(raws, ",")+`]}`))
	r := newTestRemote(t, srv, newFakeClock())
	got := mustKeys(t, r, "verify-ops")
	if !slices.Equal(kids(got), []string{"verify-ops", "no-ops"}) {
		t.Fatalf("kept kids %v, want [verify-ops no-ops]", kids(got))
	}
	if st := r.Stats(); st.KeysDropped != 2 || st.PrivateKeysDropped != 0 {
		t.Fatalf("stats %+v: want 2 dropped, none private", st)
	}
}
