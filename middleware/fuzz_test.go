package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/middleware"
)

// FuzzMiddleware sends arbitrary header values through the middleware over
// a real engine: the handler runs only on allow, every refusal is a 401 or
// 403 with a JSON body, and no answer echoes the credential.
func FuzzMiddleware(f *testing.F) {
	w := provosttest.New(f, mw(provosttest.Options{}))
	eng := w.App("").Engine
	key := w.NewKey()
	bound := w.MustBoundToken("svc:bound", key)
	f.Add("Bearer "+w.MustToken("svc:ok", nil), "", "", "", "", "/v1/orders")
	f.Add("Bearer "+w.MustToken("svc:remote", nil), "", "10.9.1.1, 10.0.0.1", "", "", "/v1/orders?x=1")
	f.Add("DPoP "+bound, w.MustDPoPProof(key, "GET", "/v1/orders", bound), "", "", "", "/v1/orders")
	f.Add("Bearer "+w.MustToken("svc:vendor", nil), "", "", "eyJhbGciOiJFZERTQSJ9.e30.AA", "eyJ9.e30.x", "/")
	f.Add("Basic dXNlcjpwYXNz", "", "", "", "", "/%2e%2e/admin")
	f.Fuzz(func(t *testing.T, authz, proof, xff, hop, posture, target string) {
		reached := false
		h := middleware.New(eng)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/"}, RequestURI: target, RemoteAddr: "127.0.0.1:40000",
			Header: http.Header{"Authorization": {authz}, "Dpop": {proof}, "X-Forwarded-For": {xff},
				"Provost-Hop": {hop}, "Provost-Posture": {posture}, "X-Provost-Subject": {"typed"}}}
		r = r.WithContext(t.Context())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK:
			if !reached {
				t.Fatal("200 without the handler")
			}
			return
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if reached {
			t.Fatalf("the handler ran for a %d", rec.Code)
		}
		var body struct {
			Decision string   `json:"decision"`
			Reasons  []string `json:"reasons"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Decision == "" || len(body.Reasons) == 0 {
			t.Fatalf("refusal body %q: %v", rec.Body, err)
		}
		_, cred, _ := strings.Cut(authz, " ")
		if len(cred) >= 20 {
			all := rec.Body.String()
			for _, v := range rec.Header() {
				all += strings.Join(v, "\n")
			}
			if strings.Contains(all, cred) {
				t.Fatal("the answer echoes the credential")
			}
		}
	})
}
