package admin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/admin/admintest"
)

func fuzzServer(f *testing.F) (*admintest.World, http.Handler) {
	w := admintest.New(f, admintest.Options{PerSecond: 1e6, Burst: 1e6})
	srv, err := admin.New(admin.Options{App: w.App})
	if err != nil {
		f.Fatal(err)
	}
	return w, srv.Handler()
}

// FuzzCreate posts arbitrary bodies: never a 5xx, never the credential
// echoed, and a 201 only for a body that asked for a revocation.
func FuzzCreate(f *testing.F) {
	w, h := fuzzServer(f)
	for _, s := range []string{
		`{"kind":"jti","value":"j"}`,
		`{"credential":"eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl"}`,
		`{"kind":"subject","value":"s","issued_before":"2030-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00+01:00"}`,
		`{"kind":"fingerprint","value":"fp1:AAAA"}`,
		`{"credential":"CRED"}`, `{"kind":"fingerprint","credential":"CRED"}`, `{"kind":"binding","value":"b\u0000"}`, `[]`, `{"kind":1}`, `null`, ``,
	} {
		f.Add(s, "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl")
	}
	f.Fuzz(func(t *testing.T, body, cred string) {
		body = strings.ReplaceAll(body, "CRED", cred)
		req := httptest.NewRequest("POST", "/v1/revocations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.AdminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != 201 && rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("status %d", rec.Code)
		}
		if len(cred) >= 12 && strings.Count(body, cred) == 1 && strings.Contains(body, `"credential":"`+cred+`"`) && strings.Contains(rec.Body.String(), cred) {
			t.Fatalf("the credential was echoed: %s", rec.Body)
		}
	})
}

// FuzzAuthorization sends arbitrary Authorization headers: only the admin
// token admits.
func FuzzAuthorization(f *testing.F) {
	w, h := fuzzServer(f)
	for _, s := range []string{"Bearer x", "Basic x", "bearer ", "Bearer  " + w.AdminToken + "x", "Bearer " + w.AdminToken[:10]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest("GET", "/v1/status", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		scheme, tok, _ := strings.Cut(auth, " ")
		valid := strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) == w.AdminToken
		if valid != (rec.Code == 200) || (!valid && rec.Code != 401) {
			t.Fatalf("%q: status %d", auth, rec.Code)
		}
	})
}
