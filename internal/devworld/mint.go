package devworld

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/hop"
)

// MaxTTL bounds the lifetime of everything minted: a demo credential that
// leaks stays useful for a day at most.
const MaxTTL = 24 * time.Hour

// reservedClaims are set from TokenOptions' own fields, never from Extra.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti"}

// TokenOptions describe an access token.
type TokenOptions struct {
	Subject  string
	Audience string        // default: the manifest's audience
	TTL      time.Duration // 1s to MaxTTL
	Extra    map[string]any
	// DPoP binds the token to the kept DPoP key (cnf.jkt).
	DPoP bool
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl > MaxTTL {
		return fmt.Errorf("devworld: ttl %s is outside 1s to %s", ttl, MaxTTL)
	}
	return nil
}

// Token signs an access token as the world's issuer.
func (w *World) Token(o TokenOptions) (string, error) {
	if o.Subject == "" {
		return "", fmt.Errorf("devworld: a subject is required")
	}
	if err := checkTTL(o.TTL); err != nil {
		return "", err
	}
	aud := o.Audience
	if aud == "" {
		aud = w.Manifest.Audience
	}
	now := w.Now()
	c := map[string]any{}
	for k, v := range o.Extra {
		if slices.Contains(reservedClaims, k) {
			return "", fmt.Errorf("devworld: claim %q is set by its own flag", k)
		}
		c[k] = v
	}
	if o.DPoP {
		k, err := readECKey(w.KeysDir, KeyDPoP)
		if err != nil {
			return "", err
		}
		jkt, err := thumbprint(k)
		if err != nil {
			return "", err
		}
		c["cnf"] = map[string]any{"jkt": jkt}
	}
	for k, v := range map[string]any{"iss": w.Manifest.Issuer, "aud": aud, "sub": o.Subject, "iat": now.Unix(), "exp": now.Add(o.TTL).Unix(), "jti": randomID()} {
		c[k] = v
	}
	return sign(w.issuer, w.Manifest.IssuerKeyID, "at+jwt", c, nil)
}

// methodToken is an upper-case HTTP method.
var methodToken = regexp.MustCompile(`^[A-Z]{1,32}$`)

// DPoP signs a DPoP proof (RFC 9449) with the kept DPoP key for one
// request: method and target, a full URL or a path (then on the
// manifest's origin); query and fragment are left out of htu.
func (w *World) DPoP(method, target, token string) (string, error) {
	if !methodToken.MatchString(method) {
		return "", fmt.Errorf("devworld: method %q is not an upper-case HTTP method such as GET", method)
	}
	htu, err := w.htu(target)
	if err != nil {
		return "", err
	}
	k, err := readECKey(w.KeysDir, KeyDPoP)
	if err != nil {
		return "", err
	}
	c := map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": w.Now().Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return sign(k, "", "dpop+jwt", c, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
}

func (w *World) htu(target string) (string, error) {
	if len(target) > 0 && target[0] == '/' {
		target = w.Manifest.Origin + target
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("devworld: %q is neither a path (/v1/...) nor an http(s) URL", target)
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	return u.String(), nil
}

// spiffeID parses id and requires it in the world's trust domain.
func (w *World) spiffeID(id string) (spiffeid.ID, error) {
	sid, err := spiffeid.FromString(id)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("devworld: %q is not a SPIFFE ID: %w", id, err)
	}
	if sid.TrustDomain().Name() != w.Manifest.TrustDomain {
		return spiffeid.ID{}, fmt.Errorf("devworld: %s is not in the demo trust domain %s", id, w.Manifest.TrustDomain)
	}
	return sid, nil
}

// X509SVID issues an X.509-SVID for id from the kept SPIFFE CA and returns
// the certificate and its new private key, both PEM.
func (w *World) X509SVID(id string, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	sid, err := w.spiffeID(id)
	if err != nil {
		return nil, nil, err
	}
	if err := checkTTL(ttl); err != nil {
		return nil, nil, err
	}
	ca, caKey, err := w.caOf()
	if err != nil {
		return nil, nil, err
	}
	now := w.Now()
	notAfter := now.Add(ttl)
	if !now.Before(ca.NotAfter) {
		return nil, nil, fmt.Errorf("devworld: the demo SPIFFE CA expired at %s; keep a new world with 'provost demo --keep DIR'", ca.NotAfter.UTC().Format(time.RFC3339))
	}
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	u := sid.URL()
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: now.Add(-time.Minute), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs: []*url.URL{u}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("devworld: issuing the SVID: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// JWTSVID signs a JWT-SVID for id with the kept JWT-SVID key; aud ""
// means the manifest's JWT-SVID audience (Provost's jwt_svid_audience).
func (w *World) JWTSVID(id, aud string, ttl time.Duration) (string, error) {
	sid, err := w.spiffeID(id)
	if err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	k, err := readECKey(w.KeysDir, KeyJWTSVID)
	if err != nil {
		return "", err
	}
	if err := w.trusted(w.Manifest.TrustDomain, w.Manifest.JWTSVIDKeyID, &k.PublicKey, w.jwtBundle); err != nil {
		return "", err
	}
	if aud == "" {
		aud = w.Manifest.JWTSVIDAudience
	}
	now := w.Now()
	return sign(k, w.Manifest.JWTSVIDKeyID, "JWT", map[string]any{"sub": sid.String(), "aud": []string{aud}, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}, nil)
}

// PostureOptions describe a posture attestation.
type PostureOptions struct {
	Host, Runner, OS string
	// Token is the credential the attestation is bound to (cred).
	Token string
	// Audience is aud; default the manifest's origin.
	Audience string
}

// Posture signs a fresh posture attestation as the world's attestor.
func (w *World) Posture(o PostureOptions) (string, error) {
	if o.Host == "" || o.Token == "" {
		return "", fmt.Errorf("devworld: a posture attestation needs a host and the token it is bound to")
	}
	k, err := readECKey(w.KeysDir, KeyAttestor)
	if err != nil {
		return "", err
	}
	if err := w.trusted(w.Manifest.AttestorIssuer, w.Manifest.AttestorKeyID, &k.PublicKey, w.attestorJWKS); err != nil {
		return "", err
	}
	aud := o.Audience
	if aud == "" {
		aud = w.Manifest.Origin
	}
	c := map[string]any{"iss": w.Manifest.AttestorIssuer, "sub": o.Host, "aud": aud, "iat": w.Now().Unix(),
		"cred": hop.CredentialDigest(o.Token), "host_id": o.Host}
	if o.Runner != "" {
		c["runner_type"] = o.Runner
	}
	if o.OS != "" {
		c["os"] = o.OS
	}
	return sign(k, w.Manifest.AttestorKeyID, "posture+jwt", c, nil)
}

func thumbprint(k *ecdsa.PrivateKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func sign(key crypto.Signer, kid, typ string, claims map[string]any, extra map[jose.HeaderKey]any) (string, error) {
	opts := (&jose.SignerOptions{ExtraHeaders: extra}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("devworld: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devworld: claims: %w", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devworld: signing: %w", err)
	}
	return obj.CompactSerialize()
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
