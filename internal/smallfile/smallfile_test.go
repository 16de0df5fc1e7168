package smallfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCertPool(t *testing.T) {
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if pool, err := CertPool(good); err != nil || pool == nil {
		t.Fatalf("good file: %v", err)
	}
	for name, c := range map[string]struct {
		path, want string
	}{
		"missing": {filepath.Join(dir, "none.pem"), "none.pem"},
		"not PEM": {write("junk.pem", []byte("hello")), "junk.pem holds no PEM certificate"},
		"too big": {write("big.pem", make([]byte, DefaultLimit+1)), "larger than"},
	} {
		if _, err := CertPool(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	const limit = 16
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("a"), n), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name    string
		path    string
		wantLen int    // bytes read when there is no error
		wantErr string // substring of the error; "" for none
		is      error  // an error the result must match with errors.Is
		tooBig  bool   // the error is a *TooLargeError
	}{
		{name: "empty", path: write("empty", 0)},
		{name: "under the limit", path: write("under", limit-1), wantLen: limit - 1},
		{name: "at the limit", path: write("at", limit), wantLen: limit},
		{name: "over the limit", path: write("over", limit+1), wantErr: filepath.Join(dir, "over") + ": larger than 16 bytes", tooBig: true},
		{name: "far over the limit", path: write("far", 10*limit), wantErr: filepath.Join(dir, "far") + ": larger than 16 bytes", tooBig: true},
		{name: "missing", path: filepath.Join(dir, "none"), wantErr: filepath.Join(dir, "none"), is: fs.ErrNotExist},
		{name: "directory", path: dir, wantErr: dir},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := Read(c.path, limit)
			if c.wantErr == "" {
				if err != nil || len(data) != c.wantLen {
					t.Fatalf("got %d bytes, err %v; want %d bytes", len(data), err, c.wantLen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, c.wantErr)
			}
			if data != nil {
				t.Errorf("got %d bytes with the error", len(data))
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("err %v is not %v", err, c.is)
			}
			var tl *TooLargeError
			if got := errors.As(err, &tl); got != c.tooBig {
				t.Errorf("err %v: *TooLargeError %v, want %v", err, got, c.tooBig)
			}
		})
	}
}
