// Package middleware judges every request of a Go HTTP service with an
// embedded Provost engine before the service's own handler sees it.
//
//	pol, err := provost.LoadPolicy(ctx, "provost.yaml")
//	if err != nil {
//		return err
//	}
//	dir, err := stores.OpenDir(ctx, "provost-data", stores.Options{})
//	if err != nil {
//		return err
//	}
//	defer dir.Close()
//	eng, err := provost.New(ctx, pol, dir.Stores(), provost.Options{Secret: dir.Secret()})
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /v1/deploy", func(w http.ResponseWriter, r *http.Request) {
//		d, _ := middleware.DecisionFrom(r.Context())
//		fmt.Fprintf(w, "hello %s from %s\n", d.Credential.Metadata.Subject, d.Signals.Network.Client)
//	})
//	srv := &http.Server{Addr: ":8443", Handler: middleware.New(eng)(mux), ReadHeaderTimeout: 10 * time.Second}
//
// For each request the middleware builds the request value with
// provost.FromHTTP (so the peer is the connection's remote address and the
// client certificates are the TLS connection's), asks the provost.Checker
// (an *Engine) through provost.Judge, and:
//
//   - on allow, calls the next handler with the decision in the request
//     context (DecisionFrom) and every client-typed X-Provost-* header
//     removed, so the handler never mistakes a header a client typed for
//     one Provost set;
//   - otherwise answers as every Provost HTTP transport does: 401 with a
//     WWW-Authenticate challenge (and DPoP-Nonce when the engine asks for a
//     nonce) for a rejected credential or a step-up, 403 for a provenance
//     denial, with X-Provost-Decision and X-Provost-Reasons headers and a
//     small JSON body {"decision": "deny", "reasons": ["..."]}. The next
//     handler is not called.
//
// It fails closed: when the engine reports an error of its own, the request
// is refused whatever the decision says.
//
// DPoP proofs name the URL the client called (htu). Provost compares it
// against the configuration's external_origins plus the request target, never
// against the Host header: list the origin clients use to reach the service
// in external_origins, and use WithTarget when a gateway rewrites the path.
//
// The middleware reads no body. Bound header sizes with the server's own
// limits (http.Server.MaxHeaderBytes); the engine bounds each credential.
package middleware
