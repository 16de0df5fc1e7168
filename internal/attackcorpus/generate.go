package attackcorpus

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// Key IDs of the corpus's keys.
const (
	kidES       = "iss-es-1"   // the issuer's P-256 key
	kidEd       = "iss-ed-1"   // the issuer's Ed25519 key
	kidOther    = "other-es-1" // the other issuer's P-256 key
	kidAttacker = "attacker-1" // the attacker's own key
)

// maxTokenBytes is tokens.max_bytes in the generated configuration.
const maxTokenBytes = 16384

// keyServerURL is the base URL of KeyServer.
const keyServerURL = "http://" + KeyServer

// gen holds the keys and certificates of the corpus and the cases made so
// far.
type gen struct {
	issuerES *ecdsa.PrivateKey
	issuerEd ed25519.PrivateKey
	other    *ecdsa.PrivateKey
	attacker *ecdsa.PrivateKey
	client   *ecdsa.PrivateKey // the DPoP client's key
	caKey    *ecdsa.PrivateKey
	svidKey  *ecdsa.PrivateKey

	ca, svid, attackerCert *x509.Certificate

	attacks, controls []Case
}

func newGen() (*gen, error) {
	g := &gen{
		issuerES: ecKey("issuer-es256"),
		issuerEd: edKey("issuer-ed25519"),
		other:    ecKey("other-issuer-es256"),
		attacker: ecKey("attacker-es256"),
		client:   ecKey("dpop-client"),
		caKey:    ecKey("spiffe-ca"),
		svidKey:  ecKey("svid-payments"),
	}
	var err error
	td := &url.URL{Scheme: "spiffe", Host: TrustDomain}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attack corpus SPIFFE CA"},
		NotBefore: At.Add(-24 * time.Hour), NotAfter: At.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, URIs: []*url.URL{td}}
	if g.ca, err = certificate(caTmpl, caTmpl, &g.caKey.PublicKey, g.caKey); err != nil {
		return nil, err
	}
	svidTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: At.Add(-time.Hour), NotAfter: At.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs: []*url.URL{{Scheme: "spiffe", Host: TrustDomain, Path: "/payments"}}}
	if g.svid, err = certificate(svidTmpl, g.ca, &g.svidKey.PublicKey, g.caKey); err != nil {
		return nil, err
	}
	atkTmpl := &x509.Certificate{SerialNumber: big.NewInt(66), Subject: pkix.Name{CommonName: Issuer},
		NotBefore: At.Add(-time.Hour), NotAfter: At.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if g.attackerCert, err = certificate(atkTmpl, atkTmpl, &g.attacker.PublicKey, g.attacker); err != nil {
		return nil, err
	}
	return g, nil
}

func certificate(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(nil, tmpl, parent, pub, detSigner{key})
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Generate makes every file of the corpus directory (testdata/attacks),
// by name. It gives the same bytes on every run.
func Generate() (map[string][]byte, error) {
	g, err := newGen()
	if err != nil {
		return nil, err
	}
	g.algNone()
	g.algConfusion()
	g.kidInjection()
	g.headerKeys()
	g.ecdsaSignatures()
	g.sizes()
	g.malformed()
	g.nested()
	g.tokenKinds()
	g.claimTricks()
	g.duplicates()
	g.spoofedHeaders()
	g.dpop()
	g.controlCases()

	files := map[string][]byte{
		ConfigFile:               []byte(configYAML),
		"bindings.yaml":          []byte(bindingsYAML),
		"issuer.jwks.json":       []byte(g.issuerJWKS() + "\n"),
		"other-issuer.jwks.json": []byte(`{"keys":[` + ecJWK(g.other, member{"kid", kidOther}, member{"use", "sig"}, member{"alg", "ES256"}) + "]}\n"),
		"spiffe-ca.pem":          pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.ca.Raw}),
		"README.md":              []byte(readme),
	}
	if files[CasesFile], err = jsonLines(g.attacks); err != nil {
		return nil, err
	}
	if files[ControlsFile], err = jsonLines(g.controls); err != nil {
		return nil, err
	}
	return files, nil
}

// KeyServerFiles are what a key server at KeyServer would serve to make
// the header key attacks work: the attacker's JWKS, certificate and OIDC
// discovery document, by path. A test serves them and requires that
// nothing asks.
func KeyServerFiles() (map[string][]byte, error) {
	g, err := newGen()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"/jwks.json": []byte(`{"keys":[` + ecJWK(g.attacker, member{"kid", kidAttacker}, member{"use", "sig"}, member{"alg", "ES256"}) + "]}"),
		"/cert.pem":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.attackerCert.Raw}),
		"/.well-known/openid-configuration": []byte(object(member{"issuer", keyServerURL},
			member{"jwks_uri", keyServerURL + "/jwks.json"})),
	}, nil
}

func jsonLines(cases []Case) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func (g *gen) issuerJWKS() string {
	return `{"keys":[` + ecJWK(g.issuerES, member{"kid", kidES}, member{"use", "sig"}, member{"alg", "ES256"}) + "," +
		edJWK(g.issuerEd, member{"kid", kidEd}, member{"use", "sig"}, member{"alg", "EdDSA"}) + "]}"
}

// ---- building blocks

// claims are the claims of a valid access token for sub, with set
// applied (see with).
func claims(sub, jti string, set ...member) []member {
	return with([]member{{"iss", Issuer}, {"sub", sub}, {"aud", Audience},
		{"iat", At.Add(-5 * time.Minute).Unix()}, {"exp", At.Add(time.Hour).Unix()}, {"jti", jti}}, set...)
}

// header is the protected header of a valid access token, with set
// applied.
func header(set ...member) []member {
	return with([]member{{"alg", "ES256"}, {"kid", kidES}, {"typ", "at+jwt"}}, set...)
}

// token is a valid access token for sub signed by the issuer's P-256 key,
// with set applied to its claims.
func (g *gen) token(sub, jti string, set ...member) string {
	return compact(object(header()...), object(claims(sub, jti, set...)...), es256(g.issuerES))
}

func bearer(tok string) [2]string { return [2]string{"Authorization", "Bearer " + tok} }

// deploy is POST /v1/deploy from the approved build host: a request the
// deploy binding allows when its credential is accepted.
func deploy(headers ...[2]string) Request {
	return Request{Method: "POST", Target: "/v1/deploy", Peer: BuildHost, Headers: headers}
}

// rejected is what every transport answers for a rejected credential.
func rejected(codes ...string) Expect {
	return Expect{Decision: "deny", Credential: "rejected", Reasons: codes, Transports: map[string]Answer{
		CheckAPI: {Status: 200}, ForwardAuth: {Status: 401}, Proxy: {Status: 401}, ExtAuthz: {Status: 401, GRPC: "UNAUTHENTICATED"}}}
}

// denied is what every transport answers for an accepted credential
// denied on provenance.
func denied(codes ...string) Expect {
	return Expect{Decision: "deny", Credential: "accepted", Reasons: codes, Transports: map[string]Answer{
		CheckAPI: {Status: 200}, ForwardAuth: {Status: 403}, Proxy: {Status: 403}, ExtAuthz: {Status: 403, GRPC: "PERMISSION_DENIED"}}}
}

// allowed is what every transport answers for an allowed request.
func allowed() Expect {
	return Expect{Decision: "allow", Credential: "accepted", Reasons: []string{"provenance_verified"}, Transports: map[string]Answer{
		CheckAPI: {Status: 200}, ForwardAuth: {Status: 200}, Proxy: {Status: 200}, ExtAuthz: {Status: 200, GRPC: "OK"}}}
}

func (g *gen) attack(name, class, attack string, r Request, e Expect, setup ...Step) {
	g.attacks = append(g.attacks, Case{Name: name, Class: class, Attack: attack, Setup: setup, Request: r, Expect: e})
}

// deployAttack is an attack with a token on POST /v1/deploy from the
// approved build host, so that the token alone is refused.
func (g *gen) deployAttack(name, class, attack, tok string, e Expect) {
	g.attack(name, class, attack, deploy(bearer(tok)), e)
}

// ---- the attacks

func (g *gen) algNone() {
	const class = "alg_none"
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		name := "alg_" + alg + "_unsigned"
		tok := compact(object(header(member{"alg", alg})...), object(claims("ci:deploy", name)...), fixed(nil))
		g.deployAttack(name, class, fmt.Sprintf("an unsigned token: alg %q and an empty signature", alg), tok, rejected("jws_alg_none"))
	}
	name := "alg_none_dropped_signature_segment"
	tok := compact(object(header(member{"alg", "none"})...), object(claims("ci:deploy", name)...), fixed(nil))
	g.deployAttack(name, class, `alg "none" with the signature segment dropped (two segments)`,
		strings.TrimSuffix(tok, "."), rejected("jws_segment_count"))

	name = "alg_none_with_signature"
	input := compact(object(header(member{"alg", "none"})...), object(claims("ci:deploy", name)...), fixed(nil))
	tok = input + b64(es256(g.issuerES)(strings.TrimSuffix(input, ".")))
	g.deployAttack(name, class, `alg "none" with the issuer's real signature over the same input kept`, tok, rejected("jws_alg_none"))

	for _, v := range []struct{ name, alg, what string }{
		{"alg_none_padded", " none ", `alg " none " (spaces around none)`},
		{"alg_empty", "", `alg ""`},
	} {
		tok := compact(object(header(member{"alg", v.alg})...), object(claims("ci:deploy", v.name)...), fixed(nil))
		g.deployAttack(v.name, class, "an unsigned token: "+v.what, tok, rejected("jws_alg_none"))
	}
	name = "alg_missing"
	tok = compact(object(header(member{"alg", drop})...), object(claims("ci:deploy", name)...), es256(g.attacker))
	g.deployAttack(name, class, "no alg member in the header", tok, rejected("jws_alg_none"))

	name = "alg_es256_empty_signature"
	tok = compact(object(header()...), object(claims("ci:deploy", name)...), fixed(nil))
	g.deployAttack(name, class, "alg ES256 with an empty signature segment", tok, rejected("jws_bad_signature"))

	name = "alg_es256_dropped_signature_segment"
	tok = compact(object(header()...), object(claims("ci:deploy", name)...), fixed(nil))
	g.deployAttack(name, class, "alg ES256 with the signature segment dropped (two segments)",
		strings.TrimSuffix(tok, "."), rejected("jws_segment_count"))
}

func (g *gen) algConfusion() {
	const class = "alg_confusion"
	der, err := x509.MarshalPKIXPublicKey(&g.issuerES.PublicKey)
	if err != nil {
		panic(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	x, y := ecPoint(g.issuerES)
	jwk := ecJWK(g.issuerES, member{"kid", kidES}, member{"use", "sig"}, member{"alg", "ES256"})
	for _, v := range []struct {
		name, alg, what string
		key             []byte
	}{
		{"hs256_issuer_key_pem", "HS256", "the issuer's P-256 public key as PEM (SubjectPublicKeyInfo, with its final newline)", pemKey},
		{"hs256_issuer_key_pem_trimmed", "HS256", "the issuer's P-256 public key as PEM without the final newline", bytes.TrimSpace(pemKey)},
		{"hs256_issuer_key_der", "HS256", "the issuer's P-256 public key as DER (SubjectPublicKeyInfo)", der},
		{"hs256_issuer_key_jwk", "HS256", "the issuer's public JWK, as it appears in issuer.jwks.json", []byte(jwk)},
		{"hs256_issuer_jwks_file", "HS256", "the whole issuer.jwks.json file", []byte(g.issuerJWKS() + "\n")},
		{"hs256_issuer_key_raw_xy", "HS256", "the issuer's public key as raw x||y (64 bytes)", append(append([]byte{}, x...), y...)},
		{"hs256_issuer_key_uncompressed_point", "HS256", "the issuer's public key as an uncompressed point 04||x||y", append(append([]byte{4}, x...), y...)},
		{"hs384_issuer_key_pem", "HS384", "the issuer's P-256 public key as PEM", pemKey},
		{"hs512_issuer_key_pem", "HS512", "the issuer's P-256 public key as PEM", pemKey},
	} {
		tok := compact(object(header(member{"alg", v.alg})...), object(claims("ci:deploy", v.name)...), hs(v.alg, v.key))
		g.deployAttack(v.name, class, "algorithm confusion: "+v.alg+" keyed with "+v.what, tok, rejected("jws_symmetric_alg"))
	}
	name := "hs256_issuer_ed25519_key_raw"
	tok := compact(object(header(member{"alg", "HS256"}, member{"kid", kidEd})...), object(claims("ci:deploy", name)...),
		hs("HS256", g.issuerEd.Public().(ed25519.PublicKey)))
	g.deployAttack(name, class, "algorithm confusion: HS256 keyed with the issuer's raw Ed25519 public key, kid of that key", tok, rejected("jws_symmetric_alg"))

	for _, v := range []struct{ name, alg, what string }{
		{"alg_es384_not_allowed", "ES384", "alg ES384, which the issuer does not allow, over an ES256 signature"},
		{"alg_lower_case_es256", "es256", `alg "es256": alg values are case-sensitive`},
		{"alg_rs256_with_ec_key", "RS256", "alg RS256 naming the issuer's P-256 key"},
		{"alg_ed448", "Ed448", "alg Ed448, which Provost does not support"},
	} {
		tok := compact(object(header(member{"alg", v.alg})...), object(claims("ci:deploy", v.name)...), es256(g.issuerES))
		g.deployAttack(v.name, class, v.what, tok, rejected("jws_alg_not_allowed"))
	}
	name = "alg_eddsa_with_ec_key_id"
	tok = compact(object(header(member{"alg", "EdDSA"})...), object(claims("ci:deploy", name)...), eddsa(g.issuerEd))
	g.deployAttack(name, class, "alg EdDSA (signed by the issuer's Ed25519 key) naming the kid of its P-256 key", tok, rejected("jws_key_alg_mismatch"))
	name = "alg_es256_with_ed_key_id"
	tok = compact(object(header(member{"kid", kidEd})...), object(claims("ci:deploy", name)...), es256(g.issuerES))
	g.deployAttack(name, class, "alg ES256 (signed by the issuer's P-256 key) naming the kid of its Ed25519 key", tok, rejected("jws_key_alg_mismatch"))
}

func (g *gen) kidInjection() {
	const class = "kid_injection"
	for _, v := range []struct{ name, kid, what string }{
		{"kid_path_traversal", "../../../../../../dev/null", "a path traversal to /dev/null, for a verifier that reads keys from files"},
		{"kid_path_traversal_jwks_file", "../../testdata/attacks/issuer.jwks.json", "a path to the issuer's JWKS file"},
		{"kid_sql_injection", "' OR 1=1 --", "SQL injection, for a verifier that looks keys up in a database"},
		{"kid_sql_union", "x' UNION SELECT 'attacker-key' --", "a SQL UNION returning a key of the attacker's choosing"},
		{"kid_url", keyServerURL + "/jwks.json", "a URL of the attacker's JWKS, for a verifier that fetches kid"},
		{"kid_very_long", strings.Repeat("A", 8000), "an 8000-byte kid (the token stays under tokens.max_bytes)"},
		{"kid_crlf", kidES + "\r\nX-Injected: 1", "a kid with CR LF, to inject a header where the kid is echoed"},
		{"kid_nul", kidES + "\x00", "the issuer's kid followed by NUL, for a C-string comparison"},
		{"kid_other_issuer_key", kidOther, "the kid of another configured issuer's key (the token is signed by that issuer's key and names this issuer)"},
	} {
		sign := es256(g.attacker)
		if v.name == "kid_other_issuer_key" {
			sign = es256(g.other)
		}
		tok := compact(object(header(member{"kid", v.kid})...), object(claims("ci:deploy", v.name)...), sign)
		g.deployAttack(v.name, class, "kid injection: "+v.what, tok, rejected("jws_key_not_found"))
	}
	name := "kid_path_traversal_hs256_empty_key"
	tok := compact(object(header(member{"alg", "HS256"}, member{"kid", "../../../../../../dev/null"})...),
		object(claims("ci:deploy", name)...), hs("HS256", nil))
	g.deployAttack(name, class, "kid injection: /dev/null as kid and HS256 keyed with its (empty) content", tok, rejected("jws_symmetric_alg"))
	name = "kid_issuer_key_signed_by_other_issuer"
	tok = compact(object(header()...), object(claims("ci:deploy", name)...), es256(g.other))
	g.deployAttack(name, class, "the issuer's own kid over a signature by another configured issuer's key", tok, rejected("jws_bad_signature"))
	name = "kid_missing_forged"
	tok = compact(object(header(member{"kid", drop})...), object(claims("ci:deploy", name)...), es256(g.attacker))
	g.deployAttack(name, class, "no kid, so every issuer key is tried, over the attacker's signature", tok, rejected("jws_bad_signature"))
	name = "kid_missing_forged_single_key_issuer"
	tok = compact(object(header(member{"kid", drop})...), object(claims("ci:deploy", name, member{"iss", OtherIssuer})...), es256(g.attacker))
	g.deployAttack(name, class, "no kid, naming the issuer with a single P-256 key, over the attacker's signature", tok, rejected("jws_bad_signature"))
	for _, v := range []struct {
		name string
		kid  raw
		what string
	}{
		{"kid_number", "1", "a number"},
		{"kid_nosql_object", `{"$ne":null}`, "a NoSQL operator object"},
	} {
		tok := compact(object(header(member{"kid", v.kid})...), object(claims("ci:deploy", v.name)...), es256(g.attacker))
		g.deployAttack(v.name, class, "kid injection: kid is "+v.what, tok, rejected("jws_malformed_json"))
	}
}

func (g *gen) headerKeys() {
	const class = "header_key"
	attackerJWK := raw(ecJWK(g.attacker, member{"kid", kidAttacker}))
	x5c := raw(`["` + base64.StdEncoding.EncodeToString(g.attackerCert.Raw) + `"]`)
	for _, v := range []struct {
		name, what string
		set        []member
	}{
		{"header_jku", "jku naming the attacker's JWKS at the key server", []member{{"kid", kidAttacker}, {"jku", keyServerURL + "/jwks.json"}}},
		{"header_jku_issuer_kid", "jku naming the attacker's JWKS, with the issuer's kid", []member{{"jku", keyServerURL + "/jwks.json"}}},
		{"header_x5u", "x5u naming the attacker's certificate at the key server", []member{{"kid", kidAttacker}, {"x5u", keyServerURL + "/cert.pem"}}},
		{"header_jwk", "the attacker's public key embedded as jwk", []member{{"kid", kidAttacker}, {"jwk", attackerJWK}}},
		{"header_jwk_issuer_kid", "the attacker's public key embedded as jwk, with the issuer's kid", []member{{"jwk", attackerJWK}}},
		{"header_x5c", "the attacker's self-signed certificate (CN the issuer) embedded as x5c", []member{{"kid", drop}, {"x5c", x5c}}},
	} {
		tok := compact(object(header(v.set...)...), object(claims("ci:deploy", v.name)...), es256(g.attacker))
		g.deployAttack(v.name, class, "a key carried in the header: "+v.what+"; nothing may be fetched", tok, rejected("jws_header_key_material"))
	}
	name := "header_jwk_issuer_public_key_hs256"
	tok := compact(object(header(member{"alg", "HS256"}, member{"jwk", raw(ecJWK(g.issuerES))})...), object(claims("ci:deploy", name)...),
		hs("HS256", []byte(ecJWK(g.issuerES))))
	g.deployAttack(name, class, "the issuer's own public key embedded as jwk, with HS256 keyed with that JWK", tok, rejected("jws_header_key_material"))

	name = "header_crit"
	tok = compact(object(header(member{"crit", []string{"exp"}})...), object(claims("ci:deploy", name)...), es256(g.issuerES))
	g.deployAttack(name, "header_extension", "a crit header naming an extension the verifier must understand (signed by the issuer)", tok, rejected("jws_crit_unsupported"))
	name = "header_b64_false"
	tok = compact(object(header(member{"b64", false})...), object(claims("ci:deploy", name)...), es256(g.issuerES))
	g.deployAttack(name, "header_extension", "b64: false (RFC 7797 unencoded payload), signed by the issuer", tok, rejected("jws_b64_unsupported"))
}

func (g *gen) ecdsaSignatures() {
	const class = "ecdsa_signature"
	zero := new(big.Int)
	for _, v := range []struct {
		name, what string
		r, s       func(r, s *big.Int) *big.Int
	}{
		{"ecdsa_r_s_zero", "r = s = 0 (a signature that verifies anything with a broken verifier)",
			func(_, _ *big.Int) *big.Int { return zero }, func(_, _ *big.Int) *big.Int { return zero }},
		{"ecdsa_r_zero", "r = 0 with the real s",
			func(_, _ *big.Int) *big.Int { return zero }, func(_, s *big.Int) *big.Int { return s }},
		{"ecdsa_s_zero", "the real r with s = 0",
			func(r, _ *big.Int) *big.Int { return r }, func(_, _ *big.Int) *big.Int { return zero }},
		{"ecdsa_r_equals_n", "r = n, the curve order",
			func(_, _ *big.Int) *big.Int { return p256N }, func(_, s *big.Int) *big.Int { return s }},
		{"ecdsa_s_equals_n", "s = n, the curve order",
			func(r, _ *big.Int) *big.Int { return r }, func(_, _ *big.Int) *big.Int { return p256N }},
		{"ecdsa_r_plus_n", "r + n (the same r modulo n; all ones when it does not fit 32 bytes)",
			func(r, _ *big.Int) *big.Int { return new(big.Int).Add(r, p256N) }, func(_, s *big.Int) *big.Int { return s }},
		{"ecdsa_s_plus_n", "s + n (the same s modulo n; all ones when it does not fit 32 bytes)",
			func(r, _ *big.Int) *big.Int { return r }, func(_, s *big.Int) *big.Int { return new(big.Int).Add(s, p256N) }},
	} {
		r, s := signatureOf(g.token("ci:deploy", v.name))
		tok := withSignature(g.token("ci:deploy", v.name), v.r(r, s), v.s(r, s))
		g.deployAttack(v.name, class, "an ES256 signature out of range: "+v.what, tok, rejected("jws_ecdsa_signature_range"))
	}
	name := "ecdsa_der_signature"
	tok := compact(object(header()...), object(claims("ci:deploy", name)...), es256DER(g.issuerES))
	g.deployAttack(name, class, "the issuer's real signature in ASN.1 DER form instead of raw r||s", tok, rejected("jws_ecdsa_signature_form"))
	for _, v := range []struct {
		name, what string
		cut        func(sig []byte) []byte
	}{
		{"ecdsa_signature_truncated", "the real signature cut to 63 bytes", func(sig []byte) []byte { return sig[:63] }},
		{"ecdsa_signature_extended", "the real signature with a 65th byte", func(sig []byte) []byte { return append(sig, 0) }},
	} {
		sig := es256(g.issuerES)
		tok := compact(object(header()...), object(claims("ci:deploy", v.name)...), func(in string) []byte { return v.cut(sig(in)) })
		g.deployAttack(v.name, class, v.what, tok, rejected("jws_ecdsa_signature_form"))
	}

	// The malleated twin of a revoked token. The deploy binding revokes a
	// token used from outside the build hosts (on_violation: revoke); the
	// revocation names the token's fingerprint. The twin (r, n-s)
	// verifies like the original: it must stay revoked.
	name = "ecdsa_malleated_twin_of_revoked_token"
	orig := g.token("ci:deploy", name)
	g.attack(name, class, "signature malleability: a revoked ES256 token re-signed as (r, n-s) by whoever holds it, "+
		"which verifies as the original does but has another fingerprint, used from the approved build host",
		deploy(bearer(malleate(orig))), rejected("revoked"),
		Step{Note: "the original token used from outside the build hosts: denied, and revoked by the deploy binding",
			Request: Request{Method: "POST", Target: "/v1/deploy", Peer: Attacker, Headers: [][2]string{bearer(orig)}},
			Expect:  denied("network_not_approved")},
		Step{Note: "the original token from the build host: revoked", Request: deploy(bearer(orig)), Expect: rejected("revoked")})

	// The copied-credential detector, first on one token used from two
	// origins (networks) at once, then on a token and its twin.
	reports := func(peer, tok string) Request {
		return Request{Method: "GET", Target: "/v1/reports", Peer: peer, Headers: [][2]string{bearer(tok)}}
	}
	name = "copied_token_from_second_origin"
	orig = g.token("svc:reports", name)
	g.attack(name, "copied_credential", "a token used from another network while its holder uses it (the control of the next case)",
		reports(OtherNetwork, orig), denied("copied_credential"),
		Step{Note: "the holder's use from the build host: allowed", Request: reports(BuildHost, orig), Expect: allowed()})
	name = "ecdsa_malleated_twin_evades_copied_credential"
	orig = g.token("svc:reports", name)
	g.attack(name, class, "signature malleability: a copied ES256 token used as its twin (r, n-s) from another network while its holder uses "+
		"the original; the twin has another fingerprint, so another origin history", reports(OtherNetwork, malleate(orig)), denied("copied_credential"),
		Step{Note: "the holder's use from the build host: allowed", Request: reports(BuildHost, orig), Expect: allowed()})
}

func (g *gen) sizes() {
	const class = "size"
	// A token exactly maxTokenBytes+1 long, signed by the issuer.
	name := "token_one_byte_over_max"
	hdrLen := len(b64([]byte(object(header()...))))
	tokenLen := func(pad int) int { // the signature is always 86 characters: sign once
		c := object(claims("ci:deploy", name, member{"pad", strings.Repeat("p", pad)})...)
		return hdrLen + 1 + base64.RawURLEncoding.EncodedLen(len(c)) + 1 + 86
	}
	n := maxTokenBytes / 2 // well under the limit; then a byte at a time
	for tokenLen(n) <= maxTokenBytes {
		n++
	}
	tok := g.token("ci:deploy", name, member{"pad", strings.Repeat("p", n)})
	g.deployAttack(name, class, fmt.Sprintf("a valid issuer-signed token of %d bytes, just over tokens.max_bytes (%d)", len(tok), maxTokenBytes),
		tok, rejected("token_too_large"))
	name = "token_far_over_max"
	tok = g.token("ci:deploy", name, member{"pad", strings.Repeat("p", 24000)})
	g.deployAttack(name, class, fmt.Sprintf("a valid issuer-signed token of %d bytes, bloated with a claim", len(tok)), tok, rejected("token_too_large"))
	name = "token_huge_kid"
	tok = compact(object(header(member{"kid", strings.Repeat("k", 17000)})...), object(claims("ci:deploy", name)...), es256(g.attacker))
	g.deployAttack(name, class, "a 17000-byte kid, over tokens.max_bytes", tok, rejected("token_too_large"))
	name = "token_huge_opaque"
	g.deployAttack(name, class, "a 20000-byte opaque token (no dots)", strings.Repeat("A", 20000), rejected("token_too_large"))
}

func (g *gen) malformed() {
	const class = "malformed"
	valid := func(name string) string { return g.token("ci:deploy", name) }

	name := "b64_standard_padding"
	hdr := object(header()...)
	for len(hdr)%3 == 0 {
		hdr += " " // a length that needs padding
	}
	_, p, s := segments(compact(hdr, object(claims("ci:deploy", name)...), es256(g.issuerES)))
	g.deployAttack(name, class, "the header in base64 with = padding",
		base64.URLEncoding.EncodeToString([]byte(hdr))+"."+p+"."+s, rejected("jws_invalid_base64"))
	name = "b64_standard_alphabet"
	h, p, s := segments(valid(name))
	g.deployAttack(name, class, "a + and a / of the standard base64 alphabet in the signature", h+"."+p+".+/"+s[2:], rejected("jws_invalid_base64"))
	name = "b64_non_canonical_trailing_bits"
	h, p, s = segments(valid(name))
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[len(s)-1])
	s = s[:len(s)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	g.deployAttack(name, class, "the issuer's real signature with non-zero unused bits in its last base64 character "+
		"(the same bytes under a lenient decoder: another spelling, so another fingerprint, of a valid token)",
		h+"."+p+"."+s, rejected("jws_invalid_base64"))
	name = "b64_space_inside"
	h, p, s = segments(valid(name))
	g.deployAttack(name, class, "a space inside the payload segment", h+"."+p[:10]+" "+p[10:]+"."+s, rejected("jws_invalid_base64"))

	name = "segments_four"
	g.deployAttack(name, class, "a valid token with a fourth segment appended", valid(name)+"."+b64([]byte("x")), rejected("jws_segment_count"))
	name = "segments_five_jwe"
	g.deployAttack(name, class, "five segments, shaped like a JWE",
		b64([]byte(`{"alg":"dir","enc":"A128GCM"}`))+"..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", rejected("jws_segment_count"))
	name = "segments_empty"
	g.deployAttack(name, class, `three empty segments ("..")`, "..", rejected("jws_malformed_json"))

	issuerSigned := func(hdr, payload string) string { return compact(hdr, payload, es256(g.issuerES)) }
	for _, v := range []struct{ name, what, hdr, payload string }{
		{"header_trailing_garbage", "the header JSON followed by garbage", object(header()...) + "garbage", ""},
		{"header_second_object", `the header followed by a second object {"alg":"none"}`, object(header()...) + `{"alg":"none"}`, ""},
		{"header_array", "the header as a JSON array", `["ES256","` + kidES + `"]`, ""},
		{"header_string", "the header as a JSON string", `"ES256"`, ""},
		{"header_null", "the header as JSON null", `null`, ""},
		{"header_not_json", "the header as alg=ES256", `alg=ES256`, ""},
		{"header_invalid_utf8", "a header member with invalid UTF-8", object(header(member{"kid", raw("\"\xff\xfe\"")})...), ""},
		{"header_alg_array", "alg as an array", object(header(member{"alg", []string{"ES256"}})...), ""},
		{"payload_trailing_garbage", "the claims JSON followed by garbage", "", object(claims("ci:deploy", "payload_trailing_garbage")...) + "garbage"},
		{"payload_second_object", `the claims followed by a second object {"sub":"svc:admin"}`, "", object(claims("ci:deploy", "payload_second_object")...) + `{"sub":"svc:admin"}`},
		{"payload_array", "the claims as a JSON array of one object", "", "[" + object(claims("ci:deploy", "payload_array")...) + "]"},
		{"payload_invalid_utf8", "a claim with invalid UTF-8", "", object(claims("ci:deploy", "payload_invalid_utf8", member{"sub", raw("\"ci:deploy\xc0\"")})...)},
		{"payload_lone_surrogate", `a claim with a lone surrogate escape \ud800`, "", object(claims("ci:deploy", "payload_lone_surrogate", member{"sub", raw(`"ci:deploy\ud800"`)})...)},
		{"payload_nesting_too_deep", "a claim nested 100 arrays deep", "", object(claims("ci:deploy", "payload_nesting_too_deep", member{"x", raw(strings.Repeat("[", 100) + strings.Repeat("]", 100))})...)},
	} {
		hdr, payload := v.hdr, v.payload
		if hdr == "" {
			hdr = object(header()...)
		}
		if payload == "" {
			payload = object(claims("ci:deploy", v.name)...)
		}
		g.deployAttack(v.name, class, "malformed JSON, signed by the issuer: "+v.what, issuerSigned(hdr, payload), rejected("jws_malformed_json"))
	}

	name = "jws_json_serialization"
	h, p, s = segments(valid(name))
	g.deployAttack(name, class, "the token in the flattened JWS JSON serialization (its commas read as several credentials)",
		object(member{"protected", h}, member{"payload", p}, member{"signature", s}), rejected("authorization_repeated"))
	name = "jws_json_serialization_one_member"
	_, p, _ = segments(valid(name))
	g.deployAttack(name, class, "a JWS JSON serialization without commas", object(member{"payload", p}), rejected("jws_json_serialization"))

	g.attack("scheme_basic", "scheme", "HTTP Basic credentials instead of a token",
		deploy([2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ci:deploy:hunter2"))}), rejected("token_missing"))
	g.attack("scheme_without_token", "scheme", "the Bearer scheme with nothing after it",
		deploy([2]string{"Authorization", "Bearer"}), rejected("token_missing"))
}

func (g *gen) nested() {
	const class = "nested_jwt"
	name := "nested_jwt_unsigned_inner"
	inner := compact(object(header(member{"alg", "none"})...), object(claims("ci:deploy", name, member{"scope", "admin"})...), fixed(nil))
	tok := compact(object(header(member{"cty", "JWT"})...), inner, es256(g.issuerES))
	g.deployAttack(name, class, "a nested JWT (cty JWT) signed by the issuer whose payload is an unsigned inner JWT with more privileges", tok, rejected("jws_malformed_json"))
	name = "nested_jwt_forged_outer"
	tok = compact(object(header(member{"cty", "JWT"})...), g.token("svc:reports", name), es256(g.attacker))
	g.deployAttack(name, class, "a nested JWT (cty JWT) forged by the attacker around a valid issuer token of another subject", tok, rejected("jws_malformed_json"))
	name = "nested_jwt_json_string"
	tok = compact(object(header(member{"cty", "JWT"})...), jsonValue(g.token("ci:deploy", name+"-inner")), es256(g.issuerES))
	g.deployAttack(name, class, "a nested JWT whose payload is the inner JWT as a JSON string, signed by the issuer", tok, rejected("jws_malformed_json"))
}

func (g *gen) tokenKinds() {
	const class = "token_kind"
	name := "dpop_proof_as_access_token"
	proof := g.proof(g.client, "POST", "/v1/deploy", "", name)
	g.deployAttack(name, class, "a DPoP proof (typ dpop+jwt, jwk in its header) presented as the access token", proof, rejected("jws_header_key_material"))
	for _, v := range []struct{ name, typ, what string }{
		{"dpop_typed_token_from_issuer", "dpop+jwt", "a token typed dpop+jwt, signed by the issuer"},
		{"application_dpop_typed_token", "application/dpop+jwt", "a token typed application/dpop+jwt, signed by the issuer"},
		{"logout_token_as_access_token", "logout+jwt", "an OIDC back-channel logout token (typ logout+jwt)"},
		{"id_token_as_access_token", "JWT", "an ID token (typ JWT) where the issuer accepts only at+jwt"},
		{"id_token_without_typ", "", "an ID token without typ where the issuer accepts only at+jwt"},
	} {
		set := []member{{"typ", v.typ}}
		if v.typ == "" {
			set[0].value = drop
		}
		c := claims("ci:deploy", v.name, member{"nonce", "n-0S6_WzA2Mj"}, member{"auth_time", At.Add(-10 * time.Minute).Unix()}, member{"azp", "ci-client"})
		tok := compact(object(header(set...)...), object(c...), es256(g.issuerES))
		g.deployAttack(v.name, class, v.what+" presented as an access token", tok, rejected("token_type_not_accepted"))
	}
	name = "security_event_token_as_access_token"
	set := object(member{"iss", Issuer}, member{"aud", Audience}, member{"iat", At.Add(-time.Minute).Unix()}, member{"jti", name},
		member{"sub_id", raw(object(member{"format", "opaque"}, member{"id", "ci:deploy"}))},
		member{"events", raw(object(member{"https://schemas.openid.net/secevent/caep/event-type/session-revoked", raw(object(member{"event_timestamp", At.Unix()}))}))})
	tok := compact(object(header(member{"typ", "secevent+jwt"})...), set, es256(g.issuerES))
	g.deployAttack(name, class, "a security event token (typ secevent+jwt) signed by the issuer, presented as an access token", tok, rejected("token_type_not_accepted"))
}

func (g *gen) claimTricks() {
	const class = "claims"
	for _, v := range []struct {
		name, what, code string
		set              []member
	}{
		{"exp_string", `exp as a string "2000000000"`, "claim_wrong_type", []member{{"exp", "2000000000"}}},
		{"exp_float_overflow", "exp 1e400, a JSON number beyond float64 (the claims do not decode)", "jws_malformed_json", []member{{"exp", raw("1e400")}}},
		{"exp_huge", "exp 1e300 seconds", "claim_wrong_type", []member{{"exp", raw("1e300")}}},
		{"exp_negative", "exp -1", "claim_wrong_type", []member{{"exp", -1}}},
		{"exp_bool", "exp true", "claim_wrong_type", []member{{"exp", true}}},
		{"exp_null", "exp null", "claim_wrong_type", []member{{"exp", raw("null")}}},
		{"exp_missing", "no exp: a token that never expires", "exp_missing", []member{{"exp", drop}}},
		{"exp_passed", "exp two minutes ago, beyond the 60s leeway", "expired", []member{{"exp", At.Add(-2 * time.Minute).Unix()}}},
		{"nbf_future", "nbf an hour from now", "not_yet_valid", []member{{"nbf", At.Add(time.Hour).Unix()}}},
		{"nbf_string", "nbf as a string", "claim_wrong_type", []member{{"nbf", "0"}}},
		{"iat_far_future", "iat ten years from now", "issued_in_future", []member{{"iat", At.AddDate(10, 0, 0).Unix()}}},
		{"iat_string", "iat as a string", "claim_wrong_type", []member{{"iat", "now"}}},
		{"aud_object", "aud as an object whose value is the audience", "claim_wrong_type", []member{{"aud", raw(object(member{"0", Audience}))}}},
		{"aud_list_with_object", "aud as a list holding the audience and an object", "claim_wrong_type", []member{{"aud", raw(`["` + Audience + `",{}]`)}}},
		{"aud_other_api", "aud naming another API", "audience_mismatch", []member{{"aud", "https://other-api.attacks.provost.test"}}},
		{"aud_prefix", "aud with the audience as a prefix", "audience_mismatch", []member{{"aud", Audience + ".evil.example"}}},
		{"aud_missing", "no aud", "audience_mismatch", []member{{"aud", drop}}},
		{"iss_trailing_slash", "iss with a trailing slash", "issuer_unknown", []member{{"iss", Issuer + "/"}}},
		{"iss_case_change", "iss with an upper-case host", "issuer_unknown", []member{{"iss", strings.ToUpper(Issuer)}}},
		{"iss_array", "iss as a list holding the issuer", "issuer_unknown", []member{{"iss", []string{Issuer}}}},
		{"iss_missing", "no iss", "issuer_unknown", []member{{"iss", drop}}},
		{"sub_number", "sub as a number", "claim_wrong_type", []member{{"sub", 42}}},
		{"cnf_unsupported_method", "cnf binding the token to a jwk (not jkt or x5t#S256), to be treated as a bearer token", "cnf_unsupported",
			[]member{{"cnf", raw(object(member{"jwk", raw(ecJWK(g.client))}))}}},
		{"cnf_not_object", "cnf as a string", "claim_wrong_type", []member{{"cnf", "jkt"}}},
		{"act_chain_too_deep", "an act delegation chain five deep (tokens.max_act_depth is 4)", "act_chain_too_deep",
			[]member{{"act", raw(`{"sub":"a1","act":{"sub":"a2","act":{"sub":"a3","act":{"sub":"a4","act":{"sub":"a5"}}}}}`)}}},
	} {
		g.deployAttack(v.name, class, "a claim trick, signed by the issuer: "+v.what, g.token("ci:deploy", v.name, v.set...), rejected(v.code))
	}
	name := "iss_key_server"
	tok := compact(object(header(member{"kid", kidAttacker})...), object(claims("ci:deploy", name, member{"iss", keyServerURL})...), es256(g.attacker))
	g.deployAttack(name, class, "iss naming the attacker's key server, whose discovery document and JWKS would verify the token; nothing may be fetched",
		tok, rejected("issuer_unknown"))
}

func (g *gen) duplicates() {
	const class = "duplicate_member"
	hdr := object(header()...)
	base := claims("ci:deploy", "")
	payloadWith := func(jti string, extra string) string {
		c := object(with(base, member{"jti", jti})...)
		return c[:len(c)-1] + "," + extra + "}"
	}
	for _, v := range []struct{ name, what, payload string }{
		{"dup_payload_sub", `sub twice: {"sub":"ci:deploy","sub":"svc:admin"}`, payloadWith("dup_payload_sub", `"sub":"svc:admin"`)},
		{"dup_payload_sub_escaped", `sub twice, the second spelled "s\u0075b"`, payloadWith("dup_payload_sub_escaped", `"s\u0075b":"svc:admin"`)},
		{"dup_payload_iss", "iss twice, the second another issuer", payloadWith("dup_payload_iss", `"iss":"`+OtherIssuer+`"`)},
		{"dup_payload_exp", "exp twice, the second far in the future", payloadWith("dup_payload_exp", `"exp":4102444800`)},
		{"dup_payload_nested", "cnf with jkt twice", payloadWith("dup_payload_nested", `"cnf":{"jkt":"`+thumbprint(g.client)+`","jkt":"`+thumbprint(g.attacker)+`"}`)},
	} {
		g.deployAttack(v.name, class, "a duplicate JSON member in the claims, signed by the issuer: "+v.what,
			compact(hdr, v.payload, es256(g.issuerES)), rejected("jws_duplicate_member"))
	}
	for _, v := range []struct{ name, what, hdr string }{
		{"dup_header_alg_none_first", `alg twice: {"alg":"none","alg":"ES256"}`, `{"alg":"none","alg":"ES256","kid":"` + kidES + `","typ":"at+jwt"}`},
		{"dup_header_alg_none_last", `alg twice: {"alg":"ES256","alg":"none"}`, `{"alg":"ES256","alg":"none","kid":"` + kidES + `","typ":"at+jwt"}`},
		{"dup_header_alg_hs256", `alg twice: ES256 then HS256`, `{"alg":"ES256","kid":"` + kidES + `","typ":"at+jwt","alg":"HS256"}`},
		{"dup_header_kid", "kid twice, the second the attacker's", `{"alg":"ES256","kid":"` + kidES + `","kid":"` + kidAttacker + `","typ":"at+jwt"}`},
		{"dup_header_typ", "typ twice: at+jwt then JWT", `{"alg":"ES256","kid":"` + kidES + `","typ":"at+jwt","typ":"JWT"}`},
	} {
		g.deployAttack(v.name, class, "a duplicate JSON member in the header, signed by the issuer: "+v.what,
			compact(v.hdr, object(claims("ci:deploy", v.name)...), es256(g.issuerES)), rejected("jws_duplicate_member"))
	}
}

// xfcc is the x-forwarded-client-cert element a proxy sends for cert.
func xfcc(cert *x509.Certificate) string {
	return `Cert="` + url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))) + `"`
}

func (g *gen) spoofedHeaders() {
	const class = "headers"
	name := "two_authorization_lines"
	g.attack(name, class, "two Authorization lines: a valid token for the build host, then a forged one",
		deploy(bearer(g.token("ci:deploy", name)), bearer(g.token("ci:deploy", name+"-second")[:40]+"forged")), rejected("authorization_repeated"))
	name = "authorization_comma_joined"
	g.attack(name, class, "two credentials in one Authorization line, joined with a comma",
		deploy([2]string{"Authorization", "Bearer " + g.token("ci:deploy", name) + ", Bearer forged"}), rejected("authorization_repeated"))

	// The reports binding allows GET /v1/reports only. The attacker sends
	// another request and names /v1/reports in the headers a trusted
	// proxy uses to describe the original request.
	for _, v := range []struct{ name, method, uri string }{
		{"x_original_from_untrusted_peer", "X-Original-Method", "X-Original-URI"},
		{"x_forwarded_method_uri_from_untrusted_peer", "X-Forwarded-Method", "X-Forwarded-Uri"},
	} {
		g.attack(v.name, class, "DELETE /v1/admin/users/42 from an untrusted peer, naming GET /v1/reports (the only request the binding allows) in "+
			v.method+" and "+v.uri+"; forward-auth is called directly",
			Request{Method: "DELETE", Target: "/v1/admin/users/42", Peer: Attacker, ForwardAuth: Direct, Headers: [][2]string{
				bearer(g.token("svc:reports", v.name)), {v.method, "GET"}, {v.uri, "/v1/reports"}}},
			denied("rule_failed"))
	}
	// The payments binding requires the payments workload; the attacker
	// sends that workload's certificate in the headers only a trusted
	// proxy may set.
	for _, v := range []struct{ name, header, value string }{
		{"xfcc_from_untrusted_peer", "X-Forwarded-Client-Cert", xfcc(g.svid)},
		{"client_cert_from_untrusted_peer", "Client-Cert", ":" + base64.StdEncoding.EncodeToString(g.svid.Raw) + ":"},
	} {
		g.attack(v.name, class, "the payments workload's certificate in "+v.header+", sent by an untrusted peer (forward-auth called directly)",
			Request{Method: "GET", Target: "/v1/payments", Peer: Attacker, ForwardAuth: Direct, Headers: [][2]string{
				bearer(g.token("svc:payments", v.name)), {v.header, v.value}}},
			denied("workload_absent"))
	}
	for _, v := range []struct{ name, header, value string }{
		{"xff_from_untrusted_peer", "X-Forwarded-For", BuildHost},
		{"forwarded_from_untrusted_peer", "Forwarded", "for=" + BuildHost},
	} {
		g.attack(v.name, class, "a client outside the build hosts naming the build host in "+v.header,
			Request{Method: "POST", Target: "/v1/deploy", Peer: Attacker, Headers: [][2]string{bearer(g.token("ci:deploy", v.name)), {v.header, v.value}}},
			denied("network_not_approved"))
	}
}

// proof is a DPoP proof by k for method and Origin+target, bound to token
// when token is not empty, with jti.
func (g *gen) proof(k *ecdsa.PrivateKey, method, target, token, jti string, set ...member) string {
	c := []member{{"jti", jti}, {"htm", method}, {"htu", Origin + target}, {"iat", At.Unix()}}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c = append(c, member{"ath", b64(sum[:])})
	}
	h := with([]member{{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", raw(ecJWK(k))}}, set...)
	return compact(object(h...), object(c...), es256(k))
}

// tools is PUT /v1/tools/run from the build host with a DPoP-bound token
// and the given proof lines.
func tools(scheme, tok string, proofs ...string) Request {
	r := Request{Method: "PUT", Target: "/v1/tools/run", Peer: BuildHost, Headers: [][2]string{{"Authorization", scheme + " " + tok}}}
	for _, p := range proofs {
		r.Headers = append(r.Headers, [2]string{"DPoP", p})
	}
	return r
}

func (g *gen) dpop() {
	const class = "dpop"
	bound := func(jti string) string {
		return g.token("agent:tools", jti, member{"cnf", raw(object(member{"jkt", thumbprint(g.client)}))})
	}
	name := "two_dpop_lines"
	tok := bound(name)
	g.attack(name, "headers", "two DPoP lines: a valid proof, then one by the attacker's key",
		tools("DPoP", tok, g.proof(g.client, "PUT", "/v1/tools/run", tok, name), g.proof(g.attacker, "PUT", "/v1/tools/run", tok, name+"-second")),
		rejected("dpop_proof_repeated"))
	name = "dpop_bound_token_as_bearer"
	tok = bound(name)
	g.attack(name, class, "a DPoP-bound token presented with the Bearer scheme (stolen without its key)",
		tools("Bearer", tok), rejected("dpop_bound_token_as_bearer"))
	name = "dpop_proof_missing"
	g.attack(name, class, "a DPoP-bound token with the DPoP scheme and no proof", tools("DPoP", bound(name)), rejected("dpop_proof_missing"))
	name = "dpop_proof_attacker_key"
	tok = bound(name)
	g.attack(name, class, "a stolen DPoP-bound token with a proof by the attacker's own key",
		tools("DPoP", tok, g.proof(g.attacker, "PUT", "/v1/tools/run", tok, name)), rejected("dpop_key_mismatch"))
	name = "dpop_proof_htu_other_origin"
	tok = bound(name)
	p := compact(object(member{"typ", "dpop+jwt"}, member{"alg", "ES256"}, member{"jwk", raw(ecJWK(g.client))}),
		object(member{"jti", name}, member{"htm", "PUT"}, member{"htu", "https://evil.example/v1/tools/run"}, member{"iat", At.Unix()},
			member{"ath", athOf(tok)}), es256(g.client))
	g.attack(name, class, "a proof made for another origin", tools("DPoP", tok, p), rejected("dpop_htu_mismatch"))
	for _, v := range []struct{ name, what, code string }{
		{"dpop_proof_alg_none", `a proof with alg "none" and no signature`, "dpop_alg_not_allowed"},
		{"dpop_proof_hs256", "a proof with alg HS256 keyed with its own public JWK", "dpop_alg_not_allowed"},
		{"dpop_proof_jku", "a proof whose header also names a jku at the key server", "dpop_proof_malformed"},
		{"dpop_proof_x5u", "a proof whose header also names an x5u at the key server", "dpop_proof_malformed"},
		{"dpop_proof_private_jwk", "a proof whose jwk carries the private key d", "dpop_jwk_private"},
	} {
		tok := bound(v.name)
		c := object(member{"jti", v.name}, member{"htm", "PUT"}, member{"htu", Origin + "/v1/tools/run"}, member{"iat", At.Unix()}, member{"ath", athOf(tok)})
		h := []member{{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", raw(ecJWK(g.client))}}
		sign := es256(g.client)
		switch v.name {
		case "dpop_proof_alg_none":
			h, sign = with(h, member{"alg", "none"}), fixed(nil)
		case "dpop_proof_hs256":
			h, sign = with(h, member{"alg", "HS256"}), hs("HS256", []byte(ecJWK(g.client)))
		case "dpop_proof_jku":
			h = with(h, member{"jku", keyServerURL + "/jwks.json"})
		case "dpop_proof_x5u":
			h = with(h, member{"x5u", keyServerURL + "/cert.pem"})
		case "dpop_proof_private_jwk":
			d, err := g.client.Bytes()
			if err != nil {
				panic(err)
			}
			h = with(h, member{"jwk", raw(ecJWK(g.client, member{"d", b64(d)}))})
		}
		g.attack(v.name, class, v.what, tools("DPoP", tok, compact(object(h...), c, sign)), rejected(v.code))
	}

	name = "dpop_proof_replayed"
	tok = bound(name)
	p = g.proof(g.client, "PUT", "/v1/tools/run", tok, name)
	g.attack(name, class, "a captured proof sent a second time with its token", tools("DPoP", tok, p), rejected("dpop_replayed"),
		Step{Note: "the proof's first use", Request: tools("DPoP", tok, p), Expect: allowed()})
	name = "dpop_proof_malleated_replay"
	tok = bound(name)
	p = g.proof(g.client, "PUT", "/v1/tools/run", tok, name)
	g.attack(name, class, "a captured proof replayed as its ECDSA twin (r, n-s): other bytes, the same jti", tools("DPoP", tok, malleate(p)),
		rejected("dpop_replayed"), Step{Note: "the proof's first use", Request: tools("DPoP", tok, p), Expect: allowed()})
}

func athOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return b64(sum[:])
}

func (g *gen) controlCases() {
	control := func(name, what string, r Request) {
		g.controls = append(g.controls, Case{Name: name, Class: "control", Attack: what, Request: r, Expect: allowed()})
	}
	control("control_deploy_es256", "a valid ES256 token of the deploy binding from the build host", deploy(bearer(g.token("ci:deploy", "control_deploy_es256"))))
	control("control_deploy_eddsa", "a valid EdDSA token of the deploy binding from the build host",
		deploy(bearer(compact(object(header(member{"alg", "EdDSA"}, member{"kid", kidEd})...), object(claims("ci:deploy", "control_deploy_eddsa")...), eddsa(g.issuerEd)))))
	control("control_deploy_through_trusted_proxy", "the build host behind the trusted proxy, named in X-Forwarded-For",
		Request{Method: "POST", Target: "/v1/deploy", Peer: TrustedProxy, Headers: [][2]string{
			bearer(g.token("ci:deploy", "control_deploy_through_trusted_proxy")), {"X-Forwarded-For", BuildHost}}})
	control("control_reports_get", "GET /v1/reports, the request the reports binding allows, from anywhere",
		Request{Method: "GET", Target: "/v1/reports", Peer: Attacker, Headers: [][2]string{bearer(g.token("svc:reports", "control_reports_get"))}})
	control("control_payments_xfcc_from_trusted_proxy", "the payments workload's certificate in X-Forwarded-Client-Cert from the trusted proxy",
		Request{Method: "GET", Target: "/v1/payments", Peer: TrustedProxy, ForwardAuth: Direct, Headers: [][2]string{
			bearer(g.token("svc:payments", "control_payments_xfcc_from_trusted_proxy")), {"X-Forwarded-Client-Cert", xfcc(g.svid)}}})
	control("control_payments_client_cert_from_trusted_proxy", "the payments workload's certificate in Client-Cert from the trusted proxy",
		Request{Method: "GET", Target: "/v1/payments", Peer: TrustedProxy, ForwardAuth: Direct, Headers: [][2]string{
			bearer(g.token("svc:payments", "control_payments_client_cert_from_trusted_proxy")),
			{"Client-Cert", ":" + base64.StdEncoding.EncodeToString(g.svid.Raw) + ":"}}})
	tok := g.token("agent:tools", "control_tools_dpop", member{"cnf", raw(object(member{"jkt", thumbprint(g.client)}))})
	control("control_tools_dpop", "a DPoP-bound token with a valid proof", tools("DPoP", tok, g.proof(g.client, "PUT", "/v1/tools/run", tok, "control_tools_dpop")))
}

// ---- the deployment

const configYAML = `# The deployment of the attack corpus. Generated by internal/attackcorpus (go run
# ./internal/attackcorpus/gen); do not edit. The issuer is configured as in
# examples/provost.yaml: ES256 and EdDSA, access tokens (at+jwt) only.
version: 1
external_origins: [` + Origin + `]
bindings: bindings.yaml
issuers:
  - issuer: ` + Issuer + `
    audiences: [` + Audience + `]
    algorithms: [ES256, EdDSA]
    jwks_file: issuer.jwks.json
    token_types: [at+jwt]
  - issuer: ` + OtherIssuer + `
    audiences: [` + Audience + `]
    algorithms: [ES256]
    jwks_file: other-issuer.jwks.json
    token_types: [at+jwt]
tokens:
  max_bytes: 16384
  leeway: 60s
  max_act_depth: 4
trust:
  proxies: [` + TrustedProxy + `]
  forwarded_header: x-forwarded-for
  spiffe:
    - trust_domain: ` + TrustDomain + `
      x509_bundle: spiffe-ca.pem
serve:
  forward_auth:
    headers: nginx
`

const bindingsYAML = `# The bindings of the attack corpus. Generated by internal/attackcorpus; do not edit.
version: 1
mode: enforce
networks:
  build-hosts: [` + BuildHost + `/32]
bindings:
  # Every token attack is sent as this binding's request from the build host:
  # a token that got through would be allowed.
  - name: deploy
    match: {issuer: "` + Issuer + `", subject: "ci:deploy"}
    require: {networks: [build-hosts]}
    on_violation: revoke
  - name: reports
    match: {issuer: "` + Issuer + `", subject: "svc:reports"}
    require:
      rule: 'signals.request.method == "GET" && signals.request.path == "/v1/reports"'
    on_violation: deny
  - name: payments
    match: {issuer: "` + Issuer + `", subject: "svc:payments"}
    require: {workloads: ["spiffe://` + TrustDomain + `/payments"]}
    on_violation: deny
  - name: tools
    match: {issuer: "` + Issuer + `", subject: "agent:tools"}
    require: {possession: dpop}
    on_violation: deny
`

const readme = `# Attack corpus

Generated by ` + "`internal/attackcorpus`" + `; do not edit. Regenerate from the repository root with

    go run ./internal/attackcorpus/gen

The output is deterministic (keys from fixed seeds, RFC 6979 ECDSA, every time at 2026-06-01T12:00:00Z):
` + "`TestAttackCorpus`" + ` fails when these files differ from what the generator makes, then sends every
case through the check API, forward-auth (as nginx calls it), ` + "`provost proxy`" + ` and Envoy ext_authz on a
clock stopped at that time, and requires the expected denial and reason codes.

- ` + "`cases.jsonl`" + `: one attack per line: ` + "`name`, `class`, `attack`" + ` (what it attacks), optional ` + "`setup`" + `
  requests, the ` + "`request`" + ` (method, target, the peer address it is sent from, header lines in order,
  and how forward-auth is called: ` + "`nginx`" + ` by default, or ` + "`direct`" + ` from the peer itself), and
  ` + "`expect`" + `: the decision, the credential verdict, the reason codes that must be present, and each
  transport's HTTP status (and ext_authz's gRPC code).
- ` + "`controls.jsonl`" + `: valid requests in the same form that every transport must allow.
- ` + "`provost.yaml`, `bindings.yaml`" + `, the JWKS files and ` + "`spiffe-ca.pem`" + `: the deployment they are judged by.

Header keys (` + "`jku`, `x5u`" + `), a URL ` + "`kid`" + ` and an unknown ` + "`iss`" + ` point to http://` + KeyServer + `; the test
listens there and requires that nothing connects. The keys are test keys from published seeds.
`
