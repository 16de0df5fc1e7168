// Package proxy is provost proxy: a reverse proxy in front of an upstream
// that judges every request with the Provost engine before forwarding it.
//
// For each request the proxy builds the engine's request value with
// [provost.FromHTTP] (the TLS client certificates of its own TLS
// termination are the workload identity), asks the [provost.Checker] and
//
//   - on allow, forwards the request to the upstream with the identity
//     headers (X-Provost-*; any the client typed are removed first),
//     X-Forwarded-For appended with the client address, the client
//     certificate as RFC 9440 Client-Cert (any forwarded-certificate
//     header the client typed is removed), and, when the proxy is an
//     approved hop, its own signed hop attestation appended to
//     Provost-Hop;
//   - otherwise answers itself, with the status and headers of package
//     answer (401 with a challenge, or 403) and a short body, and never
//     calls the upstream.
//
// The credential reaches the upstream unchanged, since the upstream may
// need it; it is never logged (the log names it by fingerprint).
//
// Build it with [New], serve it with [NewServer]:
//
//	p, err := proxy.New(eng, settings, logger) // settings from config.ProxyConfig
//	srv, err := proxy.NewServer(settings, p, logger)
//	err = srv.Serve(listener)
package proxy
