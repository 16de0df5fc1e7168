package workload_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
)

// apiFixture is a fake Workload API serving a.example's CA, and Bundles
// that take a.example from it (b.example from a file bundle).
type apiFixture struct {
	api     *workloadtest.WorkloadAPI
	src     *workload.APISource
	bundles *workload.Bundles
	clock   *clock
	logs    *logSink
}

const apiDomain = "a.example"

func startAPI(t *testing.T, ca *workloadtest.CA) apiFixture {
	t.Helper()
	f := apiFixture{api: workloadtest.NewWorkloadAPI(t, ca.APIBundle()), clock: &clock{now: time.Now()}, logs: &logSink{}}
	src, err := workload.StartAPI(context.Background(), workload.APIConfig{
		Address: f.api.Addr(), TrustDomains: []string{apiDomain}, StartTimeout: 10 * time.Second,
		MaxStale: time.Hour, Now: f.clock.Now, Logger: slog.New(f.logs),
	})
	if err != nil {
		t.Fatalf("StartAPI: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	f.src = src
	files := workload.NewBundles(x509bundle.NewSet(workloadtest.NewCA(t, "b.example").X509Bundle()), nil)
	if f.bundles, err = files.WithSource(src, []string{apiDomain}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f apiFixture) verifyX509(chain []*x509.Certificate) error {
	_, err := f.bundles.VerifyX509(chain, time.Now(), workload.SourceMTLS)
	return err
}

func (f apiFixture) verifyJWT(token string) error {
	_, err := f.bundles.VerifyJWT(token, "provost", time.Now())
	return err
}

// eventually polls cond until it holds, failing the test after 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAPISourceServedBundleAccepts(t *testing.T) {
	ca := workloadtest.NewCA(t, apiDomain)
	f := startAPI(t, ca)
	chain, _ := ca.IssueSVID(t, "spiffe://a.example/api")
	if err := f.verifyX509(chain); err != nil {
		t.Fatalf("X.509-SVID of the served CA: %v", err)
	}
	if err := f.verifyJWT(ca.SignJWTSVID(t, "spiffe://a.example/api", "provost", time.Now().Add(time.Minute))); err != nil {
		t.Fatalf("JWT-SVID of the served key: %v", err)
	}
	rogue := workloadtest.NewCA(t, apiDomain)
	chain, _ = rogue.IssueSVID(t, "spiffe://a.example/api")
	if got := reason.Of(f.verifyX509(chain)); got != reason.WorkloadUntrusted {
		t.Errorf("X.509-SVID of a CA not served: %s, want %s", got, reason.WorkloadUntrusted)
	}
	if err := f.src.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

func TestAPISourceRotationAppliesWithoutRestart(t *testing.T) {
	oldCA, newCA := workloadtest.NewCA(t, apiDomain), workloadtest.NewCA(t, apiDomain)
	f := startAPI(t, oldCA)
	oldChain, _ := oldCA.IssueSVID(t, "spiffe://a.example/api")
	newChain, _ := newCA.IssueSVID(t, "spiffe://a.example/api")
	oldJWT := oldCA.SignJWTSVID(t, "spiffe://a.example/api", "provost", time.Now().Add(time.Minute))
	newJWT := newCA.SignJWTSVID(t, "spiffe://a.example/api", "provost", time.Now().Add(time.Minute))
	// Verified (and cached) before the rotation.
	if err := f.verifyX509(oldChain); err != nil {
		t.Fatal(err)
	}
	if err := f.verifyJWT(oldJWT); err != nil {
		t.Fatal(err)
	}
	if got := reason.Of(f.verifyX509(newChain)); got != reason.WorkloadUntrusted {
		t.Fatalf("new CA before the rotation: %s, want %s", got, reason.WorkloadUntrusted)
	}

	f.api.SetBundles(newCA.APIBundle())
	eventually(t, "the new CA's SVIDs are accepted", func() bool { return f.verifyX509(newChain) == nil && f.verifyJWT(newJWT) == nil })
	if got := reason.Of(f.verifyX509(oldChain)); got != reason.WorkloadUntrusted {
		t.Errorf("old CA's X.509-SVID after the rotation: %s, want %s", got, reason.WorkloadUntrusted)
	}
	if got := reason.Of(f.verifyJWT(oldJWT)); got != reason.WorkloadJWTKeyUnknown {
		t.Errorf("old key's JWT-SVID after the rotation: %s, want %s", got, reason.WorkloadJWTKeyUnknown)
	}
	if !f.logs.has("workload API: trust bundles updated") {
		t.Error("the rotation was not logged")
	}
}

func TestAPISourceKeepsBundlesUntilMaxStale(t *testing.T) {
	ca := workloadtest.NewCA(t, apiDomain)
	f := startAPI(t, ca)
	chain, _ := ca.IssueSVID(t, "spiffe://a.example/api")

	f.api.Stop()
	eventually(t, "the loss is logged", func() bool { return f.logs.has("workload API: unreachable") })
	f.clock.Advance(59 * time.Minute)
	if err := f.verifyX509(chain); err != nil {
		t.Errorf("within max_stale, the last bundle still verifies: %v", err)
	}
	if err := f.src.Ready(); err != nil {
		t.Errorf("Ready within max_stale: %v", err)
	}

	f.clock.Advance(2 * time.Minute)
	if err := f.src.Ready(); !errors.Is(err, workload.ErrAPIStale) {
		t.Errorf("Ready past max_stale = %v, want ErrAPIStale", err)
	}
	if got := reason.Of(f.verifyX509(chain)); got != reason.WorkloadTrustDomain {
		t.Errorf("past max_stale: %s, want %s (fail closed)", got, reason.WorkloadTrustDomain)
	}

	f.api.Start()
	eventually(t, "the source reconnects", func() bool { return f.src.Ready() == nil })
	if err := f.verifyX509(chain); err != nil {
		t.Errorf("after the agent is back: %v", err)
	}
}

func TestStartAPIErrors(t *testing.T) {
	good := workloadtest.NewCA(t, apiDomain)
	leaf, _ := good.IssueSVID(t, "spiffe://a.example/not-a-ca")
	for _, tc := range []struct {
		name    string
		served  []workloadtest.Bundle
		domains []string
		stop    bool
		want    []string
	}{
		{"unreachable socket", nil, []string{apiDomain}, true,
			[]string{"no trust bundles from unix://", "within 300ms", "no X.509 bundles", "last error:"}},
		{"trust domain not served", []workloadtest.Bundle{good.APIBundle()}, []string{apiDomain, "c.example"}, false,
			[]string{"no bundle for trust domain c.example"}},
		{"served bundle breaks a rule", []workloadtest.Bundle{{TrustDomain: apiDomain, X509: leaf}}, []string{apiDomain}, false,
			[]string{"no bundle for trust domain a.example", "bundle refused: a.example: certificate 1", "is not a CA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := workloadtest.NewWorkloadAPI(t, tc.served...)
			if tc.stop {
				api.Stop()
			}
			_, err := workload.StartAPI(context.Background(), workload.APIConfig{Address: api.Addr(), TrustDomains: tc.domains, StartTimeout: 300 * time.Millisecond})
			if !errors.Is(err, workload.ErrAPIUnavailable) {
				t.Fatalf("StartAPI = %v, want ErrAPIUnavailable", err)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := workload.StartAPI(context.Background(), workload.APIConfig{Address: filepath.Join(t.TempDir(), "agent.sock")}); err == nil ||
		!strings.Contains(err.Error(), "scheme") {
		t.Errorf("a bare path: %v, want an error about the scheme", err)
	}
}

func TestWithSourceRefusesADomainWithFiles(t *testing.T) {
	ca := workloadtest.NewCA(t, apiDomain)
	files := workload.NewBundles(x509bundle.NewSet(ca.X509Bundle()), nil)
	src := setSource{x509bundle.NewSet(), jwtbundle.NewSet()}
	if _, err := files.WithSource(src, []string{apiDomain}); err == nil || !strings.Contains(err.Error(), `"a.example" has bundle files and a bundle source`) {
		t.Errorf("WithSource = %v", err)
	}
}

// setSource is a BundleSource over two sets.
type setSource struct {
	x *x509bundle.Set
	j *jwtbundle.Set
}

func (s setSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.x.GetX509BundleForTrustDomain(td)
}

func (s setSource) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	return s.j.GetJWTBundleForTrustDomain(td)
}

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logSink is a slog.Handler that keeps the messages logged.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }

func (l *logSink) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}
