package network

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

func TestParseClientCert(t *testing.T) {
	pki := newTestPKI(t)
	b64 := base64.StdEncoding.EncodeToString(pki.leaf.Raw)
	unpadded := base64.RawStdEncoding.EncodeToString(pki.leaf.Raw)
	tests := []struct {
		name string
		in   string
		code reason.Code // OK for success
	}{
		{"round trip", ":" + b64 + ":", reason.OK},
		{"surrounding spaces", " \t:" + b64 + ": ", reason.OK},
		{"padding left out", ":" + unpadded + ":", reason.OK},
		{"missing both colons", b64, reason.ClientCertMalformed},
		{"missing closing colon", ":" + b64, reason.ClientCertMalformed},
		{"missing opening colon", b64 + ":", reason.ClientCertMalformed},
		{"bad base64", ":" + b64[:10] + "!" + b64[11:] + ":", reason.ClientCertMalformed},
		{"base64url alphabet", ":" + base64.URLEncoding.EncodeToString(pki.leaf.Raw) + ":", reason.ClientCertMalformed},
		{"PEM instead of DER", ":" + base64.StdEncoding.EncodeToString([]byte(pemOf(pki.leaf))) + ":", reason.ClientCertMalformed},
		{"not a certificate", ":aGVsbG8gd29ybGQ=:", reason.ClientCertMalformed},
		{"empty byte sequence", "::", reason.ClientCertMalformed},
		{"parameters", ":" + b64 + ":;a=1", reason.ClientCertMalformed},
		{"a list", ":" + b64 + ":, :" + b64 + ":", reason.ClientCertMalformed},
		{"empty", "", reason.ClientCertMalformed},
		{"too long", ":" + strings.Repeat("A", MaxClientCertBytes) + ":", reason.ProxyHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseClientCert(tt.in)
			if tt.code != reason.OK {
				wantCode(t, err, tt.code)
				if c != nil {
					t.Error("certificate returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.Equal(pki.leaf) {
				t.Fatal("round trip gave a different certificate")
			}
		})
	}
}

func TestParseClientCertChain(t *testing.T) {
	pki := newTestPKI(t)
	ca := ":" + base64.StdEncoding.EncodeToString(pki.ca.Raw) + ":"
	leaf := ":" + base64.StdEncoding.EncodeToString(pki.leaf.Raw) + ":"
	got, err := ParseClientCertChain(ca + ", " + leaf + "," + ca)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].Equal(pki.ca) || !got[1].Equal(pki.leaf) || !got[2].Equal(pki.ca) {
		t.Fatalf("chain has %d certificates or wrong order", len(got))
	}

	tests := []struct {
		name string
		in   string
		code reason.Code
	}{
		{"empty", " ", reason.ClientCertMalformed},
		{"empty member", ca + ",," + ca, reason.ClientCertMalformed},
		{"trailing comma", ca + ",", reason.ClientCertMalformed},
		{"bad member", ca + ", :!!:", reason.ClientCertMalformed},
		{"token member", ca + ", abc", reason.ClientCertMalformed},
		{"too many", strings.Repeat(ca+",", MaxClientCertChainLen) + ca, reason.ProxyHeaderTooLarge},
		{"too long", strings.Repeat(" ", MaxClientCertChainBytes) + ca, reason.ProxyHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseClientCertChain(tt.in)
			wantCode(t, err, tt.code)
			if certs != nil {
				t.Error("certificates returned with an error")
			}
		})
	}
}
