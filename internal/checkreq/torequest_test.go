package checkreq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
)

// selfSigned returns a PEM certificate.
func selfSigned(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), c
}

func TestToRequest(t *testing.T) {
	certPEM, cert := selfSigned(t)
	doc := map[string]any{
		"at": "2026-06-01T12:00:00Z", "method": "POST", "target": "/v1/deploy?x=1",
		"authorization": "DPoP t", "dpop": "p", "peer": "[::ffff:10.0.0.7]:443",
		"x_forwarded_for": []string{"10.1.1.1"}, "forwarded": []string{"for=10.2.2.2"},
		"client_cert": certPEM, "xfcc": "By=spiffe://a", "client_cert_header": ":MII=:",
		"client_cert_chain_header": ":MIJ=:", "jwt_svid": "j", "hops": []string{"h1", "h2"}, "posture": "pp",
	}
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ToRequest()
	if err != nil {
		t.Fatal(err)
	}
	want := &provost.Request{
		Method: "POST", Target: "/v1/deploy?x=1", Authorization: "DPoP t", DPoP: "p",
		Peer: netip.MustParseAddr("10.0.0.7"), XForwardedFor: []string{"10.1.1.1"}, Forwarded: []string{"for=10.2.2.2"},
		ClientCerts: []*x509.Certificate{cert}, XFCC: "By=spiffe://a", ClientCertHeader: ":MII=:",
		ClientCertChainHeader: ":MIJ=:", JWTSVID: "j", Hops: []string{"h1", "h2"}, Posture: "pp",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToRequest:\n got %+v\nwant %+v", got, want)
	}
	// Every field of the document but At reaches the request: a field
	// added to one and not the other fails here.
	exported := 0
	for f := range reflect.TypeOf(Request{}).Fields() {
		if f.IsExported() {
			exported++
		}
	}
	if n, m := exported-1, len(doc)-1; n != m {
		t.Errorf("the document has %d fields besides at, the test sets %d", n, m)
	}
	// A decoded document is converted from what Decode parsed, not parsed
	// again: the certificate is the same value.
	again, err := r.ToRequest()
	if err != nil || len(again.ClientCerts) != 1 || again.ClientCerts[0] != got.ClientCerts[0] {
		t.Errorf("ToRequest parsed the certificate again (%v)", err)
	}
	if got, err := (&Request{Method: "GET", Target: "/"}).ToRequest(); err != nil || got.Peer.IsValid() || got.ClientCerts != nil {
		t.Errorf("empty peer and certificate: %+v %v", got, err)
	}
}

// A document built in code, not decoded, is still checked.
func TestToRequestUnchecked(t *testing.T) {
	for _, c := range []struct {
		r     Request
		field string
	}{
		{Request{Method: "GET", Target: "/", Peer: "build-host"}, "peer"},
		{Request{Method: "GET", Target: "/", ClientCert: "not PEM"}, "client_cert"},
	} {
		_, err := c.r.ToRequest()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: err %v, want a FieldError on %s", c.r, err, c.field)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing file: %v", err)
	}
}
