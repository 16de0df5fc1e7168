package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/revocation"
)

const ssfTransmitter = `ssf:
  transmitter:
    issuer: https://a.provost.test
    key_file: ssf.key.pem
    key_id: a-1
    streams:
      - {id: b, endpoint: "http://127.0.0.1:1/v1/ssf/events", audience: https://b.provost.test, authorization_file: to-b.header}
`

func pkcs8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestSSFTransmitterOpens(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Config: ssfTransmitter})
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.Write("ssf.key.pem", pkcs8(t, k))
	w.Write("to-b.header", "Bearer s3cret\n")
	a := w.App("")
	if a.SSF.Transmitter == nil || a.SSF.Receiver != nil || !strings.Contains(string(a.SSF.JWKS), `"kid":"a-1"`) {
		t.Fatalf("%+v", a.SSF)
	}
	// A revocation SSF cannot carry is still made: Notify's error is
	// logged, never the revocation's.
	if _, err := a.Revocations.Add(context.Background(), revocation.Revocation{Kind: revocation.KindBinding, Value: "reports"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.RevocationCount(context.Background()); n != 1 {
		t.Fatalf("%d revocations, want 1", n)
	}
	// An offline App (provost check, bindings test) shares nothing.
	off, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), DataDir: t.TempDir(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if off.SSF.Transmitter != nil {
		t.Fatal("an offline App built a transmitter")
	}
}

func TestSSFBadFiles(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct{ name, key, header, want string }{
		{"rsa key", pkcs8(t, rsaKey), "Bearer x\n", "ssf.transmitter.key_file: the key must be ECDSA P-256 or Ed25519"},
		{"not pem", "hello", "Bearer x\n", "ssf.transmitter.key_file: no PEM PRIVATE KEY (PKCS #8) block"},
		{"empty header", pkcs8(t, ecKey), "\n", "ssf.transmitter.streams[0].authorization_file: must hold one non-empty line"},
		{"two lines", pkcs8(t, ecKey), "Bearer s3cret\nX: y\n", "ssf.transmitter.streams[0].authorization_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := provosttest.New(t, provosttest.Options{Config: ssfTransmitter})
			w.Write("ssf.key.pem", c.key)
			w.Write("to-b.header", c.header)
			_, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error repeats the header: %v", err)
			}
		})
	}
}
