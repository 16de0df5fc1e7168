package workload_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
)

func FuzzVerifyJWT(f *testing.F) {
	ca := workloadtest.NewCA(f, "a.example")
	bundles := workload.NewBundles(nil, jwtbundle.NewSet(ca.JWTBundle()))
	now := time.Now()
	f.Add(ca.SignJWTSVID(f, "spiffe://a.example/api", aud, now.Add(time.Hour)))
	f.Add(ca.SignJWTSVID(f, "spiffe://a.example/api", "other", now.Add(time.Hour)))
	f.Add(ca.SignJWTSVID(f, "spiffe://b.example/api", aud, now.Add(time.Hour)))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := bundles.VerifyJWT(token, aud, now)
		if err != nil {
			if code := reason.Of(err); code == reason.InternalError || code == reason.OK {
				t.Fatalf("rejection without a workload code: %v", err)
			}
			return
		}
		parsed, perr := spiffeid.FromString(id.ID)
		if perr != nil || parsed.TrustDomain().Name() != "a.example" || id.Source != workload.SourceJWTSVID {
			t.Fatalf("accepted identity %+v outside a.example", id)
		}
		if !id.NotAfter.After(now.Add(-workload.JWTClockSkew)) {
			t.Fatalf("accepted identity %+v expired at %v", id, now)
		}
	})
}

func FuzzMatchID(f *testing.F) {
	f.Add("spiffe://td/ns/prod/*", "spiffe://td/ns/prod/api")
	f.Add("spiffe://td/ns/prod/*", "spiffe://td/ns/prod-evil")
	f.Add("spiffe://td/ns/prod", "spiffe://td/ns/prod")
	f.Add("spiffe://td/*", "spiffe://td/x")
	f.Add("spiffe://td/a//*", "spiffe://td/a/b")
	f.Fuzz(func(t *testing.T, pattern, id string) {
		if !workload.MatchID(pattern, id) {
			return
		}
		if _, err := spiffeid.FromString(id); err != nil {
			t.Fatalf("MatchID(%q, %q) matched an invalid ID", pattern, id)
		}
		base, prefix := strings.CutSuffix(pattern, "/*")
		switch {
		case prefix && !strings.HasPrefix(id, base+"/"):
			t.Fatalf("MatchID(%q, %q) matched outside the prefix", pattern, id)
		case !prefix && id != pattern:
			t.Fatalf("MatchID(%q, %q) matched a different ID exactly", pattern, id)
		}
	})
}
