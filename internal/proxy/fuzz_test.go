package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzUpstreamURL: for every request line net/http accepts, the target the
// proxy signs is the one written to the upstream and read back there, and
// an origin-form target is forwarded byte for byte.
func FuzzUpstreamURL(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "/a%2Fb?c=%41", "//x/y", "/caf\xc3\xa9", "*", "http://h/p?q", "/p?", "/p#f", "/%zz", "/a b"} {
		f.Add(s)
	}
	p := &Proxy{up: &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}}
	f.Fuzz(func(t *testing.T, target string) {
		in, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n")))
		if err != nil {
			return
		}
		u, ok := p.upstreamURL(in)
		if !ok {
			if !strings.HasPrefix(in.RequestURI, "//") {
				t.Fatalf("%q refused", in.RequestURI)
			}
			return // refused with 400, never forwarded
		}
		if u.Host != p.up.Host || u.Scheme != p.up.Scheme {
			t.Fatalf("%q: forwarded to %s://%s", target, u.Scheme, u.Host)
		}
		signed := u.RequestURI()
		if strings.HasPrefix(in.RequestURI, "/") && signed != in.RequestURI {
			t.Fatalf("origin-form %q forwarded as %q", in.RequestURI, signed)
		}
		var buf bytes.Buffer
		out := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if err := out.Write(&buf); err != nil {
			return // the client refuses to send it: nothing reaches the upstream
		}
		got, err := http.ReadRequest(bufio.NewReader(&buf))
		if err != nil {
			t.Fatalf("%q: upstream cannot read the forwarded request: %v\n%s", target, err, buf.String())
		}
		if got.RequestURI != signed {
			t.Fatalf("%q: signed %q, upstream received %q", target, signed, got.RequestURI)
		}
	})
}
