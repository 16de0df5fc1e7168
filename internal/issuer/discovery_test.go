package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// discoveryServer serves a discovery document built by doc from the server's
// own URL, and a JWKS at /jwks.
func discoveryServer(t *testing.T, jwks []byte, doc func(base string) map[string]string) *httptest.Server {
	t.Helper()
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc(base))
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	base = srv.URL
	return srv
}

func TestDiscovery(t *testing.T) {
	jwks := jwksJSON(t, ecJWK(t, "a", false))
	srv := discoveryServer(t, jwks, func(base string) map[string]string {
		return map[string]string{"issuer": base, "jwks_uri": base + "/jwks", "token_endpoint": base + "/token"}
	})
	r, err := NewDiscovery(context.Background(), srv.URL, RemoteConfig{Client: srv.Client(), Now: newFakeClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if r.URL() != srv.URL+"/jwks" {
		t.Fatalf("remote URL %s", r.URL())
	}
	set, err := r.Keys(context.Background(), "a")
	if err != nil || !slices.Equal(kids(set), []string{"a"}) {
		t.Fatalf("Keys: %v, kids %v", err, kids(set))
	}
}

func TestDiscoveryRejects(t *testing.T) {
	tests := []struct {
		name   string
		issuer func(base string) string // the issuerURL passed in
		doc    func(base string) map[string]string
		cfgURL string
		want   string
	}{
		{
			name:   "issuer mismatch",
			issuer: func(base string) string { return base },
			doc: func(base string) map[string]string {
				return map[string]string{"issuer": "https://evil.example", "jwks_uri": base + "/jwks"}
			},
			want: `names issuer "https://evil.example"`,
		},
		{
			name:   "trailing slash differs",
			issuer: func(base string) string { return base },
			doc: func(base string) map[string]string {
				return map[string]string{"issuer": base + "/", "jwks_uri": base + "/jwks"}
			},
			want: "want exactly",
		},
		{
			name:   "http jwks_uri for https issuer",
			issuer: func(base string) string { return base },
			doc: func(base string) map[string]string {
				return map[string]string{"issuer": base, "jwks_uri": "http://" + strings.TrimPrefix(base, "https://") + "/jwks"}
			},
			want: "is not https",
		},
		{
			name:   "no jwks_uri",
			issuer: func(base string) string { return base },
			doc:    func(base string) map[string]string { return map[string]string{"issuer": base} },
			want:   "no jwks_uri",
		},
		{
			name:   "URL set in config",
			issuer: func(base string) string { return base },
			doc: func(base string) map[string]string {
				return map[string]string{"issuer": base, "jwks_uri": base + "/jwks"}
			},
			cfgURL: "https://example.com/jwks",
			want:   "must be empty",
		},
		{
			name:   "no discovery document",
			issuer: func(base string) string { return base + "/tenant" },
			doc:    func(base string) map[string]string { return nil },
			want:   "status 404",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := discoveryServer(t, jwksJSON(t, ecJWK(t, "a", false)), tc.doc)
			cfg := RemoteConfig{URL: tc.cfgURL, Client: srv.Client(), Now: newFakeClock().Now}
			_, err := NewDiscovery(context.Background(), tc.issuer(srv.URL), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewDiscovery error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDiscoveryHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewDiscovery(ctx, srv.URL, RemoteConfig{Client: srv.Client()})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("NewDiscovery error %v, want the deadline", err)
	}
}
