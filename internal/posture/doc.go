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
//	v := &posture.Verifier{Attestors: attestors, Leeway: 5 * time.Second, Now: time.Now}
//	p, err := v.Verify(token)
//	if err != nil {
//		// reason.Of(err) is one of the posture_* codes
//	}
//	history.Add(p.Class) // "<attestor>/<runner_type>/<os>"
//
// Verification is a pure function of the token, the configured attestors and
// the injected clock; the package does no I/O and logs nothing.
package posture
