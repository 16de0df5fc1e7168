package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// BenchmarkProxy measures the allow path: the engine's decision, the hop
// attestation (in the "hop" case) and the round trip to an in-process
// upstream over loopback.
func BenchmarkProxy(b *testing.B) {
	w := newFixture(b)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(b, nil)
	for _, c := range []struct{ name, hop string }{{"plain", ""}, {"hop", "edge"}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := w.settings(up.URL, c.hop, config.ClientAuthNone)
			p, err := New(eng, cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			tok := w.MustToken("svc:reports", nil)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "/v1/reports?id=7", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				p.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Header().Get("X-Provost-Reasons"))
				}
			}
		})
	}
}
