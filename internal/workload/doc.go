// Package workload verifies the workload identity signal: which workload, named
// by a SPIFFE ID, sent a request.
//
// A workload proves its identity in one of three ways:
//
//   - an X.509-SVID presented as the TLS client certificate (source "mtls");
//   - an X.509-SVID relayed by a trusted proxy, for example in Envoy's
//     x-forwarded-client-cert header (source "xfcc" or "client-cert"); the
//     caller decides whether the proxy is trusted, this package only verifies
//     the certificate chain it is handed;
//   - a JWT-SVID presented in a header (source "jwt-svid").
//
// Both kinds are verified against SPIFFE trust bundles, one per trust domain,
// loaded with LoadBundles or built with NewBundles:
//
//	bundles, err := workload.LoadBundles([]workload.BundleConfig{{
//		TrustDomain:   "prod.example",
//		X509CAFile:    "/etc/provost/prod-ca.pem",
//		JWTBundleFile: "/etc/provost/prod-bundle.json",
//	}})
//	id, err := bundles.VerifyX509(r.TLS.PeerCertificates, now(), workload.SourceMTLS)
//	if workload.MatchID("spiffe://prod.example/ns/ci/*", id.ID) { ... }
//
// The bundles of some trust domains may instead come live from the SPIFFE
// Workload API (a SPIRE agent): StartAPI follows its X.509 and JWT bundles,
// and Bundles.WithSource asks such a source on every verification, so a
// rotated CA applies without a restart. The source keeps the last bundles
// received while the Workload API is unreachable, for at most MaxStale.
//
// Verification is a pure function of the presented chain or token, the bundles
// and the time passed in; Bundles caches successful verifications (bounded,
// see CacheConfig) without changing any answer. Only certificates from the bundle of the SVID's own
// trust domain are trusted as roots; certificates presented with the chain are
// only ever intermediates. Every rejection is a *reason.Error with its own
// code (reason.Workload...), so one rule broken gives one code.
//
// The subpackage workloadtest issues real test SVIDs for other packages' tests.
package workload
