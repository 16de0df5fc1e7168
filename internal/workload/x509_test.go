package workload_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
)

// fixture is two configured trust domains (a.example, b.example) and CAs that
// are not configured: another CA claiming a.example, and c.example.
type fixture struct {
	a, b, rogueA, c *workloadtest.CA
	bundles         *workload.Bundles
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{
		a:      workloadtest.NewCA(t, "a.example"),
		b:      workloadtest.NewCA(t, "b.example"),
		rogueA: workloadtest.NewCA(t, "a.example"),
		c:      workloadtest.NewCA(t, "c.example"),
	}
	f.bundles = workload.NewBundles(
		x509bundle.NewSet(f.a.X509Bundle(), f.b.X509Bundle()),
		jwtbundle.NewSet(f.a.JWTBundle(), f.b.JWTBundle()),
	)
	return f
}

func TestVerifyX509Valid(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for _, tc := range []struct {
		name string
		opts []workloadtest.SVIDOption
		src  string
	}{
		{"direct", nil, workload.SourceMTLS},
		{"intermediate", []workloadtest.SVIDOption{workloadtest.WithIntermediate()}, workload.SourceXFCC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, _ := f.a.IssueSVID(t, "spiffe://a.example/ns/prod/api", tc.opts...)
			got, err := f.bundles.VerifyX509(chain, now, tc.src)
			if err != nil {
				t.Fatalf("VerifyX509: %v", err)
			}
			want := workload.Identity{
				ID:          "spiffe://a.example/ns/prod/api",
				TrustDomain: "a.example",
				Source:      tc.src,
				NotAfter:    chain[0].NotAfter,
			}
			if got != want {
				t.Fatalf("identity = %+v, want %+v", got, want)
			}
		})
	}
}

func TestVerifyX509Rejections(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	const id = "spiffe://a.example/ns/prod/api"
	issue := func(ca *workloadtest.CA, id string, opts ...workloadtest.SVIDOption) []*x509.Certificate {
		chain, _ := ca.IssueSVID(t, id, opts...)
		return chain
	}
	valid := issue(f.a, id)
	tooLong := make([]*x509.Certificate, workload.MaxChainLength+1)
	for i := range tooLong {
		tooLong[i] = valid[0]
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		now   time.Time
		want  reason.Code
	}{
		{"empty chain", nil, now, reason.WorkloadCertInvalid},
		{"nil certificate", []*x509.Certificate{valid[0], nil}, now, reason.WorkloadCertInvalid},
		{"chain too long", tooLong, now, reason.WorkloadChainTooLong},
		{"no URI SAN", issue(f.a, id, workloadtest.NoURISAN()), now, reason.WorkloadNoURISAN},
		{"two URI SANs", issue(f.a, id, workloadtest.WithExtraURIs("spiffe://a.example/other")), now, reason.WorkloadManyURISANs},
		{"non-spiffe URI", issue(f.a, "https://a.example/ns/prod/api"), now, reason.WorkloadNotSPIFFEID},
		{"spiffe URI with bad path", issue(f.a, "spiffe://a.example/ns/../api"), now, reason.WorkloadNotSPIFFEID},
		{"CA leaf", issue(f.a, id, workloadtest.AsCA()), now, reason.WorkloadCALeaf},
		{"keyCertSign", issue(f.a, id, workloadtest.WithKeyUsage(x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign)), now, reason.WorkloadKeyUsage},
		{"cRLSign", issue(f.a, id, workloadtest.WithKeyUsage(x509.KeyUsageDigitalSignature|x509.KeyUsageCRLSign)), now, reason.WorkloadKeyUsage},
		{"expired", issue(f.a, id, workloadtest.Expired()), now, reason.WorkloadExpired},
		{"not yet valid", issue(f.a, id, workloadtest.NotYetValid()), now, reason.WorkloadNotYetValid},
		{"valid but checked later", valid, now.Add(2 * time.Hour), reason.WorkloadExpired},
		{"valid but checked earlier", valid, now.Add(-2 * time.Hour), reason.WorkloadNotYetValid},
		{"expired intermediate", issue(f.a, id, workloadtest.WithExpiredIntermediate()), now, reason.WorkloadExpired},
		{"trust domain not configured", issue(f.c, "spiffe://c.example/api"), now, reason.WorkloadTrustDomain},
		{"signed by another domain's CA", issue(f.a, "spiffe://b.example/api"), now, reason.WorkloadUntrusted},
		{"unknown CA for the domain", issue(f.rogueA, id), now, reason.WorkloadUntrusted},
		{"unknown CA via intermediate", issue(f.rogueA, id, workloadtest.WithIntermediate()), now, reason.WorkloadUntrusted},
		{"chain carries its own root", append(issue(f.rogueA, id), f.rogueA.Certificates()...), now, reason.WorkloadUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.bundles.VerifyX509(tc.chain, tc.now, workload.SourceMTLS)
			if code := reason.Of(err); code != tc.want {
				t.Fatalf("code = %q (err %v), want %q", code, err, tc.want)
			}
			if got != (workload.Identity{}) {
				t.Fatalf("identity on rejection = %+v, want zero", got)
			}
		})
	}
}

func TestVerifyX509NotAfterIsEarliestInChain(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	// The leaf outlives the intermediate (valid 12h): NotAfter is the intermediate's.
	chain, _ := f.a.IssueSVID(t, "spiffe://a.example/api",
		workloadtest.WithIntermediate(), workloadtest.WithValidity(now.Add(-time.Minute), now.Add(20*time.Hour)))
	got, err := f.bundles.VerifyX509(chain, now, workload.SourceMTLS)
	if err != nil {
		t.Fatalf("VerifyX509: %v", err)
	}
	if !got.NotAfter.Equal(chain[1].NotAfter) {
		t.Fatalf("NotAfter = %v, want intermediate's %v", got.NotAfter, chain[1].NotAfter)
	}
}

func TestEmptyBundles(t *testing.T) {
	ca := workloadtest.NewCA(t, "a.example")
	chain, _ := ca.IssueSVID(t, "spiffe://a.example/api")
	b := workload.NewBundles(nil, nil)
	if _, err := b.VerifyX509(chain, time.Now(), workload.SourceMTLS); reason.Of(err) != reason.WorkloadTrustDomain {
		t.Fatalf("X.509 with no bundles: %v", err)
	}
	tok := ca.SignJWTSVID(t, "spiffe://a.example/api", "aud", time.Now().Add(time.Minute))
	if _, err := b.VerifyJWT(tok, "aud", time.Now()); reason.Of(err) != reason.WorkloadTrustDomain {
		t.Fatalf("JWT with no bundles: %v", err)
	}
}
