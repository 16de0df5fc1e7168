// Package hop signs and verifies hop attestations: the proof of the proxy
// chain a request passed on its way to Provost.
//
// Each approved proxy ("hop") appends a compact JWS to the Provost-Hop
// header. The attestation names the hop, is bound to the request (method,
// target and a digest of the credential) and links to the previous hop's
// signature, so a chain cannot be copied to another request, reordered, or
// have hops removed from its front or middle. Removing hops from its end
// leaves a consistent, shorter chain: callers compare the verified hop names
// with the binding's required chain using [MatchChain].
//
// The wire format is specified in docs/hop-attestation.md.
//
// A proxy signs:
//
//	s := &hop.Signer{Name: "edge", Key: key, Now: time.Now}
//	value, err := s.Sign(r.Header.Get(hop.Header), hop.Request{
//		Method:           r.Method,
//		Target:           r.RequestURI, // path and query as they will reach Provost
//		CredentialDigest: hop.CredentialDigest(rawCredential),
//	})
//	r.Header.Set(hop.Header, value)
//
// Provost verifies:
//
//	v := &hop.Verifier{Keys: keys, Now: time.Now}
//	got, err := v.Verify(r.Header.Values(hop.Header), req)
//	if err == nil && !hop.MatchChain(binding.Chain, got.Hops) { ... }
//
// Verification is a pure function of the header, the request, the configured
// keys and the injected clock. The package logs nothing and never sees a raw
// credential, only its digest.
package hop
