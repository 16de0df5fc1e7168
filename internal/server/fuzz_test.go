package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// FuzzCheckAPI posts random bodies to the check API: the answer is never a
// 5xx and the handler never panics.
func FuzzCheckAPI(f *testing.F) {
	w := newFixture(f)
	h := New(ForApp(w.app), config.Serve{}, nil).Handler()
	tok := w.MustToken("svc:reports", nil)
	for _, seed := range []string{
		`{"method":"GET","target":"/v1/reports","authorization":"Bearer ` + tok + `","peer":"10.40.7.7"}`,
		`{"method":"GET","target":"/x","peer":"127.0.0.1","x_forwarded_for":["10.40.1.1, 10.0.0.1"],"forwarded":["for=1.2.3.4"]}`,
		`{"method":"GET","target":"/x","xfcc":"By=x;Cert=\"%2D\";URI=spiffe://a/b","client_cert_header":":AAAA:"}`,
		`{"method":"GET","target":"/x","dpop":"a.b.c","hops":["x"],"posture":"a.b.c","jwt_svid":"a.b.c"}`,
		`{"method":"GET","target":"/x","client_cert":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`,
		`{"at":"2026-01-01T00:00:00Z","method":"GET","target":"/x"}`,
		`{"method":1}`, `[]`, `null`, ``, `{"method":"GET","target":"/x"} {}`,
	} {
		f.Add(seed, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest("POST", PathCheck, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.RemoteAddr = "127.0.0.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != 200 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("status %d without a problem body", rec.Code)
		}
	})
}

func BenchmarkCheckAPI(b *testing.B) {
	w := newFixture(b)
	h := New(ForApp(w.app), config.Serve{}, nil).Handler()
	body := `{"method":"GET","target":"/v1/reports","authorization":"Bearer ` + w.MustToken("svc:reports", nil) + `","peer":"10.40.7.7"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", PathCheck, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
