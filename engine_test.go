package provost_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// A forwarded client certificate is believed only from a trusted proxy: a
// client typing x-forwarded-client-cert or Client-Cert itself gains nothing.
func TestForwardedCertificatesNeedATrustedProxy(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("agent:support-bot", nil)
	id := "spiffe://acme.test/agents/support-bot"
	der := svid(t, w, id)[0].Raw
	clientCert := ":" + base64.StdEncoding.EncodeToString(der) + ":"
	cases := []struct {
		name   string
		r      provost.Request
		wantID string
		source string
	}{
		{"XFCC from the trusted proxy", provost.Request{Peer: addr("10.0.0.1"), XForwardedFor: []string{"10.30.1.5"}, XFCC: xfccFor(t, w, id)}, id, "xfcc"},
		{"XFCC typed by a client", provost.Request{Peer: addr("10.30.1.5"), XFCC: xfccFor(t, w, id)}, "", ""},
		{"Client-Cert from the trusted proxy", provost.Request{Peer: addr("10.0.0.2"), XForwardedFor: []string{"10.30.1.5"}, ClientCertHeader: clientCert}, id, "client-cert"},
		{"Client-Cert typed by a client", provost.Request{Peer: addr("10.30.1.5"), ClientCertHeader: clientCert}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			r.Method, r.Target, r.Authorization = "GET", "/v1/tools", "Bearer "+tok
			d := check(t, a, &r)
			if d.Signals.Workload.ID != c.wantID || d.Signals.Workload.Source != c.source {
				t.Fatalf("workload %+v, want id %q from %q", d.Signals.Workload, c.wantID, c.source)
			}
			if c.wantID == "" && d.Outcome == verdict.Allow {
				t.Fatalf("a forged header must not satisfy the binding: %v", d.Reasons)
			}
			if c.wantID != "" && d.Outcome != verdict.Allow {
				t.Fatalf("want allow, got %s %v", d.Outcome, d.Reasons)
			}
		})
		w.Clock.Advance(10 * time.Minute) // keep each case out of the others' concurrency window
	}
}

func TestForgedXFCCFromTrustedProxyFails(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("agent:support-bot", nil)
	other := provosttest.New(t, provosttest.Options{TrustDomain: wTrustDomain}) // another CA: an SVID the bundle does not trust
	d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools", Authorization: "Bearer " + tok, Peer: addr("10.0.0.1"),
		XForwardedFor: []string{"10.30.1.5"}, XFCC: xfccFor(t, other, "spiffe://acme.test/agents/support-bot")})
	expect(t, d, verdict.Deny, "accepted", verdict.Violated, reason.WorkloadUntrusted)
}

func TestJWTSVID(t *testing.T) {
	w, a := newWorld(t)
	w.Write("jwt-bundle.json", "")
	tok := w.MustToken("agent:support-bot", nil)
	// The world trusts its CA's X.509 bundle only: a JWT-SVID cannot be
	// verified and fails rather than vanishing.
	ca := workloadtest.NewCA(t, wTrustDomain)
	jwtSVID := ca.SignJWTSVID(t, "spiffe://acme.test/agents/support-bot", "provost", w.Clock.Now().Add(time.Hour))
	d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools", Authorization: "Bearer " + tok, Peer: addr("10.30.1.5"), JWTSVID: jwtSVID})
	if d.Signals.Workload.Problem.Code == "" || d.Outcome == verdict.Allow {
		t.Fatalf("unverifiable JWT-SVID: %+v %s", d.Signals.Workload, d.Outcome)
	}
}

// A reload that fails keeps serving the old configuration and says why; a
// good one takes effect on the next request.
func TestReloadIsAtomic(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:reports", nil)
	req := &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: addr("10.40.7.7")}
	expect(t, check(t, a, req), verdict.Allow, "accepted", verdict.Verified)
	before := a.Policy().Digest()

	w.Write("bindings.yaml", strings.Replace(worldBindings, "networks: [datacenter]\n  - name: canary", "networks: [no-such-set]\n  - name: canary", 1))
	err := a.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-such-set") {
		t.Fatalf("reload error: %v", err)
	}
	if a.Policy().Digest() != before {
		t.Fatal("a failed reload changed the loaded bindings")
	}
	w.Clock.Advance(time.Minute)
	expect(t, check(t, a, req), verdict.Allow, "accepted", verdict.Verified)

	w.Write("bindings.yaml", strings.Replace(worldBindings, "networks: [datacenter]\n  - name: canary", "networks: [build-hosts]\n  - name: canary", 1))
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Policy().Digest() == before {
		t.Fatal("a good reload did not change the digest")
	}
	w.Clock.Advance(time.Minute)
	expect(t, check(t, a, req), verdict.Deny, "accepted", verdict.Violated, reason.NetworkNotApproved)
}

// Concurrent checks share one engine safely (run with -race).
func TestConcurrentChecks(t *testing.T) {
	w, a := newWorld(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		tok := w.MustToken(fmt.Sprintf("svc:reports-%d", i%2), nil)
		if i%2 == 0 {
			tok = w.MustToken("svc:reports", nil)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: addr("10.40.7.7")})
				if err != nil {
					errs <- err
					return
				}
				if d.Credential.Verdict != verdict.Accepted {
					errs <- fmt.Errorf("rejected: %s", d.Credential.Reason)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := provost.LoadPolicy(ctx, "testdata/none.yaml"); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
	_, a := newWorld(t)
	pol := a.Policy()
	full := a.Stores()
	secret := a.Secret
	noReplay := full
	noReplay.Replay = nil
	for _, c := range []struct {
		name   string
		pol    *provost.Policy
		stores provost.Stores
		secret []byte
		want   string
	}{
		{"no policy", nil, full, secret, "needs a Policy"},
		{"a store missing", pol, noReplay, secret, "needs every store"},
		{"no secret", pol, full, nil, "Options.Secret"},
		{"short secret", pol, full, []byte("short"), "Options.Secret"},
	} {
		if _, err := provost.New(ctx, c.pol, c.stores, provost.Options{Secret: c.secret}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}

// An issuer whose keys cannot be fetched fails closed: a denial, and an
// error for the operator.
func TestIssuerDownFailsClosed(t *testing.T) {
	w, a := newWorld(t)
	cfg, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	w.Write("provost.yaml", strings.Replace(string(cfg), "jwks_file: issuer.jwks.json", "jwks_url: http://127.0.0.1:1/jwks", 1))
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/x", Authorization: "Bearer " + w.MustToken("svc:reports", nil), Peer: addr("10.40.1.1")})
	if err == nil || d == nil || d.Outcome != verdict.Deny || d.Credential.Reason != reason.IssuerKeysUnavailable {
		t.Fatalf("decision %+v, err %v", d, err)
	}
}

// An mTLS-bound token (RFC 8705) is checked against the client certificate
// a trusted proxy forwards; the same header from anyone else binds nothing.
func TestMTLSBoundThroughTrustedProxy(t *testing.T) {
	w, a := newWorld(t)
	chain := svid(t, w, "spiffe://acme.test/agents/support-bot")
	sum := sha256.Sum256(chain[0].Raw)
	tok := w.MustToken("svc:reports", map[string]any{"cnf": map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}})
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})
	xfcc := `Cert="` + url.PathEscape(string(p)) + `"`
	viaProxy := check(t, a, &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: addr("10.0.0.1"),
		XForwardedFor: []string{"10.40.1.1"}, XFCC: xfcc})
	if viaProxy.Credential.Reason != reason.OK || viaProxy.Credential.Possession.Method != "mtls" {
		t.Fatalf("through the trusted proxy: %s %+v", viaProxy.Credential.Reason, viaProxy.Credential.Possession)
	}
	typed := check(t, a, &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: addr("10.40.1.1"), XFCC: xfcc})
	if typed.Credential.Reason != reason.MTLSCertMissing {
		t.Fatalf("typed by the client: %s", typed.Credential.Reason)
	}
}

// Behind a trusted proxy that appends to x-forwarded-client-cert rather
// than sanitizing it, the element a client typed comes first: only the last
// element, the one the proxy added, is believed.
func TestXFCCLastElementIsBelieved(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("agent:support-bot", nil)
	typed := xfccFor(t, w, "spiffe://acme.test/payments/api")
	real := xfccFor(t, w, "spiffe://acme.test/agents/support-bot")
	d := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools", Authorization: "Bearer " + tok, Peer: addr("10.0.0.1"),
		XForwardedFor: []string{"10.30.1.5"}, XFCC: typed + "," + real})
	if d.Signals.Workload.ID != "spiffe://acme.test/agents/support-bot" {
		t.Fatalf("workload %+v", d.Signals.Workload)
	}
	forged := check(t, a, &provost.Request{Method: "GET", Target: "/v1/tools", Authorization: "Bearer " + w.MustToken("agent:support-bot", nil), Peer: addr("10.0.0.1"),
		XForwardedFor: []string{"10.30.1.5"}, XFCC: real + "," + typed})
	if forged.Signals.Workload.ID != "spiffe://acme.test/payments/api" || forged.Outcome == verdict.Allow {
		t.Fatalf("the typed first element was believed: %+v %s", forged.Signals.Workload, forged.Outcome)
	}
}

// A request denied because a store failed is still in the evidence log.
func TestFailClosedIsRecorded(t *testing.T) {
	w, a := newWorld(t)
	tok := w.MustToken("svc:reports", nil)
	a.Origins.(io.Closer).Close() // origin history becomes unreadable
	d, err := a.Engine.Check(context.Background(), &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: addr("10.40.1.1")})
	if err == nil || d.Outcome != verdict.Deny || d.Credential.Reason != reason.InternalError {
		t.Fatalf("decision %+v, err %v", d, err)
	}
	if d.Evidence == nil || d.RequestID == "" {
		t.Fatalf("the fail-closed denial was not recorded: %+v", d.Evidence)
	}
	rc, err := a.Evidence.Receipt(context.Background(), d.Evidence.Index)
	if err != nil || !strings.Contains(string(rc.Record), d.RequestID) || !strings.Contains(string(rc.Record), "internal_error") {
		t.Fatalf("record: %v %s", err, rc.Record)
	}
}
