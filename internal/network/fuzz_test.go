package network

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

func FuzzResolve(f *testing.F) {
	f.Add("198.51.100.7, 10.0.0.2", "", byte(0), byte(0))
	f.Add("garbage, 10.0.0.2", `for="[2001:db8::1]:4711", for=10.0.0.2`, byte(1), byte(0))
	f.Add("unknown", `for=_hidden;proto=https`, byte(2), byte(2))
	f.Add("[2001:db8::7]:443,::ffff:10.0.0.9", `for="198.51.100.66, for=203.0.113.5`, byte(3), byte(1))
	f.Add("", `for="\"[::1]\"";for=x`, byte(0), byte(2))
	peers := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:10.0.0.1"),
		netip.MustParseAddr("2001:db8:ffff::1"),
		netip.MustParseAddr("203.0.113.5"),
	}
	trusted := testTrusted(f)
	f.Fuzz(func(t *testing.T, xff, fwd string, peerSel, mode byte) {
		peer := peers[int(peerSel)%len(peers)]
		// A '\n' separates header lines.
		p, err := ResolveUsing(Header(mode%3), peer, strings.Split(xff, "\n"), strings.Split(fwd, "\n"), trusted)
		if err != nil {
			return
		}
		if !trusted.Contains(peer) {
			if p.Client != peer.Unmap() || p.FromHeader || len(p.Hops) != 0 {
				t.Fatalf("untrusted peer's headers believed: %+v", p)
			}
			return
		}
		if p.Stop == StopObscured {
			if p.Client.IsValid() || p.Origin != "" {
				t.Fatalf("obscured walk has a client: %+v", p)
			}
		} else if !p.Client.IsValid() || p.Client.Is4In6() || p.Origin == "" {
			t.Fatalf("invalid client: %+v", p)
		}
		if len(p.Hops) > 0 && p.Hops[0] != p.Peer {
			t.Fatalf("first hop %v is not the peer %v", p.Hops[0], p.Peer)
		}
		for _, h := range p.Hops {
			if !trusted.Contains(h) {
				t.Fatalf("untrusted hop %v: %+v", h, p)
			}
		}
		if p.FromHeader != (p.Client != p.Peer || len(p.Hops) > 0) && p.Stop != StopObscured {
			t.Fatalf("FromHeader inconsistent: %+v", p)
		}
	})
}

func FuzzParseXFCC(f *testing.F) {
	pki := newTestPKI(f)
	f.Add(`By=http://frontend.lyft.com;Hash=468ed33b;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`)
	f.Add(`By=a;URI=b,By=c;DNS=d;DNS=e`)
	f.Add(`Subject="CN=say \"hi\",O=a\,b\\";Hash=ab`)
	f.Add(`By=spiffe://p;Cert="` + envoyEncode(pemOf(pki.leaf)) + `";Chain="` + envoyEncode(pemOf(pki.leaf, pki.ca)) + `"`)
	f.Fuzz(func(t *testing.T, v string) {
		els, err := ParseXFCC(v)
		if err != nil {
			if els != nil {
				t.Fatal("elements with an error")
			}
			return
		}
		if len(els) == 0 || len(els) > MaxXFCCElements {
			t.Fatalf("%d elements", len(els))
		}
		for _, e := range els {
			if e.Cert != "" {
				_, _ = e.Certificate()
			}
			if e.Chain != "" {
				_, _ = e.ChainCertificates()
			}
		}
	})
}

func FuzzParseClientCert(f *testing.F) {
	pki := newTestPKI(f)
	one := ":" + base64.StdEncoding.EncodeToString(pki.leaf.Raw) + ":"
	f.Add(one)
	f.Add(one + ", :" + base64.StdEncoding.EncodeToString(pki.ca.Raw) + ":")
	f.Add(":aGVsbG8=:")
	f.Add("::")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseClientCert(v)
		if (c == nil) == (err == nil) {
			t.Fatalf("cert %v with error %v", c != nil, err)
		}
		certs, err := ParseClientCertChain(v)
		if err == nil && (len(certs) == 0 || len(certs) > MaxClientCertChainLen) {
			t.Fatalf("%d certificates without error", len(certs))
		}
	})
}
