// Package server is the HTTP server of `provost serve`: a thin adapter
// that turns HTTP requests into provost.Request values, asks the Engine,
// and renders its decisions.
//
// Routes:
//
//   - POST /v1/check: the check API. The body is a checkreq document (the
//     request to judge, described by the caller); the answer is the whole
//     decision as JSON. Malformed input gets an RFC 9457 problem naming
//     the field.
//   - /v1/forward-auth (any method, and any path below it): the
//     forward-auth endpoint for nginx auth_request, Traefik forwardAuth and
//     Envoy's HTTP ext_authz. The original request is read from the
//     headers the proxy sends; the answer is 200, 401 or 403 with the
//     headers of package answer.
//   - GET /healthz (the process is alive) and GET /readyz (the engine is
//     loaded and the server is not shutting down).
//   - GET /v1/log/...: the evidence log, its proofs and receipts (log.go).
//   - the Shared Signals endpoints, with an ssf section (Deps.SSFEvents).
//
// Routes lists them all (routes.go, the table requests are dispatched
// from); docs/openapi.yaml describes each, and internal/doccheck holds the
// two to the same list.
//
// Every answer carries an X-Request-Id (the caller's when it is a short
// token, else a fresh one) and every log line names it. Logs never hold a
// raw credential: fingerprints, decisions and reason codes only.
//
// Usage:
//
//	srv := server.New(eng, cfg.ServeConfig(), logger)
//	ln, _ := net.Listen("tcp", "127.0.0.1:8080")
//	err := srv.Serve(ctx, ln) // returns after a graceful shutdown once ctx is done
package server
