// Package posture verifies posture attestations: signed, fresh JWTs in which
// a configured attestor states facts about the host or runtime a request
// came from (host id, image digest, runner type, operating system).
//
// A token is accepted only when its "iss" names a configured attestor, its
// "kid" selects a key in that attestor's key set, its signature verifies
// with an algorithm the attestor allows, its "typ" is "posture+jwt", and its
// "iat" is within the attestor's MaxAge of now. "exp" and "nbf", when
// present, are enforced. Keys carried in the token header are never used.
//
// An attestation is bound to its request: its "aud" must name one of the
// Binding's audiences (Provost's external origins and issuer audiences) and
// its "cred" must be the digest of the credential it is presented with
// (hop.CredentialDigest), so a fresh attestation cannot be carried to another
// credential or another deployment. Attestations without these claims are
// refused (posture_unbound).
//
//	v := &posture.Verifier{Attestors: attestors, Leeway: 5 * time.Second, Now: time.Now}
//	p, err := v.Verify(token, posture.Binding{
//		Audiences:        audiences,
//		CredentialDigest: hop.CredentialDigest(rawCredential),
//	})
//	if err != nil {
//		// reason.Of(err) is one of the posture_* codes
//	}
//	history.Add(p.Class) // "<attestor>/<runner_type>/<os>"
//
// The format is specified in docs/posture-attestation.md. Verification is a
// pure function of the token, the binding, the configured attestors and the
// injected clock; the package does no I/O and logs nothing.
package posture
