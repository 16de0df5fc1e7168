package credential

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/reason"
)

func TestAcceptsEveryAlgorithm(t *testing.T) {
	fx := newFixture(t)
	cases := []struct {
		name string
		tok  string
		alg  string
	}{
		{"ES256", sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256", typ: "at+jwt"}), "ES256"},
		{"ES384", sign(t, keys.es384, jose.ES384, claims(nil), signOpts{kid: "es384"}), "ES384"},
		{"EdDSA", sign(t, keys.ed, jose.EdDSA, claims(nil), signOpts{kid: "ed", typ: "JWT"}), "EdDSA"},
		{"Ed25519 (RFC 9864)", rawEd(`{"alg":"Ed25519","kid":"ed","typ":"at+jwt"}`, claimsJSON(nil)), "Ed25519"},
		{"Ed25519, no kid", rawEd(`{"alg":"Ed25519"}`, claimsJSON(nil)), "Ed25519"},
		{"RS256", sign(t, keys.rsa, jose.RS256, claims(nil), signOpts{kid: "rsa"}), "RS256"},
		{"PS256", sign(t, keys.rsa, jose.PS256, claims(nil), signOpts{kid: "rsa"}), "PS256"},
		{"no kid, key found by trying", sign(t, keys.ed, jose.EdDSA, claims(nil), signOpts{}), "EdDSA"},
		{"aud list", es256(t, claims(map[string]any{"aud": []string{"other", testAud}})), "ES256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + c.tok, Method: "GET", Target: "/x"})
			if err != nil || !res.Accepted() {
				t.Fatalf("want accepted, got %s (%s: %s), err %v", res.Verdict, res.Reason, res.Message, err)
			}
			if res.Metadata.Algorithm != c.alg || res.Metadata.Issuer != testIss || res.Metadata.Subject != "svc-1" || res.Metadata.JTI != "j-1" {
				t.Errorf("metadata = %+v", res.Metadata)
			}
			if res.Metadata.AgeSeconds != 60 {
				t.Errorf("age = %d, want 60", res.Metadata.AgeSeconds)
			}
			if res.Fingerprint != Fingerprint(fx.fp, c.tok) || strings.Contains(res.Fingerprint, c.tok[:20]) {
				t.Errorf("fingerprint %q is not the keyed fingerprint", res.Fingerprint)
			}
		})
	}
}

func TestRejections(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.MaxActDepth = 2 })
	hdr := `{"alg":"ES256","kid":"es256","typ":"at+jwt"}`
	valid := es256(t, claims(nil))
	seg := strings.Split(valid, ".")
	// A token whose last base64 character carries non-zero unused bits.
	nonCanonical := seg[0] + "." + seg[1] + "." + seg[2][:len(seg[2])-1] + flipUnusedBits(seg[2])
	sig := func(r, s *big.Int, size int) []byte {
		b := make([]byte, 2*size)
		r.FillBytes(b[:size])
		s.FillBytes(b[size:])
		return b
	}
	n := keys.es256.Curve.Params().N
	der := func() []byte {
		h := sha256.Sum256([]byte(b64(hdr) + "." + b64(claimsJSON(nil))))
		d, _ := ecdsa.SignASN1(rand.Reader, keys.es256, h[:])
		return d
	}()
	cases := []struct {
		name  string
		authz string
		want  reason.Code
	}{
		{"no credential", "", reason.TokenMissing},
		{"unknown scheme", "Basic dXNlcjpwYXNz", reason.TokenMissing},
		{"alg none", "Bearer " + raw(t, `{"alg":"none"}`, claimsJSON(nil), []byte{}), reason.JWSAlgNone},
		{"alg None", "Bearer " + raw(t, `{"alg":"None"}`, claimsJSON(nil), []byte("x")), reason.JWSAlgNone},
		{"alg NONE", "Bearer " + raw(t, `{"alg":"NONE","typ":"JWT"}`, claimsJSON(nil), []byte("x")), reason.JWSAlgNone},
		{"alg nOnE", "Bearer " + raw(t, `{"alg":"nOnE"}`, claimsJSON(nil), []byte("x")), reason.JWSAlgNone},
		{"HS256 with asymmetric keys", "Bearer " + sign(t, nil2hmac(), jose.HS256, claims(nil), signOpts{kid: "es256"}), reason.JWSSymmetricAlg},
		{"alg not allowed for issuer", "Bearer " + sign(t, keys.rsa, jose.RS512, claims(nil), signOpts{kid: "rsa"}), reason.JWSAlgNotAllowed},
		{"alg Ed448", "Bearer " + rawEd(`{"alg":"Ed448","kid":"ed"}`, claimsJSON(nil)), reason.JWSAlgNotAllowed},
		{"alg ed25519 (case differs)", "Bearer " + rawEd(`{"alg":"ed25519","kid":"ed"}`, claimsJSON(nil)), reason.JWSAlgNotAllowed},
		{"alg EDDSA (case differs)", "Bearer " + rawEd(`{"alg":"EDDSA","kid":"ed"}`, claimsJSON(nil)), reason.JWSAlgNotAllowed},
		{"alg Ed25519 with an EC key", "Bearer " + rawEd(`{"alg":"Ed25519","kid":"es256"}`, claimsJSON(nil)), reason.JWSKeyAlgMismatch},
		{"jwk in header", "Bearer " + raw(t, `{"alg":"ES256","jwk":{"kty":"EC"}}`, claimsJSON(nil), nil), reason.JWSHeaderKeyMaterial},
		{"jku in header", "Bearer " + raw(t, `{"alg":"ES256","jku":"https://evil.example/jwks"}`, claimsJSON(nil), nil), reason.JWSHeaderKeyMaterial},
		{"x5u in header", "Bearer " + raw(t, `{"alg":"ES256","x5u":"https://evil.example/cert"}`, claimsJSON(nil), nil), reason.JWSHeaderKeyMaterial},
		{"x5c in header", "Bearer " + raw(t, `{"alg":"ES256","x5c":["MIIB"]}`, claimsJSON(nil), nil), reason.JWSHeaderKeyMaterial},
		{"unknown crit", "Bearer " + raw(t, `{"alg":"ES256","kid":"es256","crit":["exp"],"exp":1}`, claimsJSON(nil), nil), reason.JWSCritUnsupported},
		{"b64", "Bearer " + raw(t, `{"alg":"ES256","kid":"es256","b64":false,"crit":["b64"]}`, claimsJSON(nil), nil), reason.JWSCritUnsupported},
		{"b64 without crit", "Bearer " + raw(t, `{"alg":"ES256","kid":"es256","b64":true}`, claimsJSON(nil), nil), reason.JWSB64Unsupported},
		// JWS JSON serialization holds commas, which no single token68
		// credential has: refused as a repeated field before any parser.
		{"JSON serialization", `Bearer {"payload":"e30","protected":"e30","signature":"AA"}`, reason.AuthorizationRepeated},
		{"JSON serialization without a comma", `Bearer {"payload":"e30"}`, reason.JWSJSONSerialization},
		{"two Authorization fields, joined", "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256"}) + ", Bearer forged", reason.AuthorizationRepeated},
		{"two segments", "Bearer " + seg[0] + "." + seg[1], reason.JWSSegmentCount},
		{"four segments", "Bearer " + valid + ".AA", reason.JWSSegmentCount},
		{"padded base64", "Bearer " + seg[0] + "=." + seg[1] + "." + seg[2], reason.JWSBase64},
		{"std base64 alphabet", "Bearer " + seg[0] + "." + seg[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(seg[2]) + "+", reason.JWSBase64},
		{"non-canonical trailing bits", "Bearer " + nonCanonical, reason.JWSBase64},
		{"duplicate header member", "Bearer " + raw(t, `{"alg":"ES256","kid":"es256","alg":"ES256"}`, claimsJSON(nil), nil), reason.JWSDuplicateMember},
		{"duplicate claim", "Bearer " + raw(t, hdr, `{"iss":"`+testIss+`","sub":"a","sub":"b","aud":"`+testAud+`","exp":9999999999}`, nil), reason.JWSDuplicateMember},
		{"exp is a string", "Bearer " + es256(t, claims(map[string]any{"exp": "9999999999"})), reason.ClaimWrongType},
		{"nbf is a bool", "Bearer " + es256(t, claims(map[string]any{"nbf": true})), reason.ClaimWrongType},
		{"iat is an object", "Bearer " + es256(t, claims(map[string]any{"iat": map[string]any{"n": 1}})), reason.ClaimWrongType},
		{"aud is a number", "Bearer " + es256(t, claims(map[string]any{"aud": 7})), reason.ClaimWrongType},
		{"missing exp", "Bearer " + es256(t, claims(map[string]any{"exp": nil})), reason.ExpMissing},
		{"expired", "Bearer " + es256(t, claims(map[string]any{"exp": testNow.Add(-2 * time.Minute).Unix()})), reason.Expired},
		{"not yet valid", "Bearer " + es256(t, claims(map[string]any{"nbf": testNow.Add(5 * time.Minute).Unix()})), reason.NotYetValid},
		{"issued in the future", "Bearer " + es256(t, claims(map[string]any{"iat": testNow.Add(5 * time.Minute).Unix()})), reason.IssuedInFuture},
		{"iss not configured", "Bearer " + es256(t, claims(map[string]any{"iss": "https://evil.example"})), reason.IssuerUnknown},
		{"no iss", "Bearer " + es256(t, claims(map[string]any{"iss": nil})), reason.IssuerUnknown},
		{"aud not ours", "Bearer " + es256(t, claims(map[string]any{"aud": []string{"https://other"}})), reason.AudienceMismatch},
		{"no aud", "Bearer " + es256(t, claims(map[string]any{"aud": nil})), reason.AudienceMismatch},
		{"typ dpop+jwt", "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256", typ: "dpop+jwt"}), reason.TokenTypeNotAccepted},
		{"typ secevent+jwt", "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256", typ: "secevent+jwt"}), reason.TokenTypeNotAccepted},
		{"typ application/secevent+jwt", "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256", typ: "application/secevent+jwt"}), reason.TokenTypeNotAccepted},
		{"ECDSA DER signature", "Bearer " + raw(t, hdr, claimsJSON(nil), der), reason.JWSECDSAForm},
		{"ECDSA short signature", "Bearer " + raw(t, hdr, claimsJSON(nil), make([]byte, 63)), reason.JWSECDSAForm},
		{"ECDSA r = 0", "Bearer " + raw(t, hdr, claimsJSON(nil), sig(big.NewInt(0), big.NewInt(1), 32)), reason.JWSECDSARange},
		{"ECDSA s = N", "Bearer " + raw(t, hdr, claimsJSON(nil), sig(big.NewInt(1), n, 32)), reason.JWSECDSARange},
		{"ECDSA r = N+1", "Bearer " + raw(t, hdr, claimsJSON(nil), sig(new(big.Int).Add(n, big.NewInt(1)), big.NewInt(1), 32)), reason.JWSECDSARange},
		{"bad signature", "Bearer " + raw(t, hdr, claimsJSON(nil), sig(big.NewInt(1), big.NewInt(1), 32)), reason.JWSBadSignature},
		{"signed by another key", "Bearer " + sign(t, keys.client, jose.ES256, claims(nil), signOpts{kid: "es256"}), reason.JWSBadSignature},
		{"unknown kid", "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "nope"}), reason.JWSKeyNotFound},
		{"too large", "Bearer " + es256(t, claims(map[string]any{"pad": strings.Repeat("a", 17<<10)})), reason.TokenTooLarge},
		{"act chain too deep", "Bearer " + es256(t, claims(map[string]any{"act": map[string]any{"sub": "a", "act": map[string]any{"sub": "b", "act": map[string]any{"sub": "c"}}}})), reason.ActChainTooDeep},
		{"act not an object", "Bearer " + es256(t, claims(map[string]any{"act": "a"})), reason.ClaimWrongType},
		{"cnf with unsupported method", "Bearer " + es256(t, claims(map[string]any{"cnf": map[string]any{"jwk": map[string]any{"kty": "EC"}}})), reason.CnfUnsupported},
		{"unknown opaque token", "Bearer sk_live_unknown", reason.OpaqueUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := fx.v.Verify(context.Background(), Presented{Authorization: c.authz, Method: "GET", Target: "/x"})
			if res.Verdict != Rejected || res.Reason != c.want {
				t.Fatalf("got %s (%s: %s), want rejected (%s)", res.Verdict, res.Reason, res.Message, c.want)
			}
			if res.Message == "" {
				t.Error("no plain-word message")
			}
			if tok := strings.TrimPrefix(c.authz, "Bearer "); len(tok) > 16 && strings.Contains(res.Message, tok) {
				t.Error("message contains the raw credential")
			}
		})
	}
}

// flipUnusedBits returns the last character of a base64url segment
// replaced by one that decodes to the same bytes but sets unused bits.
func flipUnusedBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return string(alphabet[last|1])
}

func nil2hmac() []byte { return []byte("0123456789abcdef0123456789abcdef") }

func TestIDTokensRejectedWhereConfigured(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.Issuers[0].TokenTypes = []string{"at+jwt"} })
	idToken := sign(t, keys.es256, jose.ES256, claims(map[string]any{"nonce": "n"}), signOpts{kid: "es256", typ: "JWT"})
	res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + idToken})
	if res.Reason != reason.TokenTypeNotAccepted {
		t.Fatalf("ID token: got %s", res.Reason)
	}
	at := sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: "es256", typ: "application/at+jwt"})
	if res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + at}); !res.Accepted() {
		t.Fatalf("at+jwt: got %s %s", res.Reason, res.Message)
	}
}

func TestLeewayAndClock(t *testing.T) {
	fx := newFixture(t, func(c *Config) { c.Leeway = 30 * time.Second })
	tok := es256(t, claims(map[string]any{"exp": testNow.Unix()}))
	fx.now = testNow.Add(29 * time.Second)
	if res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + tok}); !res.Accepted() {
		t.Fatalf("within leeway: %s", res.Reason)
	}
	fx.now = testNow.Add(31 * time.Second)
	if res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + tok}); res.Reason != reason.Expired {
		t.Fatalf("past leeway: %s", res.Reason)
	}
}

func TestMetadata(t *testing.T) {
	fx := newFixture(t)
	tok := es256(t, claims(map[string]any{
		"azp": "agent-runtime", "client_id": "c-9",
		"act": map[string]any{"sub": "broker", "iss": "https://sts", "act": map[string]any{"sub": "orchestrator"}},
	}))
	res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + tok})
	if !res.Accepted() {
		t.Fatal(res.Reason)
	}
	m := res.Metadata
	if m.AZP != "agent-runtime" || m.ClientID != "c-9" || m.KeyID != "es256" || m.Type != "at+jwt" {
		t.Errorf("metadata %+v", m)
	}
	if len(m.Act) != 2 || m.Act[0].Subject != "broker" || m.Act[0].Issuer != "https://sts" || m.Act[1].Subject != "orchestrator" {
		t.Errorf("act chain %+v", m.Act)
	}
	if m.Claims["azp"] != "agent-runtime" {
		t.Errorf("claims %v", m.Claims)
	}
}

func TestAPIKeys(t *testing.T) {
	fx := newFixture(t)
	res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer sk_live_billing"})
	if !res.Accepted() || res.Kind != KindAPIKey || res.Metadata.APIKey != "billing" || res.Metadata.Subject != "billing-sync" {
		t.Fatalf("api key: %+v", res)
	}
	if res.Fingerprint != fx.fp.Of("sk_live_billing") {
		t.Error("api key fingerprint")
	}
	if _, err := New(Config{Fingerprints: fx.fp, APIKeys: []APIKey{{Name: "raw", Fingerprint: "sk_live_billing"}}}); err == nil {
		t.Error("a raw key in place of a fingerprint must be refused")
	}
}

func TestRevocation(t *testing.T) {
	ctx := context.Background()
	tok := es256(t, claims(map[string]any{"sub": "svc-r", "jti": "jti-r", "iat": testNow.Add(-time.Hour).Unix(), "exp": testNow.Add(time.Hour).Unix()}))
	cases := []struct {
		name    string
		rev     revocation.Revocation
		revoked bool
	}{
		{"by fingerprint", revocation.Revocation{Kind: revocation.KindFingerprint}, true},
		{"by jti", revocation.Revocation{Kind: revocation.KindJTI, Value: "jti-r", Issuer: testIss}, true},
		{"by jti of another issuer", revocation.Revocation{Kind: revocation.KindJTI, Value: "jti-r", Issuer: "https://other"}, false},
		{"by subject", revocation.Revocation{Kind: revocation.KindSubject, Value: "svc-r"}, true},
		{"by subject, issued before", revocation.Revocation{Kind: revocation.KindSubject, Value: "svc-r", IssuedBefore: testNow.Add(-30 * time.Minute)}, true},
		{"by subject, issued before an older time", revocation.Revocation{Kind: revocation.KindSubject, Value: "svc-r", IssuedBefore: testNow.Add(-2 * time.Hour)}, false},
		{"by issuer", revocation.Revocation{Kind: revocation.KindIssuer, Value: testIss}, true},
		{"another subject", revocation.Revocation{Kind: revocation.KindSubject, Value: "svc-other"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t)
			if c.rev.Kind == revocation.KindFingerprint {
				c.rev.Value = fx.fp.Of(tok)
			}
			added, err := fx.revs.Add(ctx, c.rev)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tok})
			if got := res.Reason == reason.Revoked; got != c.revoked {
				t.Fatalf("revoked = %v (%s), want %v", got, res.Reason, c.revoked)
			}
			if c.revoked && res.RevocationID != added.ID {
				t.Errorf("revocation id %q, want %q", res.RevocationID, added.ID)
			}
		})
	}
}

func TestDPoPBinding(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	bound := es256(t, claims(map[string]any{"cnf": map[string]any{"jkt": thumb(t, keys.client)}}))
	plain := es256(t, claims(nil))
	iat := testNow.Add(-time.Second)
	cases := []struct {
		name string
		p    Presented
		want reason.Code
	}{
		{"valid", Presented{Authorization: "DPoP " + bound, DPoP: proof(t, keys.client, "POST", "/tools?q=1", bound, "p1", iat), Method: "POST", Target: "/tools?q=2"}, reason.OK},
		{"replayed", Presented{Authorization: "DPoP " + bound, DPoP: proof(t, keys.client, "POST", "/tools?q=1", bound, "p1", iat), Method: "POST", Target: "/tools"}, reason.DPoPReplayed},
		{"bound token as bearer", Presented{Authorization: "Bearer " + bound, DPoP: proof(t, keys.client, "POST", "/tools", bound, "p2", iat), Method: "POST", Target: "/tools"}, reason.DPoPBearerScheme},
		{"bound token without proof", Presented{Authorization: "DPoP " + bound, Method: "POST", Target: "/tools"}, reason.DPoPProofMissing},
		{"proof from another key", Presented{Authorization: "DPoP " + bound, DPoP: proof(t, keys.client2, "POST", "/tools", bound, "p3", iat), Method: "POST", Target: "/tools"}, reason.DPoPKeyMismatch},
		{"proof for another token", Presented{Authorization: "DPoP " + bound, DPoP: proof(t, keys.client, "POST", "/tools", plain, "p4", iat), Method: "POST", Target: "/tools"}, reason.DPoPATHMismatch},
		{"wrong method", Presented{Authorization: "DPoP " + bound, DPoP: proof(t, keys.client, "GET", "/tools", bound, "p5", iat), Method: "POST", Target: "/tools"}, reason.DPoPHTMMismatch},
		{"DPoP scheme with unbound token", Presented{Authorization: "DPoP " + plain, DPoP: proof(t, keys.client, "POST", "/tools", plain, "p6", iat), Method: "POST", Target: "/tools"}, reason.DPoPUnexpectedProof},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := fx.v.Verify(ctx, c.p)
			if res.Reason != c.want {
				t.Fatalf("got %s (%s), want %s", res.Reason, res.Message, c.want)
			}
			if c.want == reason.OK && (res.Possession.Method != "dpop" || res.Possession.JKT != thumb(t, keys.client)) {
				t.Errorf("possession %+v", res.Possession)
			}
		})
	}
}

func TestMTLSBinding(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	cert := selfSigned(t, keys.client)
	other := selfSigned(t, keys.client2)
	sum := sha256.Sum256(cert.Raw)
	tok := es256(t, claims(map[string]any{"cnf": map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}}))
	cases := []struct {
		name string
		cert *x509.Certificate
		want reason.Code
	}{
		{"bound certificate", cert, reason.OK},
		{"no certificate", nil, reason.MTLSCertMissing},
		{"another certificate", other, reason.MTLSThumbprintFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tok, ClientCert: c.cert})
			if res.Reason != c.want {
				t.Fatalf("got %s (%s), want %s", res.Reason, res.Message, c.want)
			}
			if c.want == reason.OK && res.Possession.Method != "mtls" {
				t.Errorf("possession %+v", res.Possession)
			}
		})
	}
}

func selfSigned(t *testing.T, k *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigErrors(t *testing.T) {
	fx := newFixture(t)
	src := fx.v.cfg.Issuers[0].Keys
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no fingerprinter", Config{}, "fingerprinter is required"},
		{"symmetric alg", Config{Fingerprints: fx.fp, Issuers: []Issuer{{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Keys: src}}}, `"HS256" is not allowed`},
		{"Ed448", Config{Fingerprints: fx.fp, Issuers: []Issuer{{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"Ed448"}, Keys: src}}}, `"Ed448" is not allowed: Provost takes asymmetric JWS algorithms only (ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519)`},
		{"ed25519 (case differs)", Config{Fingerprints: fx.fp, Issuers: []Issuer{{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"ed25519"}, Keys: src}}}, `"ed25519" is not allowed`},
		{"no audience", Config{Fingerprints: fx.fp, Issuers: []Issuer{{Issuer: "i", Algorithms: []string{"ES256"}, Keys: src}}}, "audience is required"},
		{"no keys", Config{Fingerprints: fx.fp, Issuers: []Issuer{{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"ES256"}}}}, "key source"},
		{"duplicate issuer", Config{Fingerprints: fx.fp, Issuers: []Issuer{
			{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: src},
			{Issuer: "i", Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: src}}}, "configured twice"},
		{"negative cache TTL", Config{Fingerprints: fx.fp, CacheTTL: -time.Second}, "cache TTL must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// A kid the issuer lacks is quoted in the message, clipped: the kid is
// the client's, and the message reaches evidence, logs and the challenge.
func TestUnknownKidClipped(t *testing.T) {
	fx := newFixture(t)
	long := strings.Repeat("K", 8000)
	res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + sign(t, keys.es256, jose.ES256, claims(nil), signOpts{kid: long}), Method: "GET", Target: "/x"})
	if res.Reason != reason.JWSKeyNotFound {
		t.Fatalf("got %s (%s), want %s", res.Verdict, res.Reason, reason.JWSKeyNotFound)
	}
	if len(res.Message) > 200 || !strings.Contains(res.Message, strings.Repeat("K", 64)+"...") {
		t.Fatalf("message of %d bytes, want the kid clipped to 64 bytes: %.120q", len(res.Message), res.Message)
	}
}
