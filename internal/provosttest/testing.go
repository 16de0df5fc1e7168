package provosttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/fingerprint"
)

// Clock is a clock a test moves by hand. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// T is a world made for one test: in t.TempDir(), with a Clock the test
// moves (credentials are minted by it, and Provost opened by App runs on
// it). Its methods fail the test instead of returning errors.
type T struct {
	*World
	Clock *Clock
	t     testing.TB
}

// New builds a world for t.
func New(t testing.TB, o Options) *T {
	t.Helper()
	w, err := Build(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClock(time.Now().UTC().Truncate(time.Second))
	w.Now = c.Now
	return &T{World: w, Clock: c, t: t}
}

// App opens Provost over the world as `provost serve` does: the embedded
// stores in dataDir (relative to the world's directory; "" is the
// configured data_dir), on the world's clock. dataDir directories other
// than the configured one get a copy of its server secret, so every App of
// a world names credentials alike. The App closes when the test ends.
func (w *T) App(dataDir string) *app.App {
	w.t.Helper()
	dir := ""
	if dataDir != "" {
		dir = filepath.Join(w.Dir, dataDir)
		w.shareSecret(dir)
	}
	a, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), DataDir: dir, Now: w.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.Close() })
	return a
}

// shareSecret gives dir the server secret of the configured data
// directory, creating that one first when needed.
func (w *T) shareSecret(dir string) {
	w.t.Helper()
	main := filepath.Join(w.Dir, "data")
	if dir == main {
		return
	}
	secret, err := fingerprint.LoadOrCreateSecret(main)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(app.LayoutOf(dir).Secret, secret, 0o600); err != nil && !os.IsExist(err) {
		w.t.Fatal(err)
	}
}

// Write writes a file into the world's directory (to change bindings or
// the configuration before a reload).
func (w *T) Write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.Dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// MustToken is Token, valid for an hour, failing the test on error.
func (w *T) MustToken(sub string, extra map[string]any) string {
	w.t.Helper()
	tok, err := w.Token(sub, time.Hour, extra)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// NewKey generates a P-256 key (a client's DPoP key).
func (w *T) NewKey() *ecdsa.PrivateKey {
	w.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// MustJKT is JKT, failing the test on error.
func (w *T) MustJKT(k *ecdsa.PrivateKey) string {
	w.t.Helper()
	s, err := JKT(k)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// MustDPoPProof is DPoPProof, failing the test on error.
func (w *T) MustDPoPProof(k *ecdsa.PrivateKey, method, path, token string) string {
	w.t.Helper()
	p, err := w.DPoPProof(k, method, path, token)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// MustPosture is Posture, failing the test on error.
func (w *T) MustPosture(host, runner, token string) string {
	w.t.Helper()
	p, err := w.Posture(host, runner, token)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// MustSignPosture is SignPosture, failing the test on error.
func (w *T) MustSignPosture(claims map[string]any) string {
	w.t.Helper()
	p, err := w.SignPosture(claims)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// MustHops is Hops, failing the test on error.
func (w *T) MustHops(method, target, token string, names ...string) string {
	w.t.Helper()
	v, err := w.Hops(method, target, token, names...)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// MustSVID is SVID, failing the test on error.
func (w *T) MustSVID(path string) (*x509.Certificate, *ecdsa.PrivateKey) {
	w.t.Helper()
	c, k, err := w.SVID(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return c, k
}

// XFCC is the x-forwarded-client-cert element a proxy sends for cert.
func XFCC(cert *x509.Certificate) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return `Cert="` + url.PathEscape(string(p)) + `"`
}

// ClientCertHeader is the RFC 9440 Client-Cert value for cert.
func ClientCertHeader(cert *x509.Certificate) string {
	return ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
}
