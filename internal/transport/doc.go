// Package transport names the transport a request reached Provost
// through, so a decision can be counted by it (provost_decisions_total's
// transport label). Each transport marks the context it judges with:
//
//	ctx = transport.With(ctx, transport.CheckAPI)
//	d, err := provost.Judge(ctx, checker, req)
//
// and whatever observes the decision reads it back with From.
package transport
