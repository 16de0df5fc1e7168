package credential

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/reason"
)

// checkPossession enforces the key binding of the token (RFC 9449, RFC
// 8705). A token bound to a key is never accepted as a bearer token, and a
// DPoP proof is never accepted for a token that is not bound to its key.
func (v *Verifier) checkPossession(ctx context.Context, scheme, token string, p Presented, res *Result) error {
	cnf := res.Metadata.Cnf
	if cnf != nil && cnf.X5TS256 != "" {
		if err := checkMTLS(cnf.X5TS256, p, res); err != nil {
			return err
		}
	}
	bound := cnf != nil && cnf.JKT != ""
	switch {
	case bound && scheme != "dpop":
		return reason.New(reason.DPoPBearerScheme, "the token is bound to a DPoP key but was presented with the Bearer scheme")
	case !bound && scheme == "dpop":
		return reason.New(reason.DPoPUnexpectedProof, "the DPoP scheme was used with a token that is not bound to a DPoP key")
	case !bound:
		return nil
	}
	if p.DPoP == "" {
		return reason.New(reason.DPoPProofMissing, "the token is bound to a DPoP key but no DPoP proof was presented")
	}
	if v.cfg.DPoP == nil {
		return reason.New(reason.DPoPProofMissing, "DPoP is not configured (set external_origins), so DPoP-bound tokens cannot be accepted")
	}
	proof, err := v.cfg.DPoP.Verify(ctx, dpop.Request{Proof: p.DPoP, Method: p.Method, Path: p.Target, AccessToken: token})
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(cnf.JKT)) != 1 {
		return reason.New(reason.DPoPKeyMismatch, "the DPoP proof is signed by another key than the one the token is bound to")
	}
	res.Possession.Method = "dpop"
	res.Possession.JKT = proof.JKT
	return nil
}

func checkMTLS(want string, p Presented, res *Result) error {
	if p.ClientCert == nil {
		return reason.New(reason.MTLSCertMissing, "the token is bound to a client certificate but none was presented")
	}
	sum := sha256.Sum256(p.ClientCert.Raw)
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return reason.New(reason.MTLSThumbprintFailed, "the client certificate is not the one the token is bound to")
	}
	res.Possession.Method = "mtls"
	res.Possession.X5TS256 = got
	return nil
}
