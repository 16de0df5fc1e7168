// Package extauthz is Provost's Envoy external authorization server: the
// gRPC service envoy.service.auth.v3.Authorization/Check. Like every
// transport it is a thin adapter: it builds the one provost.Request from
// what Envoy reports, asks the provost.Checker (through provost.Judge), and renders the decision the way
// internal/answer renders it for HTTP.
//
// # Whom it believes
//
// The gRPC caller is Envoy, and Envoy is trusted to report the request
// honestly: that is why only Envoy may reach this listener (loopback, or
// Envoy's client certificate, see config.GRPC). From a CheckRequest:
//
//   - attributes.source.address is the downstream peer as Envoy's own TCP
//     connection saw it. It becomes Request.Peer, exactly as RemoteAddr
//     does for a request that reached Provost directly. The
//     x-forwarded-for, forwarded, x-forwarded-client-cert, client-cert and
//     client-cert-chain headers are passed on as received, and the engine
//     believes them only when that peer is itself in trust.proxies. Envoy
//     is not the peer and need not be listed in trust.proxies; a client
//     that types those headers at Envoy gains nothing.
//   - attributes.source.certificate (URL-encoded PEM, sent when the filter
//     sets include_peer_certificate: true) is the downstream TLS client
//     certificate; Envoy's handshake proved the client holds its key. It
//     becomes Request.ClientCerts, and the engine verifies it against the
//     SPIFFE trust bundles. Envoy sends the leaf only, so an SVID issued
//     by an intermediate CA needs the intermediate in the bundle.
//   - attributes.source.principal is not used: a name without the
//     certificate cannot be verified against Provost's bundles. Without
//     include_peer_certificate there is no workload identity from mTLS
//     (a JWT-SVID or a trusted proxy's XFCC still works).
//   - attributes.request.http gives the method, the path with its query
//     (the request target, as DPoP and hop attestations sign it) and the
//     headers (lower-case keys; repeated headers comma-joined by Envoy, or
//     listed one by one in header_map with encode_raw_headers).
//
// # The answer
//
// An allow is an OK CheckResponse whose OkHttpResponse sets the
// X-Provost-* identity headers for the upstream and removes any other
// X-Provost-* header the client sent. Anything else is a
// DeniedHttpResponse with the status, WWW-Authenticate and DPoP-Nonce of
// internal/answer (401 with gRPC code UNAUTHENTICATED, 403 with
// PERMISSION_DENIED). A request Provost cannot read (oversize headers, a
// malformed certificate) is denied with 431 or 400 (INVALID_ARGUMENT)
// without a decision. The server never answers OK unless the engine
// allowed: an engine failure or a panic is a denial. The decision, its
// reason codes, the fingerprint, workload and binding are also returned as
// dynamic metadata (namespace envoy.filters.http.ext_authz) for access
// logs.
package extauthz
