package provost

import (
	"context"
	"crypto/x509"
	"log/slog"

	"github.com/provost-dev/provost/internal/credential"
)

// Request is one request to judge, as a transport observed it. Every
// transport fills the same value.
type Request struct {
	// Method and Target (path and query as received) of the request.
	Method string
	Target string
	// Authorization is the Authorization header value.
	Authorization string
	// DPoP is the DPoP proof header value.
	DPoP string
	// ClientCert is the verified TLS client certificate, if any.
	ClientCert *x509.Certificate
}

// CredentialResult is the answer to "was the credential accepted?".
type CredentialResult = credential.Result

// Credential verdicts.
const (
	Accepted = credential.Accepted
	Rejected = credential.Rejected
)

// Decision is the Engine's answer for one request.
type Decision struct {
	Credential CredentialResult `json:"credential"`
}

// Check judges one request. The error is non-nil only when one of Provost's
// own parts failed; the Decision is then a rejection (fail closed) and is
// still complete.
func (e *Engine) Check(ctx context.Context, r *Request) (*Decision, error) {
	res, err := e.verifier.Verify(ctx, credential.Presented{
		Authorization: r.Authorization,
		DPoP:          r.DPoP,
		Method:        r.Method,
		Target:        r.Target,
		ClientCert:    r.ClientCert,
	})
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "credential check failed closed",
			slog.String("fingerprint", res.Fingerprint), slog.String("reason", string(res.Reason)), slog.Any("error", err))
	}
	return &Decision{Credential: res}, err
}
