package transport

import "context"

// Name is a transport's name: one of the constants below, so a metric
// label made from it stays bounded.
type Name string

// The transports.
const (
	CheckAPI    Name = "check_api"    // POST /v1/check
	ForwardAuth Name = "forward_auth" // /v1/forward-auth
	ExtAuthz    Name = "ext_authz"    // Envoy's gRPC Authorization/Check
	Proxy       Name = "proxy"        // provost proxy
	// Other is any caller that did not name itself: an embedder, or
	// provost check.
	Other Name = "other"
)

// All lists every Name, Other last.
func All() []Name { return []Name{CheckAPI, ForwardAuth, ExtAuthz, Proxy, Other} }

type key struct{}

// With returns ctx marked as judged through n.
func With(ctx context.Context, n Name) context.Context {
	return context.WithValue(ctx, key{}, n)
}

// From returns the transport ctx was marked with, or Other.
func From(ctx context.Context) Name {
	if n, ok := ctx.Value(key{}).(Name); ok && n != "" {
		return n
	}
	return Other
}
