package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"net/http"
	"slices"
	"strings"
)

// maxTokenBytes bounds a presented admin token.
const maxTokenBytes = 4096

// Client is who an authenticated admin request came from.
type Client struct {
	// Name is the certificate's first SPIFFE ID or its subject, or "token".
	Name string
	// Method is "mtls" or "token".
	Method string
}

type clientKey struct{}

// ClientFrom returns the authenticated client of a request's context.
func ClientFrom(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(clientKey{}).(Client)
	return c, ok
}

// authenticator checks an admin request's certificate or bearer token.
type authenticator struct {
	tokenHash []byte   // nil: tokens are not accepted
	certs     bool     // client certificates are accepted
	allowed   []string // empty: every verified certificate is allowed
}

// authenticate returns the client, or the status (401 or 403) and why.
func (a *authenticator) authenticate(r *http.Request) (Client, int, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		return a.token(h)
	}
	if a.certs && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		names := CertNames(leaf)
		if len(a.allowed) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(a.allowed, n) }) {
			return Client{}, http.StatusForbidden, "the client certificate " + ClientName(leaf) + " is not among admin.allowed_clients"
		}
		return Client{Name: ClientName(leaf), Method: "mtls"}, 0, ""
	}
	return Client{}, http.StatusUnauthorized, a.want()
}

func (a *authenticator) token(h string) (Client, int, string) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || a.tokenHash == nil {
		return Client{}, http.StatusUnauthorized, a.want()
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxTokenBytes {
		return Client{}, http.StatusUnauthorized, "the admin token is not valid"
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], a.tokenHash) != 1 {
		return Client{}, http.StatusUnauthorized, "the admin token is not valid"
	}
	return Client{Name: "token", Method: "token"}, 0, ""
}

func (a *authenticator) want() string {
	switch {
	case a.certs && a.tokenHash != nil:
		return "the admin API needs a client certificate or an admin bearer token"
	case a.certs:
		return "the admin API needs a client certificate"
	}
	return "the admin API needs an admin bearer token"
}

// CertNames are the names a client certificate can be allowed by: its
// SPIFFE IDs, its Common Name and its whole subject. The dashboard gives
// roles by the same names, so one certificate is named alike by both.
func CertNames(c *x509.Certificate) []string {
	var names []string
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			names = append(names, u.String())
		}
	}
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return append(names, c.Subject.String())
}

// ClientName is how a client certificate is named in logs, audit lines
// and evidence: its first SPIFFE ID, else its subject.
func ClientName(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return c.Subject.String()
}
