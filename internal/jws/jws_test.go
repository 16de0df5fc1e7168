package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/reason"
)

const es256 = `{"alg":"ES256","typ":"JWT"}`

var payload = []byte(`{"iss":"https://issuer.example","sub":"svc-1"}`)

func TestParseRejects(t *testing.T) {
	k := keys()
	good := signed(t, "ES256", k.p256, es256, payload)
	h, p, s := splitTok(good)
	hdr := func(json string) string { return enc([]byte(json)) + "." + p + "." + s }

	tests := []struct {
		name  string
		token string
		max   int
		want  reason.Code
	}{
		{"empty", "", 0, reason.TokenMissing},
		{"oversize explicit", good, 10, reason.TokenTooLarge},
		{"oversize default", h + "." + strings.Repeat("A", DefaultMaxBytes) + "." + s, 0, reason.TokenTooLarge},
		{"json serialization", `{"payload":"` + p + `","signatures":[]}`, 0, reason.JWSJSONSerialization},
		{"two segments", h + "." + p, 0, reason.JWSSegmentCount},
		{"one segment", h, 0, reason.JWSSegmentCount},
		{"four segments", good + ".AAAA", 0, reason.JWSSegmentCount},
		{"four segments, empty last", good + ".", 0, reason.JWSSegmentCount},
		{"padded base64", h + "." + enc([]byte("abcd")) + "==." + s, 0, reason.JWSBase64},
		{"non-canonical trailing bits", h + ".YR." + s, 0, reason.JWSBase64},
		{"impossible length", h + ".A." + s, 0, reason.JWSBase64},
		{"std alphabet plus", h + "." + p + "+." + s, 0, reason.JWSBase64},
		{"std alphabet slash", h + "./" + p + "." + s, 0, reason.JWSBase64},
		{"newline in segment", h[:4] + "\n" + h[4:] + "." + p + "." + s, 0, reason.JWSBase64},
		{"carriage return in signature", h + "." + p + "." + s[:8] + "\r" + s[8:], 0, reason.JWSBase64},
		{"space in segment", h + ". " + p + "." + s, 0, reason.JWSBase64},
		{"leading space", " " + good, 0, reason.JWSBase64},
		{"header array", hdr(`["ES256"]`), 0, reason.JWSMalformedJSON},
		{"header string", hdr(`"ES256"`), 0, reason.JWSMalformedJSON},
		{"header truncated", hdr(`{"alg":"ES256"`), 0, reason.JWSMalformedJSON},
		{"header trailing data", hdr(`{"alg":"ES256"}x`), 0, reason.JWSMalformedJSON},
		{"header two objects", hdr(`{"alg":"ES256"}{}`), 0, reason.JWSMalformedJSON},
		{"header empty", "." + p + "." + s, 0, reason.JWSMalformedJSON},
		{"header invalid utf8", hdr("{\"alg\":\"ES256\",\"kid\":\"\xff\"}"), 0, reason.JWSMalformedJSON},
		{"header lone surrogate", hdr(`{"alg":"ES256","kid":"\ud800"}`), 0, reason.JWSMalformedJSON},
		{"header control char", hdr("{\"alg\":\"ES256\",\"kid\":\"a\x01\"}"), 0, reason.JWSMalformedJSON},
		{"header bad number", hdr(`{"alg":"ES256","n":01}`), 0, reason.JWSMalformedJSON},
		{"header single quotes", hdr(`{'alg':'ES256'}`), 0, reason.JWSMalformedJSON},
		{"alg not a string", hdr(`{"alg":256}`), 0, reason.JWSMalformedJSON},
		{"too deep", hdr(`{"alg":"ES256","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`), 0, reason.JWSMalformedJSON},
		{"duplicate alg", hdr(`{"alg":"ES256","alg":"ES256"}`), 0, reason.JWSDuplicateMember},
		{"duplicate alg, second none", hdr(`{"alg":"ES256","alg":"none"}`), 0, reason.JWSDuplicateMember},
		{"duplicate via escape", hdr(`{"alg":"ES256","\u0061lg":"none"}`), 0, reason.JWSDuplicateMember},
		{"nested duplicate", hdr(`{"alg":"ES256","jwk":{"kty":"EC","kty":"RSA"}}`), 0, reason.JWSDuplicateMember},
		{"deep nested duplicate", hdr(`{"alg":"ES256","x":[{"a":{"b":1,"b":2}}]}`), 0, reason.JWSDuplicateMember},
		{"alg none", hdr(`{"alg":"none"}`), 0, reason.JWSAlgNone},
		{"alg None", hdr(`{"alg":"None"}`), 0, reason.JWSAlgNone},
		{"alg NONE", hdr(`{"alg":"NONE"}`), 0, reason.JWSAlgNone},
		{"alg spaced nOnE", hdr(`{"alg":" nOnE"}`), 0, reason.JWSAlgNone},
		{"alg none trailing tab", hdr(`{"alg":"none\t"}`), 0, reason.JWSAlgNone},
		{"alg none escaped", hdr(`{"alg":"\u006eone"}`), 0, reason.JWSAlgNone},
		{"alg missing", hdr(`{"typ":"JWT"}`), 0, reason.JWSAlgNone},
		{"alg empty", hdr(`{"alg":""}`), 0, reason.JWSAlgNone},
		{"alg none, empty signature", hdr(`{"alg":"none"}`)[:len(hdr(`{"alg":"none"}`))-len(s)], 0, reason.JWSAlgNone},
		{"crit", hdr(`{"alg":"ES256","crit":["exp"],"exp":1}`), 0, reason.JWSCritUnsupported},
		{"crit empty", hdr(`{"alg":"ES256","crit":[]}`), 0, reason.JWSCritUnsupported},
		{"crit b64", hdr(`{"alg":"ES256","b64":false,"crit":["b64"]}`), 0, reason.JWSCritUnsupported},
		{"b64", hdr(`{"alg":"ES256","b64":true}`), 0, reason.JWSB64Unsupported},
		{"empty signature", h + "." + p + ".", 0, reason.JWSBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Parse(tc.token, tc.max)
			wantCode(t, err, tc.want)
			if tok != nil {
				t.Fatalf("rejected token returned a *Token")
			}
		})
	}
}

func splitTok(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func TestParseAccepts(t *testing.T) {
	k := keys()
	header := `{"alg":"ES256","kid":"k\u002d1","typ":"dpop+jwt","cty":"JWT","x5t#S256":"abc"}`
	tok := signed(t, "ES256", k.p256, header, payload)
	got, err := Parse(tok, 0)
	wantCode(t, err, reason.OK)
	h := got.Header
	if h.Alg != "ES256" || h.Kid != "k-1" || h.Typ != "dpop+jwt" || h.Cty != "JWT" || !h.HasX5T {
		t.Fatalf("header fields: %+v", h)
	}
	if string(h.Raw) != header || string(got.Payload) != string(payload) {
		t.Fatalf("raw header or payload differ")
	}
	if got.Compact != tok || got.SigningInput != tok[:strings.LastIndexByte(tok, '.')] {
		t.Fatalf("compact or signing input wrong")
	}
	if len(got.Signature) != 64 {
		t.Fatalf("signature length %d", len(got.Signature))
	}
	// Empty payload is a valid JWS; callers decide what payload they need.
	if _, err := Parse(signed(t, "ES256", k.p256, es256, nil), 0); err != nil {
		t.Fatalf("empty payload: %v", err)
	}
	// Whitespace inside the header JSON is fine (RFC 8259).
	if _, err := Parse(signed(t, "ES256", k.p256, "{ \"alg\" :\t\"ES256\" }\n", payload), 0); err != nil {
		t.Fatalf("spaced header: %v", err)
	}
	// Exactly at the size limit.
	if _, err := Parse(tok, len(tok)); err != nil {
		t.Fatalf("at limit: %v", err)
	}
}

func TestKeyMaterial(t *testing.T) {
	k := keys()
	tests := []struct {
		header string
		want   string
	}{
		{`{"alg":"ES256"}`, ""},
		{`{"alg":"ES256","x5t":"abc"}`, ""},
		{`{"alg":"ES256","jwk":{"kty":"EC"}}`, "jwk"},
		{`{"alg":"ES256","jku":"https://a.example/jwks"}`, "jku"},
		{`{"alg":"ES256","x5u":"https://a.example/cert"}`, "x5u"},
		{`{"alg":"ES256","x5c":["MIIB"]}`, "x5c"},
		{`{"alg":"ES256","x5c":["MIIB"],"jku":"https://a.example/jwks"}`, "jku"},
		{`{"alg":"ES256","x5u":"u","jwk":{"kty":"EC"}}`, "jwk"},
	}
	for _, tc := range tests {
		tok, err := Parse(signed(t, "ES256", k.p256, tc.header, payload), 0)
		wantCode(t, err, reason.OK)
		if got := tok.Header.KeyMaterial(); got != tc.want {
			t.Errorf("%s: KeyMaterial %q, want %q", tc.header, got, tc.want)
		}
	}
	tok, _ := Parse(signed(t, "ES256", k.p256, `{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256"}}`, payload), 0)
	if string(tok.Header.JWK) != `{"kty":"EC","crv":"P-256"}` {
		t.Fatalf("JWK raw = %s", tok.Header.JWK)
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := keys()
	tests := []struct {
		alg  string
		priv crypto.Signer
	}{
		{"ES256", k.p256}, {"ES384", k.p384}, {"ES512", k.p521},
		{"RS256", k.rsa}, {"RS384", k.rsa}, {"RS512", k.rsa},
		{"PS256", k.rsa}, {"PS384", k.rsa}, {"PS512", k.rsa},
		{"EdDSA", k.ed}, {"Ed25519", k.ed},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			tokStr := signed(t, tc.alg, tc.priv, `{"alg":"`+tc.alg+`"}`, payload)
			tok, err := Parse(tokStr, 0)
			wantCode(t, err, reason.OK)
			pub := tc.priv.Public()
			wantCode(t, Verify(tok, []string{"HS256", tc.alg}, pub), reason.OK)
			jwk := &jose.JSONWebKey{Key: pub, Algorithm: tc.alg, Use: "sig"}
			wantCode(t, Verify(tok, []string{tc.alg}, jwk), reason.OK)
			wantCode(t, Verify(tok, []string{tc.alg}, *jwk), reason.OK)
			// The same signature under another payload must fail.
			other := signed(t, tc.alg, tc.priv, `{"alg":"`+tc.alg+`"}`, []byte("other"))
			_, _, otherSig := splitTok(other)
			h, p, _ := splitTok(tokStr)
			mixed := mustParse(t, h+"."+p+"."+otherSig)
			wantCode(t, Verify(mixed, []string{tc.alg}, pub), reason.JWSBadSignature)
		})
	}
}

// TestVerifyEd25519Names checks RFC 9864: "EdDSA" and "Ed25519" name the same
// algorithm in the allow-list and in a JWK's alg, whichever the header says.
func TestVerifyEd25519Names(t *testing.T) {
	k := keys()
	for _, hdr := range []string{"EdDSA", "Ed25519"} {
		tok := mustParse(t, signed(t, hdr, k.ed, `{"alg":"`+hdr+`"}`, payload))
		for _, allowed := range []string{"EdDSA", "Ed25519"} {
			t.Run(hdr+"/allowed "+allowed, func(t *testing.T) {
				wantCode(t, Verify(tok, []string{allowed}, k.ed.Public()), reason.OK)
				for _, jwkAlg := range []string{"", "EdDSA", "Ed25519"} {
					jwk := &jose.JSONWebKey{Key: k.ed.Public(), Algorithm: jwkAlg, Use: "sig"}
					wantCode(t, Verify(tok, []string{allowed}, jwk), reason.OK)
				}
			})
		}
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"EdDSA", "Ed25519", true}, {"Ed25519", "EdDSA", true}, {"Ed25519", "Ed25519", true},
		{"ES256", "ES256", true}, {"ES256", "ES384", false}, {"EdDSA", "Ed448", false},
		{"Ed25519", "ed25519", false}, {"eddsa", "Ed25519", false}, {"", "", true},
	} {
		if got := SameAlg(c.a, c.b); got != c.same {
			t.Errorf("SameAlg(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
	if !AlgAllowed([]string{"ES256", "EdDSA"}, "Ed25519") || AlgAllowed([]string{"ES256", "Ed25519"}, "Ed448") || AlgAllowed(nil, "EdDSA") {
		t.Error("AlgAllowed does not follow SameAlg")
	}
}

func TestVerifyRejects(t *testing.T) {
	k := keys()
	n := elliptic.P256().Params().N
	one := big.NewInt(1)
	es := signed(t, "ES256", k.p256, es256, payload)
	sig := mustParse(t, es).Signature
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	padded := append(append(make([]byte, 0, 65), sig[:32]...), append([]byte{0}, sig[32:]...)...)
	flipped := append([]byte(nil), sig...)
	flipped[10] ^= 1
	hs := enc([]byte(`{"alg":"HS256"}`)) + "." + enc(payload) + "." + enc(make([]byte, 32))
	rs := signed(t, "RS256", k.rsa, `{"alg":"RS256"}`, payload)
	rsWeak := signed(t, "RS256", k.rsa1024, `{"alg":"RS256"}`, payload)
	ed := signed(t, "EdDSA", k.ed, `{"alg":"EdDSA"}`, payload)
	ed25519Tok := signed(t, "Ed25519", k.ed, `{"alg":"Ed25519"}`, payload)
	edLower := signed(t, "Ed25519", k.ed, `{"alg":"ed25519"}`, payload)
	edUpper := signed(t, "Ed25519", k.ed, `{"alg":"ED25519"}`, payload)
	ed448 := signed(t, "Ed25519", k.ed, `{"alg":"Ed448"}`, payload)
	es384 := signed(t, "ES384", k.p384, `{"alg":"ES384"}`, payload)
	unknown := signed(t, "ES256", k.p256, `{"alg":"ES256K"}`, payload)
	psIn := enc([]byte(`{"alg":"PS256"}`)) + "." + enc(payload)
	psDigest := sha256.Sum256([]byte(psIn))
	psShortSalt, err := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, psDigest[:], &rsa.PSSOptions{SaltLength: 20})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   string
		allowed []string
		key     any
		want    reason.Code
	}{
		{"alg not allowed", es, []string{"RS256", "EdDSA"}, &k.p256.PublicKey, reason.JWSAlgNotAllowed},
		{"alg allowed list empty", es, nil, &k.p256.PublicKey, reason.JWSAlgNotAllowed},
		{"alg case differs", es, []string{"es256"}, &k.p256.PublicKey, reason.JWSAlgNotAllowed},
		{"unsupported alg even if allowed", unknown, []string{"ES256K"}, &k.p256.PublicKey, reason.JWSAlgNotAllowed},
		{"HS256 not allowed", hs, []string{"ES256"}, []byte("secret"), reason.JWSSymmetricAlg},
		{"HS256 allowed by caller", hs, []string{"HS256"}, []byte("secret"), reason.JWSSymmetricAlg},
		{"nil key", es, []string{"ES256"}, nil, reason.JWSKeyNotFound},
		{"nil JWK", es, []string{"ES256"}, (*jose.JSONWebKey)(nil), reason.JWSKeyNotFound},
		{"RSA key with ES256", es, []string{"ES256"}, &k.rsa.PublicKey, reason.JWSKeyAlgMismatch},
		{"P-384 key with ES256", es, []string{"ES256"}, &k.p384.PublicKey, reason.JWSKeyAlgMismatch},
		{"P-256 key with ES384", es384, []string{"ES384"}, &k.p256.PublicKey, reason.JWSKeyAlgMismatch},
		{"Ed25519 key with ES256", es, []string{"ES256"}, k.ed.Public(), reason.JWSKeyAlgMismatch},
		{"EC key with EdDSA", ed, []string{"EdDSA"}, &k.p256.PublicKey, reason.JWSKeyAlgMismatch},
		{"EC key with RS256", rs, []string{"RS256"}, &k.p256.PublicKey, reason.JWSKeyAlgMismatch},
		{"RSA 1024", rsWeak, []string{"RS256"}, &k.rsa1024.PublicKey, reason.JWSKeyAlgMismatch},
		{"private key", es, []string{"ES256"}, k.p256, reason.JWSKeyAlgMismatch},
		{"symmetric key bytes", es, []string{"ES256"}, []byte("secret"), reason.JWSKeyAlgMismatch},
		{"JWK alg differs", es, []string{"ES256"}, &jose.JSONWebKey{Key: &k.p256.PublicKey, Algorithm: "ES384"}, reason.JWSKeyAlgMismatch},
		{"JWK use enc", es, []string{"ES256"}, &jose.JSONWebKey{Key: &k.p256.PublicKey, Use: "enc"}, reason.JWSKeyAlgMismatch},
		{"JWK holds private key", es, []string{"ES256"}, &jose.JSONWebKey{Key: k.p256}, reason.JWSKeyAlgMismatch},
		{"DER signature", withSig(es, der), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSAForm},
		{"s padded to 33 bytes", withSig(es, padded), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSAForm},
		{"short signature", withSig(es, sig[:63]), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSAForm},
		{"P-521 size sig on ES256", withSig(es, make([]byte, 132)), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSAForm},
		{"r = 0", withSig(es, ecSig(32, big.NewInt(0), s)), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSARange},
		{"s = 0", withSig(es, ecSig(32, r, big.NewInt(0))), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSARange},
		{"s = N", withSig(es, ecSig(32, r, n)), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSARange},
		{"s = N+1", withSig(es, ecSig(32, r, new(big.Int).Add(n, one))), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSARange},
		{"r = N", withSig(es, ecSig(32, n, s)), []string{"ES256"}, &k.p256.PublicKey, reason.JWSECDSARange},
		{"flipped bit", withSig(es, flipped), []string{"ES256"}, &k.p256.PublicKey, reason.JWSBadSignature},
		{"wrong EC key", es, []string{"ES256"}, mustECKey(t), reason.JWSBadSignature},
		{"wrong RSA signature", withSig(rs, make([]byte, 256)), []string{"RS256"}, &k.rsa.PublicKey, reason.JWSBadSignature},
		{"PS256 key for RS256 sig", strings.Replace(rs, enc([]byte(`{"alg":"RS256"}`)), enc([]byte(`{"alg":"PS256"}`)), 1), []string{"PS256"}, &k.rsa.PublicKey, reason.JWSBadSignature},
		{"PSS salt length 20", psIn + "." + enc(psShortSalt), []string{"PS256"}, &k.rsa.PublicKey, reason.JWSBadSignature},
		{"wrong EdDSA sig", withSig(ed, make([]byte, 64)), []string{"EdDSA"}, k.ed.Public(), reason.JWSBadSignature},
		{"wrong Ed25519 sig", withSig(ed25519Tok, make([]byte, 64)), []string{"Ed25519"}, k.ed.Public(), reason.JWSBadSignature},
		{"Ed25519 alg not allowed", ed25519Tok, []string{"ES256"}, k.ed.Public(), reason.JWSAlgNotAllowed},
		{"EdDSA alg not allowed", ed, []string{"ES256"}, k.ed.Public(), reason.JWSAlgNotAllowed},
		{"ed25519 (case differs) allowed by caller", edLower, []string{"ed25519", "Ed25519", "EdDSA"}, k.ed.Public(), reason.JWSAlgNotAllowed},
		{"ED25519 (case differs)", edUpper, []string{"Ed25519", "EdDSA"}, k.ed.Public(), reason.JWSAlgNotAllowed},
		{"Ed448 allowed by caller", ed448, []string{"Ed448", "EdDSA", "Ed25519"}, k.ed.Public(), reason.JWSAlgNotAllowed},
		{"EC key with Ed25519", ed25519Tok, []string{"Ed25519"}, &k.p256.PublicKey, reason.JWSKeyAlgMismatch},
		{"JWK alg Ed448 with Ed25519", ed25519Tok, []string{"Ed25519"}, &jose.JSONWebKey{Key: k.ed.Public(), Algorithm: "Ed448"}, reason.JWSKeyAlgMismatch},
		{"JWK alg ES256 with EdDSA", ed, []string{"EdDSA"}, &jose.JSONWebKey{Key: k.ed.Public(), Algorithm: "ES256"}, reason.JWSKeyAlgMismatch},
		{"short EdDSA sig", withSig(ed, make([]byte, 63)), []string{"EdDSA"}, k.ed.Public(), reason.JWSBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, Verify(mustParse(t, tc.token), tc.allowed, tc.key), tc.want)
		})
	}
	wantCode(t, Verify(nil, []string{"ES256"}, &k.p256.PublicKey), reason.TokenMissing)
}

// TestVerifyForgedToken checks that a Token whose parts no longer match its
// Compact form is refused rather than half-checked.
func TestVerifyForgedToken(t *testing.T) {
	k := keys()
	tok := mustParse(t, signed(t, "ES256", k.p256, es256, payload))
	tok.SigningInput = "x"
	wantCode(t, Verify(tok, []string{"ES256"}, &k.p256.PublicKey), reason.InternalError)
}

func mustParse(t *testing.T, s string) *Token {
	t.Helper()
	tok, err := Parse(s, 0)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tok
}

func mustECKey(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}
