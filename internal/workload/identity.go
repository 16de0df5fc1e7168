package workload

import "time"

// Sources of a workload identity, as recorded in Identity.Source.
const (
	SourceMTLS       = "mtls"        // TLS client certificate seen directly
	SourceXFCC       = "xfcc"        // Envoy x-forwarded-client-cert from a trusted proxy
	SourceClientCert = "client-cert" // client certificate header from a trusted proxy
	SourceJWTSVID    = "jwt-svid"    // JWT-SVID presented in a header
)

// Identity is the verified workload identity signal.
type Identity struct {
	ID          string    // spiffe://trust-domain/path
	TrustDomain string    // trust domain name, without the scheme
	Source      string    // one of the Source constants
	NotAfter    time.Time // when the proof of identity stops being valid
}
