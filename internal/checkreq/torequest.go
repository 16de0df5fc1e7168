package checkreq

import (
	"os"

	"github.com/provost-dev/provost"
)

// ToRequest returns the engine's request value for r. It is the one place a
// request document becomes a provost.Request, for `provost check`, the policy
// tests and the HTTP check API alike.
//
// The error is a *FieldError when ClientCert or Peer does not parse; Decode
// has checked both, so a decoded document always converts. At is not carried
// over: the caller pins its clock to it, or refuses it.
func (r *Request) ToRequest() (*provost.Request, error) {
	p := r.parsed
	if p == nil {
		certs, err := r.Certificates()
		if err != nil {
			return nil, err
		}
		peer, err := r.PeerAddr()
		if err != nil {
			return nil, err
		}
		p = &parsedFields{certs: certs, peer: peer}
	}
	certs, peer := p.certs, p.peer
	return &provost.Request{
		Method: r.Method, Target: r.Target, Authorization: r.Authorization, DPoP: r.DPoP,
		Peer: peer, XForwardedFor: r.XForwardedFor, Forwarded: r.Forwarded,
		ClientCerts: certs, XFCC: r.XFCC, ClientCertHeader: r.ClientCertHeader,
		ClientCertChainHeader: r.ClientCertChainHeader, JWTSVID: r.JWTSVID,
		Hops: r.Hops, Posture: r.Posture,
	}, nil
}

// ReadFile opens the request document at path and decodes it as Decode
// does (strict, at most MaxBytes).
func ReadFile(path string) (*Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}
