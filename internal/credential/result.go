package credential

import (
	"errors"

	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// The credential's result types are defined in the public package verdict,
// so that embedders can name what a Decision carries.
type (
	Verdict      = verdict.CredentialVerdict
	Kind         = verdict.CredentialKind
	Result       = verdict.Credential
	Metadata     = verdict.Metadata
	Actor        = verdict.Actor
	Confirmation = verdict.Confirmation
	Possession   = verdict.Possession
)

// The two credential verdicts, and the credential kinds.
const (
	Accepted   = verdict.Accepted
	Rejected   = verdict.Rejected
	KindJWT    = verdict.KindJWT
	KindAPIKey = verdict.KindAPIKey
)

func reject(r *Result, err error) Result {
	r.Verdict = Rejected
	r.Reason = reason.Of(err)
	r.Message = message(err)
	return *r
}

// message is the sentence safe to show: the *reason.Error's own message, or a
// generic one for an internal failure (its detail is for logs, not answers).
func message(err error) string {
	var re *reason.Error
	if errors.As(err, &re) {
		return re.Msg
	}
	return "the credential could not be verified"
}
