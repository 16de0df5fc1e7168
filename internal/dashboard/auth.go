package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
)

// role is what a user may do: see everything (read-only) or also revoke
// (admin).
type role string

const (
	roleAdmin    role = "admin"
	roleReadonly role = "read-only"
)

// maxTokenBytes bounds a token typed at the login form.
const maxTokenBytes = 4096

// user is who a request comes from.
type user struct {
	// Name is who it is, for people and the audit log: "admin token",
	// "read-only token", or the certificate's SPIFFE ID or subject.
	Name string
	Role role
	// Method is "session" (a token exchanged at /ui/login) or "mtls".
	Method string
	// CSRF is the token every POST of this user must carry.
	CSRF string
	// session is the signed session, nil for a certificate user.
	session *claims
}

// Admin reports whether the user may revoke.
func (u *user) Admin() bool { return u != nil && u.Role == roleAdmin }

// authenticator admits users by certificate or session cookie and checks
// login tokens.
type authenticator struct {
	// hashes are the SHA-256 of each role's token (nil: no token).
	hashes map[role][]byte
	// certs verifies client certificates (nil: not accepted); allowed and
	// readonly are the identities of each role (allowed empty: every
	// verified certificate is an admin, as on the admin API).
	certs             *x509.CertPool
	allowed, readonly []string
	sessions          *sessions
	csrfKey           []byte
}

func newAuthenticator(cfg *config.Config, secret []byte, now func() time.Time) (*authenticator, error) {
	if len(secret) == 0 {
		return nil, errors.New("dashboard: the server secret is required")
	}
	adm := cfg.Admin
	a := &authenticator{
		hashes:   map[role][]byte{roleAdmin: adm.TokenHash(), roleReadonly: adm.ReadonlyTokenHash()},
		allowed:  adm.AllowedClients,
		readonly: adm.ReadonlyClients,
		csrfKey:  derive(secret, "provost dashboard csrf v1"),
	}
	if adm.ClientCA != "" {
		pool, err := smallfile.CertPool(cfg.Resolve(adm.ClientCA))
		if err != nil {
			return nil, fmt.Errorf("dashboard: admin.client_ca: %w", err)
		}
		a.certs = pool
	}
	if a.certs == nil && a.hashes[roleAdmin] == nil && a.hashes[roleReadonly] == nil {
		return nil, errors.New("dashboard: no authentication configured: set admin.token_sha256, admin.readonly_token_sha256 or admin.client_ca")
	}
	a.sessions = newSessions(secret, a.hashes, now)
	return a, nil
}

// derive is a key for one purpose, derived from the server secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// tokens reports whether the login form can admit anyone.
func (a *authenticator) tokens() bool {
	return a.hashes[roleAdmin] != nil || a.hashes[roleReadonly] != nil
}

// user returns who r comes from: its session, else its certificate.
func (a *authenticator) user(r *http.Request) (*user, bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if u, ok := a.sessions.open(c.Value); ok {
			return u, true
		}
	}
	return a.cert(r)
}

// login checks a token against both roles' hashes, always both and in
// constant time, and returns the role it admits.
func (a *authenticator) login(token string) (role, bool) {
	if token == "" || len(token) > maxTokenBytes {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	var got role
	for _, r := range []role{roleAdmin, roleReadonly} {
		want := a.hashes[r]
		if want == nil {
			want = make([]byte, sha256.Size) // compared all the same
		}
		if subtle.ConstantTimeCompare(sum[:], want) == 1 && a.hashes[r] != nil {
			got = r
		}
	}
	return got, got != ""
}

// cert admits a client certificate verified against admin.client_ca whose
// identity has a role. On the admin listener the TLS handshake verified it
// already; on the serve listener it was verified against serve.tls's
// client CA, so it is verified here against the admin one.
func (a *authenticator) cert(r *http.Request) (*user, bool) {
	if a.certs == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.certs, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, false
	}
	names := admin.CertNames(leaf)
	in := func(list []string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(list, n) })
	}
	var rl role
	switch {
	case len(a.allowed) == 0 || in(a.allowed):
		rl = roleAdmin
	case in(a.readonly):
		rl = roleReadonly
	default:
		return nil, false
	}
	sum := sha256.Sum256(leaf.Raw)
	return &user{Name: admin.ClientName(leaf), Role: rl, Method: "mtls", CSRF: a.mac("cert", sum[:])}, true
}

// mac is a CSRF token bound to what names a user.
func (a *authenticator) mac(kind string, id []byte) string {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write(id)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
