package extauthz

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost/reason"
)

// FuzzRequest feeds arbitrary reported headers, addresses and certificates
// to the reader: it never panics, keeps to its limits and fails only with
// its own two codes.
func FuzzRequest(f *testing.F) {
	f.Add("authorization", "Bearer x", "10.40.1.5", "", "/p?q=1")
	f.Add("provost-hop", "a,b", "::ffff:1.2.3.4", "-----BEGIN%20CERTIFICATE-----%0AAA%3D%3D%0A-----END%20CERTIFICATE-----%0A", "")
	f.Add("x-provost-workload", "spiffe://x", "fe80::1%eth0", "%zz", "/")
	f.Add("X-Forwarded-For", "1.1.1.1", "not an ip", "junk", "")
	f.Fuzz(func(t *testing.T, key, value, addr, cert, path string) {
		s := New(nil, nil, WithLimits(Limits{MaxHeaders: 8, MaxHeaderBytes: 4096}))
		hr := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: path, Headers: map[string]string{key: value, ":method": "GET"},
			HeaderMap: &corev3.HeaderMap{}}
		if len(key)%2 == 1 { // both encodings
			hr.HeaderMap.Headers = []*corev3.HeaderValue{{Key: key, RawValue: []byte(value)}, {Key: key, Value: value}}
		}
		cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Address: socket(addr, 1), Certificate: cert},
			Request: &authv3.AttributeContext_Request{Http: hr},
		}}
		var r reported
		err := s.request(cr, &r)
		if err != nil {
			if c := reason.Of(err); c != reason.ExtAuthzMalformed && c != reason.ExtAuthzTooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if len(key)+len(value)+len(path) > 4096 {
			t.Fatalf("accepted %d bytes over a 4096 limit", len(key)+len(value)+len(path))
		}
		if r.req.Peer.IsValid() && (r.req.Peer.Is4In6() || r.req.Peer.Zone() != "") {
			t.Errorf("peer %v not normalized", r.req.Peer)
		}
		if cert != "" && len(r.req.ClientCerts) == 0 {
			t.Error("a certificate was reported but none read")
		}
		for _, k := range r.sent {
			if !strings.HasPrefix(k, identityPrefix) {
				t.Errorf("%q listed as an identity header", k)
			}
		}
	})
}
