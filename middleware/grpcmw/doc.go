// Package grpcmw judges every call of a Go gRPC service with an embedded
// Provost engine before the service's own handler runs.
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
//	srv := grpc.NewServer(
//		grpc.Creds(credentials.NewTLS(tlsConfig)), // client certificates give the workload identity
//		grpc.UnaryInterceptor(grpcmw.UnaryServerInterceptor(eng)),
//		grpc.StreamInterceptor(grpcmw.StreamServerInterceptor(eng)),
//		grpc.MaxHeaderListSize(64<<10),
//	)
//
// For each call the interceptor builds the request value with FromIncoming:
// Method "POST", Target the full method name ("/pkg.Service/Method"), the
// peer the connection's remote address (the network signal), the client
// certificates those of the TLS connection (credentials.TLSInfo), and from
// the incoming metadata the credential ("authorization"), the DPoP proof
// ("dpop"), forwarding headers ("x-forwarded-for", "forwarded",
// "x-forwarded-client-cert", "client-cert", "client-cert-chain"; believed
// only from configured trusted proxies), hop attestations ("provost-hop"),
// a posture attestation ("provost-posture") and a JWT-SVID
// ("provost-workload-jwt"). It then asks the provost.Checker through
// provost.Judge and:
//
//   - on allow, runs the handler with the decision in its context
//     (DecisionFrom) and every client-typed x-provost-* metadata key removed;
//   - otherwise returns a status error without running the handler:
//     codes.Unauthenticated where an HTTP transport answers 401 (a rejected
//     credential, a step-up), codes.PermissionDenied where it answers 403
//     (a provenance denial). The message is the decision and its reason
//     codes ("provost: deny: network_not_approved"); the trailer carries
//     what an HTTP transport puts in headers: "www-authenticate" (and
//     "dpop-nonce" when the engine asks for a nonce) on an Unauthenticated
//     status, "x-provost-decision" and "x-provost-reasons" always.
//
// It fails closed: when the engine reports an error of its own, the call is
// refused whatever the decision says.
//
// # DPoP over gRPC
//
// A DPoP proof (RFC 9449) names the method and URL of the request. For a
// gRPC call the method is POST and the URL is the origin the client dialed
// followed by the full method name, for example
// "https://orders.internal:8443/acme.orders.v1.Orders/Get". Provost compares
// it against the configuration's external_origins, never against
// ":authority", so external_origins must list the gRPC origin clients use.
//
// Metadata sizes are bounded by the server (grpc.MaxHeaderListSize); the
// engine bounds each credential.
package grpcmw
