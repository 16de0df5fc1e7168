package network

import (
	"reflect"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

func TestParseXFCC(t *testing.T) {
	const (
		hash1 = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"
		hash2 = "9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e"
	)
	tests := []struct {
		name string
		in   string
		want []XFCC
	}{
		// The three examples from Envoy's x-forwarded-client-cert documentation.
		{name: "envoy example 1: URI SAN only",
			in: `By=http://frontend.lyft.com;Hash=` + hash1 + `;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`,
			want: []XFCC{{By: "http://frontend.lyft.com", Hash: hash1, Subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client",
				URI: []string{"http://testclient.lyft.com"}}}},
		{name: "envoy example 2: two client certificates",
			in: `By=http://frontend.lyft.com;Hash=` + hash1 + `;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=` + hash2 + `;URI=http://frontend.lyft.com`,
			want: []XFCC{
				{By: "http://frontend.lyft.com", Hash: hash1, URI: []string{"http://testclient.lyft.com"}},
				{By: "http://backend.lyft.com", Hash: hash2, URI: []string{"http://frontend.lyft.com"}},
			}},
		{name: "envoy example 3: URI and DNS SANs",
			in: `By=http://frontend.lyft.com;Hash=` + hash1 + `;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
			want: []XFCC{{By: "http://frontend.lyft.com", Hash: hash1, Subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client",
				URI: []string{"http://testclient.lyft.com"}, DNS: []string{"lyft.com", "www.lyft.com"}}}},

		{name: "quoted values with commas, semicolons and equals",
			in: `By=spiffe://example.org/ingress;Subject="CN=runner,O=Example; Org=1";URI="spiffe://example.org/a,b",By=spiffe://example.org/mesh;URI=spiffe://example.org/ingress`,
			want: []XFCC{
				{By: "spiffe://example.org/ingress", Subject: "CN=runner,O=Example; Org=1", URI: []string{"spiffe://example.org/a,b"}},
				{By: "spiffe://example.org/mesh", URI: []string{"spiffe://example.org/ingress"}},
			}},
		{name: "escaped quotes; other backslashes kept",
			in:   `Subject="CN=say \"hi\",O=a\,b\\";Hash=ab`,
			want: []XFCC{{Subject: `CN=say "hi",O=a\,b\\`, Hash: "ab"}}},
		{name: "keys are case-insensitive, unknown keys ignored, OWS tolerated",
			in:   `by=spiffe://p ; HASH=ab;uRi=spiffe://c;Extra="x,y" , By=spiffe://q`,
			want: []XFCC{{By: "spiffe://p", Hash: "ab", URI: []string{"spiffe://c"}}, {By: "spiffe://q"}}},
		{name: "unquoted value may hold '='", in: `URI=http://x/?a=b`,
			want: []XFCC{{URI: []string{"http://x/?a=b"}}}},
		{name: "empty values", in: `By=;Subject=""`, want: []XFCC{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXFCC(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseXFCCErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code reason.Code
	}{
		{"empty", "", reason.XFCCMalformed},
		{"key without value", "By=a;Hash", reason.XFCCMalformed},
		{"missing key", "=x", reason.XFCCMalformed},
		{"unterminated quote", `By=a;Subject="CN=x`, reason.XFCCMalformed},
		{"unterminated after escape", `Subject="CN=x\"`, reason.XFCCMalformed},
		{"trailing backslash", `Subject="CN=x\`, reason.XFCCMalformed},
		{"text after quoted value", `Subject="CN=x"y;By=a`, reason.XFCCMalformed},
		{"quote inside unquoted value", `By=a"b`, reason.XFCCMalformed},
		{"empty element", "By=a,,By=b", reason.XFCCMalformed},
		{"trailing comma", "By=a,", reason.XFCCMalformed},
		{"repeated By", "By=a;By=b", reason.XFCCMalformed},
		{"repeated Hash any case", "Hash=a;hash=b", reason.XFCCMalformed},
		{"bad URL encoding in Cert", "Cert=%zz", reason.XFCCMalformed},
		{"bad URL encoding in Chain", `Chain="%4"`, reason.XFCCMalformed},
		{"space in key", "B y=a", reason.XFCCMalformed},
		{"too long", "By=" + strings.Repeat("a", MaxXFCCBytes), reason.ProxyHeaderTooLarge},
		{"too many elements", strings.Repeat("By=a,", MaxXFCCElements) + "By=a", reason.ProxyHeaderTooLarge},
		{"too many pairs", strings.Repeat("DNS=a;", MaxXFCCPairs) + "DNS=a", reason.XFCCMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXFCC(tt.in)
			wantCode(t, err, tt.code)
			if got != nil {
				t.Errorf("elements returned with an error: %v", got)
			}
		})
	}
}

func TestXFCCCertificate(t *testing.T) {
	pki := newTestPKI(t)
	leafPEM, chainPEM := pemOf(pki.leaf), pemOf(pki.leaf, pki.ca)
	header := `By=spiffe://example.org/ingress;Hash=ab;Cert="` + envoyEncode(leafPEM) +
		`";Chain="` + envoyEncode(chainPEM) + `";Subject="CN=x";URI=spiffe://example.org/ns/ci/sa/runner`
	if !strings.Contains(header, "-----BEGIN%20CERTIFICATE-----%0A") {
		t.Fatalf("test encoding is not Envoy's: %.80s", header)
	}
	els, err := ParseXFCC(header)
	if err != nil {
		t.Fatal(err)
	}
	if len(els) != 1 || els[0].Cert != leafPEM || els[0].Chain != chainPEM {
		t.Fatalf("Cert/Chain not URL-decoded: %+v", els)
	}
	cert, err := els[0].Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(pki.leaf) || cert.URIs[0].String() != "spiffe://example.org/ns/ci/sa/runner" {
		t.Fatalf("decoded certificate differs: %v", cert.Subject)
	}
	chain, err := els[0].ChainCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(pki.leaf) || !chain[1].Equal(pki.ca) {
		t.Fatalf("chain = %d certificates, not leaf+CA", len(chain))
	}

	// Fully percent-encoded (every byte) decodes the same.
	var all strings.Builder
	for i := 0; i < len(leafPEM); i++ {
		all.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[leafPEM[i]>>4])+string("0123456789abcdef"[leafPEM[i]&15])))
	}
	els, err = ParseXFCC("Cert=" + all.String())
	if err != nil {
		t.Fatal(err)
	}
	if cert, err := els[0].Certificate(); err != nil || !cert.Equal(pki.leaf) {
		t.Fatalf("fully encoded: %v", err)
	}
}

func TestXFCCCertificateErrors(t *testing.T) {
	pki := newTestPKI(t)
	leafPEM := pemOf(pki.leaf)
	tests := []struct {
		name string
		x    XFCC
	}{
		{"no cert", XFCC{By: "spiffe://p"}},
		{"not PEM", XFCC{Cert: "MIIB..."}},
		{"text before PEM", XFCC{Cert: "junk\n" + leafPEM}},
		{"text after PEM", XFCC{Cert: leafPEM + "junk"}},
		{"two certificates in Cert", XFCC{Cert: pemOf(pki.leaf, pki.ca)}},
		{"wrong block type", XFCC{Cert: strings.ReplaceAll(leafPEM, "CERTIFICATE", "PUBLIC KEY")}},
		{"truncated PEM", XFCC{Cert: leafPEM[:len(leafPEM)-30]}},
		{"corrupt DER", XFCC{Cert: strings.Replace(leafPEM, "MII", "MIJ", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.x.Certificate()
			wantCode(t, err, reason.XFCCMalformed)
			if c != nil {
				t.Error("certificate returned with an error")
			}
		})
	}
	if _, err := (XFCC{}).ChainCertificates(); err == nil {
		t.Error("ChainCertificates without Chain: no error")
	}
	if _, err := (XFCC{Chain: strings.Repeat(leafPEM, maxXFCCCerts+1)}).ChainCertificates(); err == nil {
		t.Error("ChainCertificates over the bound: no error")
	}
}
