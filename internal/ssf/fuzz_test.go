package ssf

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/revocation"
)

var setErrCodes = []string{CodeInvalidRequest, CodeInvalidKey, CodeInvalidIssuer, CodeInvalidAudience, CodeAuthenticationFailed, CodeAccessDenied}

func fuzzReceiver(f *testing.F) (*fixture, *Receiver) {
	fx := newFixture(f)
	r, err := NewReceiver(ReceiverConfig{
		Transmitters: []TrustedTransmitter{{Issuer: fx.iss, Audience: fx.aud, JWKS: fx.jwks(f),
			AcceptKinds: []revocation.Kind{revocation.KindFingerprint, revocation.KindJTI, revocation.KindSubject, revocation.KindIssuer}}},
		Replay:       failingReplay{},
		OnRevocation: func(context.Context, revocation.Revocation) error { return nil },
		Now:          fx.clock.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	return fx, r
}

// checkOutcome holds for every input: a refusal is a 400 with one of the
// RFC 8935 codes that does not repeat the token; an acceptance yields only
// valid revocations.
func checkOutcome(t *testing.T, token string, c *checked, serr *SETError) {
	if serr != nil {
		if serr.Status != http.StatusBadRequest || !slices.Contains(setErrCodes, serr.Code) || serr.Description == "" {
			t.Fatalf("refusal %+v", serr)
		}
		if len(token) >= 16 && strings.Contains(serr.Description, token) {
			t.Fatalf("the description repeats the token: %q", serr.Description)
		}
		return
	}
	if c == nil || c.jti == "" || c.iss == "" {
		t.Fatalf("accepted without iss or jti: %+v", c)
	}
	for _, rev := range c.revs {
		if err := rev.Validate(); err != nil {
			t.Fatalf("accepted an invalid revocation %+v: %v", rev, err)
		}
	}
}

// FuzzReceiverParse feeds arbitrary bodies to the receiver's SET parser and
// checks (no signature holds, so this explores the parser and the refusals).
func FuzzReceiverParse(f *testing.F) {
	fx, r := fuzzReceiver(f)
	valid := sign(f, fx.key, fx.header(), fx.claims(f))
	segs := strings.Split(valid, ".")
	for _, s := range []string{
		valid,
		segs[0] + "." + segs[1] + ".",
		b64([]byte(`{"alg":"none","typ":"secevent+jwt"}`)) + "." + segs[1] + ".",
		signHS256(f, []byte("k"), map[string]any{"alg": "HS256", "typ": "secevent+jwt"}, fx.claims(f)),
		"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		`{"payload":"e30","signatures":[]}`,
		"", ".", "..", "a.b.c",
		b64([]byte(`{"alg":"ES256","typ":"secevent+jwt","alg":"none"}`)) + "." + segs[1] + "." + segs[2],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, perr := parseSET(token, DefaultMaxBodyBytes)
		if perr == nil && (p == nil || p.iss == "" || p.tok == nil) {
			t.Fatalf("parsed without iss: %+v", p)
		}
		c, serr := r.check(token, "")
		if serr == nil && perr != nil {
			t.Fatalf("check accepted what the parser refused: %v", perr)
		}
		checkOutcome(t, token, c, serr)
	})
}

// FuzzReceiverClaims signs arbitrary payloads with the trusted key, so the
// claim checks and the event mapping are explored past the signature.
func FuzzReceiverClaims(f *testing.F) {
	fx, r := fuzzReceiver(f)
	for _, c := range []string{
		string(mustJSON(f, fx.claims(f))),
		`{"iss":"https://tx.example","jti":"j","iat":1780315200,"aud":["x","https://rx.example/ssf"],"sub_id":{"format":"iss_sub","iss":"https://sts.example","sub":"ci"},"events":{"` + EventSessionRevoked + `":{"event_timestamp":1780315100}}}`,
		`{"iss":"https://tx.example","jti":"j","iat":1780315200,"aud":"https://rx.example/ssf","sub_id":{"format":"complex","user":{"format":"iss_sub","iss":"i","sub":"s"}},"events":{"` + EventSessionRevoked + `":{}}}`,
		`{"iss":"https://tx.example","jti":"j","iat":1780315200,"aud":"https://rx.example/ssf","sub_id":{"format":"jwt_id","iss":"i","jti":"t"},"events":{"` + EventCredentialChange + `":{"credential_type":"x","change_type":"delete","reason_admin":{"en":"r"}}}}`,
		`{"iss":"https://tx.example","jti":"j","iat":1780315200,"aud":"https://rx.example/ssf","sub_id":{"format":"uri","uri":"https://sts.example"},"events":{"` + EventSessionRevoked + `":{}}}`,
		`{"iss":"https://tx.example","jti":"j","iat":1780315200,"aud":"https://rx.example/ssf","events":{"` + EventVerification + `":{"state":"s"}}}`,
		`{"iss":"https://tx.example","jti":"j","iat":1e300,"aud":"https://rx.example/ssf","events":{}}`,
	} {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		token := signRaw(t, fx.key, mustJSON(t, fx.header()), payload)
		c, serr := r.check(token, "")
		checkOutcome(t, token, c, serr)
	})
}
