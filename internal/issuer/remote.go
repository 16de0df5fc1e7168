package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/reason"
)

// Defaults for RemoteConfig.
const (
	DefaultMinRefreshInterval = time.Minute
	DefaultTTL                = 15 * time.Minute
	DefaultMaxStale           = 24 * time.Hour
	DefaultMaxBodyBytes       = 1 << 20
)

const jwksAccept = "application/jwk-set+json, application/json"

// RemoteConfig configures a Remote. Zero fields take their defaults.
type RemoteConfig struct {
	// URL of the JWKS: https, or http for a local issuer.
	URL string
	// Client makes the requests. nil: a client with a 10s timeout that
	// follows redirects only to https (or http when URL is http).
	Client *http.Client
	// MinRefreshInterval: at most one fetch per interval, whatever the flood
	// of unknown kids (default 1m).
	MinRefreshInterval time.Duration
	// TTL: keys older than this are refreshed on the next call (default
	// 15m); the call is answered with them while the refresh runs.
	TTL time.Duration
	// MaxStale: serve the last good keys this long after the last good
	// fetch while the issuer does not answer (default 24h). At least TTL.
	MaxStale time.Duration
	// MaxBodyBytes bounds the JWKS response (default 1 MiB).
	MaxBodyBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Stats are a Remote's counters, for metrics. Counts are totals since NewRemote.
type Stats struct {
	Fetches     uint64    // fetch attempts
	Failures    uint64    // failed fetch attempts
	LastSuccess time.Time // start of the last good fetch; zero before the first
	// KeysDropped counts keys left out of fetched sets: private or symmetric
	// material, use other than "sig", key_ops without "verify", weak RSA,
	// unsupported, duplicate kid.
	KeysDropped uint64
	// PrivateKeysDropped counts the dropped keys that carried private or
	// symmetric material: the issuer is publishing secrets.
	PrivateKeysDropped uint64
}

// Remote is a Source backed by a JWKS URL. It fetches lazily, on the first
// Keys call, and is safe for concurrent use.
type Remote struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	ttl        time.Duration
	maxStale   time.Duration
	maxBody    int64
	now        func() time.Time

	mu        sync.Mutex
	keys      *jose.JSONWebKeySet // last good set; nil before the first good fetch
	goodAt    time.Time           // start of the last good fetch
	attemptAt time.Time           // start of the last fetch attempt
	lastErr   error               // error of the last attempt; nil if it succeeded
	inflight  *fetchCall          // the fetch under way, shared by its waiters
	stats     Stats
}

var _ Source = (*Remote)(nil)

// fetchCall is one fetch; done is closed once its outcome is recorded.
type fetchCall struct {
	done chan struct{}
}

// NewRemote checks cfg and returns a Remote. It does no I/O.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	u, err := checkURL(cfg.URL, true)
	if err != nil {
		return nil, fmt.Errorf("issuer JWKS: %w", err)
	}
	r := &Remote{
		url:        u.String(),
		client:     cfg.Client,
		minRefresh: orDefault(cfg.MinRefreshInterval, DefaultMinRefreshInterval),
		ttl:        orDefault(cfg.TTL, DefaultTTL),
		maxStale:   orDefault(cfg.MaxStale, DefaultMaxStale),
		maxBody:    cfg.MaxBodyBytes,
		now:        cfg.Now,
	}
	if cfg.MinRefreshInterval < 0 || cfg.TTL < 0 || cfg.MaxStale < 0 || cfg.MaxBodyBytes < 0 {
		return nil, errors.New("issuer JWKS: negative interval or size in RemoteConfig")
	}
	if r.maxStale < r.ttl {
		return nil, fmt.Errorf("issuer JWKS: MaxStale %s is shorter than TTL %s", r.maxStale, r.ttl)
	}
	if r.client == nil {
		r.client = defaultClient(u.Scheme == "http")
	}
	if r.maxBody == 0 {
		r.maxBody = DefaultMaxBodyBytes
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// URL returns the JWKS URL.
func (r *Remote) URL() string { return r.url }

// Stats returns a snapshot of the counters.
func (r *Remote) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Keys returns the issuer's current keys, fetching when none are held yet,
// when they are older than the TTL, or when kid is not among them, but
// never more than once per MinRefreshInterval; at most one fetch runs at a
// time, shared by every caller. The set is shared and read-only: callers
// must not modify it. When kid is still unknown, the set is returned anyway.
//
// Only a caller that cannot be answered from the held keys waits for the
// fetch, bounded by ctx: when none are held, when they are past MaxStale,
// or when they lack kid. Keys past the TTL but within MaxStale that hold
// kid are returned at once while the refresh runs in the background, so a
// slow or hanging issuer delays no decision. Errors are *reason.Error with
// code reason.IssuerKeysUnavailable.
func (r *Remote) Keys(ctx context.Context, kid string) (*jose.JSONWebKeySet, error) {
	if err := ctx.Err(); err != nil {
		return nil, reason.Wrap(reason.IssuerKeysUnavailable, "issuer keys from "+r.url, err)
	}
	if call := r.startOrJoin(ctx, kid); call != nil {
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, reason.Wrap(reason.IssuerKeysUnavailable, "waiting for issuer keys from "+r.url, ctx.Err())
		}
	}
	return r.current()
}

// startOrJoin starts a fetch when one is needed and allowed, and returns
// the fetch the caller must wait for: the one under way or the new one. It
// returns nil when the caller is answered from the held keys at once.
func (r *Remote) startOrJoin(ctx context.Context, kid string) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.wantFetch(kid, now) {
		return nil
	}
	call := r.inflight
	if call == nil {
		if !r.attemptAt.IsZero() && now.Sub(r.attemptAt) < r.minRefresh {
			return nil
		}
		call = &fetchCall{done: make(chan struct{})}
		r.inflight = call
		r.attemptAt = now
		r.stats.Fetches++
		// The fetch outlives any one caller: a caller that gives up, or
		// does not wait, must not cancel it for the others. fetchTimeout
		// bounds it.
		go r.fetch(context.WithoutCancel(ctx), call, now)
	}
	if r.servable(kid, now) {
		return nil // refreshed in the background
	}
	return call
}

// servable reports whether the held keys answer a caller for kid without
// waiting for a fetch: they are within MaxStale and hold kid (any kid when
// kid is empty). r.mu is held.
func (r *Remote) servable(kid string, now time.Time) bool {
	if r.keys == nil || now.Sub(r.goodAt) > r.maxStale {
		return false
	}
	return kid == "" || hasKid(r.keys, kid)
}

// wantFetch reports whether the held keys are missing, older than the TTL,
// or lack kid. r.mu is held.
func (r *Remote) wantFetch(kid string, now time.Time) bool {
	if r.keys == nil || now.Sub(r.goodAt) >= r.ttl {
		return true
	}
	return kid != "" && !hasKid(r.keys, kid)
}

func hasKid(set *jose.JSONWebKeySet, kid string) bool {
	for i := range set.Keys {
		if set.Keys[i].KeyID == kid {
			return true
		}
	}
	return false
}

// fetch runs one fetch and records its outcome.
func (r *Remote) fetch(ctx context.Context, call *fetchCall, started time.Time) {
	defer close(call.done)
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	set, dropped, err := r.get(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight = nil
	if err != nil {
		r.lastErr = err
		r.stats.Failures++
		return
	}
	r.keys, r.goodAt, r.lastErr = &set, started, nil
	r.stats.LastSuccess = started
	for _, p := range dropped {
		r.stats.KeysDropped++
		if p.kind == problemPrivate {
			r.stats.PrivateKeysDropped++
		}
	}
}

func (r *Remote) get(ctx context.Context) (jose.JSONWebKeySet, []*keyProblem, error) {
	body, err := getJSON(ctx, r.client, r.url, jwksAccept, r.maxBody)
	if err != nil {
		return jose.JSONWebKeySet{}, nil, err
	}
	set, dropped, err := parseJWKS(body, false)
	if err != nil {
		return jose.JSONWebKeySet{}, nil, fmt.Errorf("JWKS from %s: %w", r.url, err)
	}
	return set, dropped, nil
}

// current answers from the held keys: they are served until MaxStale after
// the last good fetch.
func (r *Remote) current() (*jose.JSONWebKeySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		return nil, reason.Wrap(reason.IssuerKeysUnavailable, "no keys fetched yet from "+r.url, r.lastErr)
	}
	if age := r.now().Sub(r.goodAt); age > r.maxStale {
		msg := fmt.Sprintf("keys from %s are %s old, past the %s limit", r.url, age.Round(time.Second), r.maxStale)
		return nil, reason.Wrap(reason.IssuerKeysUnavailable, msg, r.lastErr)
	}
	return r.keys, nil
}
