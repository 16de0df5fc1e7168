package provost

import (
	"context"
	"sort"
	"time"
)

// CheckFunc is the decision function of an Engine: what Check calls.
type CheckFunc func(ctx context.Context, r *Request) (*Decision, error)

// Check makes a CheckFunc usable where a Check method is expected.
func (f CheckFunc) Check(ctx context.Context, r *Request) (*Decision, error) { return f(ctx, r) }

// Use wraps the Engine's decision function, for metrics and tracing: every
// transport calls Check, so every decision passes through w. Call Use
// before the Engine serves requests; later calls wrap what is there.
func (e *Engine) Use(w func(next CheckFunc) CheckFunc) {
	e.wrapMu.Lock()
	defer e.wrapMu.Unlock()
	next := e.decide
	if f := e.wrapped.Load(); f != nil {
		next = *f
	}
	f := w(next)
	e.wrapped.Store(&f)
}

// JWKSStat is one issuer's remote key source counters.
type JWKSStat struct {
	Issuer             string
	Fetches            uint64
	Failures           uint64
	LastSuccess        time.Time
	KeysDropped        uint64
	PrivateKeysDropped uint64
}

// JWKSStats returns the counters of every issuer whose keys come from a
// JWKS URL or OIDC discovery, sorted by issuer. They restart on reload.
func (e *Engine) JWKSStats() []JWKSStat {
	st := e.state.Load()
	out := make([]JWKSStat, 0, len(st.remotes))
	for iss, r := range st.remotes {
		s := r.Stats()
		out = append(out, JWKSStat{Issuer: iss, Fetches: s.Fetches, Failures: s.Failures, LastSuccess: s.LastSuccess,
			KeysDropped: s.KeysDropped, PrivateKeysDropped: s.PrivateKeysDropped})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Issuer < out[j].Issuer })
	return out
}

// OriginCacheStats counts origin-history lookups answered from the
// in-process cache (hits) and from the store (misses) since start.
func (e *Engine) OriginCacheStats() (hits, misses uint64) { return e.history.CacheStats() }
