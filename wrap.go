package provost

import "context"

// Checker judges one request: what every transport and the middleware
// depend on. An *Engine is one. Check returns a non-nil Decision; its error
// is non-nil only when the checker itself failed, and the Decision is then
// a denial. Transports call it through Judge, which enforces that.
type Checker interface {
	Check(ctx context.Context, r *Request) (*Decision, error)
}

// CheckFunc is a Checker as a function: the decision function of an
// Engine, as Use wraps it.
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
