package ssf

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/revocation"
)

// TestReceiverRefuses sends one bad request per case and checks the HTTP
// status, the RFC 8935 err code, that nothing was revoked, and that the
// answer never repeats the token.
func TestReceiverRefuses(t *testing.T) {
	f := newFixture(t)
	other := newP256(t)
	const authz = "Bearer rx-secret-for-tx2"
	tx2 := TrustedTransmitter{
		Issuer: "https://tx2.example", Audience: f.aud, JWKS: f.jwks(t),
		AuthorizationHeader: authz, TokenIssuers: []string{"https://sts.example"},
	}
	_, srv, col := newReceiver(t, f, func(c *ReceiverConfig) {
		c.Transmitters = append(c.Transmitters, tx2)
	})

	with := func(mod func(h, c map[string]any)) string {
		h, c := f.header(), f.claims(t)
		mod(h, c)
		return sign(t, f.key, h, c)
	}
	sessionRevoked := func(c map[string]any, sub map[string]any) {
		c["sub_id"] = sub
		c["events"] = map[string]any{EventSessionRevoked: map[string]any{}}
	}
	valid := with(func(h, c map[string]any) {})
	segs := strings.Split(valid, ".")

	cases := []struct {
		name        string
		token       string
		contentType string
		method      string
		hdr         map[string]string
		status      int
		code        string
	}{
		{name: "bad signature (other key, same kid)", token: sign(t, other, f.header(), f.claims(t)), code: CodeInvalidKey},
		{name: "signature of another payload", token: segs[0] + "." + b64(mustJSON(t, f.claims(t))) + "." + segs[2], code: CodeInvalidKey},
		{name: "wrong aud", token: with(func(h, c map[string]any) { c["aud"] = "https://someone-else.example" }), code: CodeInvalidAudience},
		{name: "aud array without us", token: with(func(h, c map[string]any) { c["aud"] = []string{"a", "b"} }), code: CodeInvalidAudience},
		{name: "no aud", token: with(func(h, c map[string]any) { delete(c, "aud") }), code: CodeInvalidAudience},
		{name: "wrong iss", token: with(func(h, c map[string]any) { c["iss"] = "https://evil.example" }), code: CodeInvalidIssuer},
		{name: "alg none", token: b64(mustJSON(t, map[string]any{"alg": "none", "typ": "secevent+jwt"})) + "." + b64(mustJSON(t, f.claims(t))) + ".", code: CodeInvalidRequest},
		{name: "alg none with a signature", token: b64(mustJSON(t, map[string]any{"alg": "None", "typ": "secevent+jwt"})) + "." + segs[1] + "." + segs[2], code: CodeInvalidRequest},
		{name: "HS256", token: signHS256(t, []byte("shared-secret-shared-secret-1234"), map[string]any{"alg": "HS256", "typ": "secevent+jwt", "kid": f.kid}, f.claims(t)), code: CodeInvalidKey},
		{name: "alg not accepted (ES384)", token: with(func(h, c map[string]any) { h["alg"] = "ES384" }), code: CodeInvalidKey},
		{name: "alg not accepted (PS256)", token: with(func(h, c map[string]any) { h["alg"] = "PS256" }), code: CodeInvalidKey},
		{name: "EdDSA with an EC key", token: with(func(h, c map[string]any) { h["alg"] = "EdDSA" }), code: CodeInvalidKey},
		{name: "unknown kid", token: with(func(h, c map[string]any) { h["kid"] = "tx-9" }), code: CodeInvalidKey},
		{name: "key in the header", token: with(func(h, c map[string]any) {
			h["jwk"] = jose.JSONWebKey{Key: &other.PublicKey}
		}), code: CodeInvalidKey},
		{name: "no typ", token: with(func(h, c map[string]any) { delete(h, "typ") }), code: CodeInvalidRequest},
		{name: "typ JWT", token: with(func(h, c map[string]any) { h["typ"] = "JWT" }), code: CodeInvalidRequest},
		{name: "nested JWT", token: with(func(h, c map[string]any) { h["cty"] = "JWT" }), code: CodeInvalidRequest},
		{name: "crit header", token: with(func(h, c map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), code: CodeInvalidRequest},
		{name: "JWE", token: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", code: CodeInvalidRequest},
		{name: "JWS JSON serialization", token: `{"payload":"e30","protected":"e30","signature":"AA"}`, code: CodeInvalidRequest},
		{name: "not a JWS", token: "hello", code: CodeInvalidRequest},
		{name: "empty body", token: "", code: CodeInvalidRequest},
		{name: "duplicate claim", token: signRaw(t, f.key, mustJSON(t, f.header()), []byte(`{"iss":"https://tx.example","iss":"https://tx.example"}`)), code: CodeInvalidRequest},
		{name: "payload not an object", token: signRaw(t, f.key, mustJSON(t, f.header()), []byte(`["iss"]`)), code: CodeInvalidRequest},
		{name: "no iss", token: with(func(h, c map[string]any) { delete(c, "iss") }), code: CodeInvalidRequest},
		{name: "exp present", token: with(func(h, c map[string]any) { c["exp"] = f.clock.Now().Add(time.Hour).Unix() }), code: CodeInvalidRequest},
		{name: "sub present", token: with(func(h, c map[string]any) { c["sub"] = "someone" }), code: CodeInvalidRequest},
		{name: "iat in the future", token: with(func(h, c map[string]any) { c["iat"] = f.clock.Now().Add(2 * time.Minute).Unix() }), code: CodeInvalidRequest},
		{name: "iat too old", token: with(func(h, c map[string]any) { c["iat"] = f.clock.Now().Add(-2 * time.Hour).Unix() }), code: CodeInvalidRequest},
		{name: "no iat", token: with(func(h, c map[string]any) { delete(c, "iat") }), code: CodeInvalidRequest},
		{name: "iat a string", token: with(func(h, c map[string]any) { c["iat"] = "now" }), code: CodeInvalidRequest},
		{name: "no jti", token: with(func(h, c map[string]any) { delete(c, "jti") }), code: CodeInvalidRequest},
		{name: "jti too long", token: with(func(h, c map[string]any) { c["jti"] = strings.Repeat("j", 257) }), code: CodeInvalidRequest},
		{name: "no events", token: with(func(h, c map[string]any) { delete(c, "events") }), code: CodeInvalidRequest},
		{name: "event not an object", token: with(func(h, c map[string]any) { c["events"] = map[string]any{EventCredentialChange: "revoke"} }), code: CodeInvalidRequest},
		{name: "credential-change without credential_type", token: with(func(h, c map[string]any) {
			c["events"] = map[string]any{EventCredentialChange: map[string]any{"change_type": "revoke"}}
		}), code: CodeInvalidRequest},
		{name: "credential-change with an unknown change_type", token: with(func(h, c map[string]any) {
			c["events"] = map[string]any{EventCredentialChange: map[string]any{"credential_type": "x", "change_type": "obliterate"}}
		}), code: CodeInvalidRequest},
		{name: "revocation event without sub_id", token: with(func(h, c map[string]any) { delete(c, "sub_id") }), code: CodeInvalidRequest},
		{name: "sub_id without format", token: with(func(h, c map[string]any) { c["sub_id"] = map[string]any{"id": "x"} }), code: CodeInvalidRequest},
		{name: "iss_sub without sub", token: with(func(h, c map[string]any) {
			sessionRevoked(c, map[string]any{"format": "iss_sub", "iss": "https://sts.example"})
		}), code: CodeInvalidRequest},
		{name: "revocation value with a control character", token: with(func(h, c map[string]any) {
			sessionRevoked(c, map[string]any{"format": "iss_sub", "iss": "https://sts.example", "sub": "a\nb"})
		}), code: CodeInvalidRequest},
		{name: "issuer revocation not accepted from this transmitter", token: with(func(h, c map[string]any) {
			sessionRevoked(c, map[string]any{"format": "uri", "uri": "https://sts.example"})
		}), code: CodeAccessDenied},
		{name: "token issuer outside the transmitter's scope", hdr: map[string]string{"Authorization": authz}, token: with(func(h, c map[string]any) {
			c["iss"] = tx2.Issuer
			sessionRevoked(c, map[string]any{"format": "iss_sub", "iss": "https://other-sts.example", "sub": "ci-runner"})
		}), code: CodeAccessDenied},
		{name: "missing authorization", token: with(func(h, c map[string]any) { c["iss"] = tx2.Issuer }), code: CodeAuthenticationFailed},
		{name: "wrong authorization", hdr: map[string]string{"Authorization": "Bearer guess"}, token: with(func(h, c map[string]any) { c["iss"] = tx2.Issuer }), code: CodeAuthenticationFailed},
		{name: "too large body", token: valid + strings.Repeat("A", DefaultMaxBodyBytes), status: http.StatusRequestEntityTooLarge, code: CodeInvalidRequest},
		{name: "wrong content type", token: valid, contentType: "application/json", status: http.StatusUnsupportedMediaType, code: CodeInvalidRequest},
		{name: "no content type", token: valid, contentType: "-", status: http.StatusUnsupportedMediaType, code: CodeInvalidRequest},
		{name: "GET", token: valid, method: http.MethodGet, status: http.StatusMethodNotAllowed, code: CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			switch ct {
			case "":
				ct = ContentType
			case "-":
				ct = ""
			}
			var a answer
			if tc.method == http.MethodGet {
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				a.status, a.err = resp.StatusCode, CodeInvalidRequest
			} else {
				a = post(t, srv.URL, ct, tc.token, tc.hdr)
			}
			want := tc.status
			if want == 0 {
				want = http.StatusBadRequest
			}
			if a.status != want || a.err != tc.code {
				t.Fatalf("answer %d %q (%s), want %d %q", a.status, a.err, a.desc, want, tc.code)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) >= 16 && strings.Contains(a.body, part) {
					t.Fatalf("the answer repeats part of the token: %s", a.body)
				}
			}
		})
	}
	if got := col.list(); len(got) != 0 {
		t.Fatalf("refused SETs revoked %v", got)
	}

	// The valid token, sent after all that, is accepted.
	if a := post(t, srv.URL, ContentType, valid, nil); a.status != http.StatusAccepted || a.body != "" {
		t.Fatalf("valid SET: %d %q", a.status, a.body)
	}
}

func TestReceiverReplay(t *testing.T) {
	f := newFixture(t)
	r, srv, col := newReceiver(t, f, nil)
	tok := sign(t, f.key, f.header(), f.claims(t))
	if a := post(t, srv.URL, ContentType, tok, nil); a.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", a.status, a.desc)
	}
	a := post(t, srv.URL, ContentType, tok, nil)
	if a.status != http.StatusBadRequest || a.err != CodeInvalidRequest || a.desc != DuplicateDescription {
		t.Fatalf("replay: %d %q %q", a.status, a.err, a.desc)
	}
	// Even after the clock moves (the jti lives as long as the SET could be
	// accepted).
	f.clock.Advance(59 * time.Minute)
	if a := post(t, srv.URL, ContentType, tok, nil); a.err != CodeInvalidRequest {
		t.Fatalf("replay an hour later: %d %q", a.status, a.err)
	}
	if n := len(col.list()); n != 1 {
		t.Fatalf("%d revocations, want 1", n)
	}
	st := r.Stats()
	if st.Accepted != 1 || st.Revocations != 1 || st.Refused[CodeInvalidRequest] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReceiverMapsEvents checks which revocation each supported event gives.
func TestReceiverMapsEvents(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	issuedBefore := now.Add(-10 * time.Minute)
	fpv := fp(t, "leaked-token")
	cases := []struct {
		name   string
		sub    map[string]any
		events map[string]any
		mut    func(*TrustedTransmitter)
		want   *revocation.Revocation // nil: acknowledged, ignored
		reason string
	}{
		{
			name:   "credential-change opaque fingerprint",
			sub:    map[string]any{"format": "opaque", "id": fpv},
			events: map[string]any{EventCredentialChange: map[string]any{"credential_type": "bearer-token", "change_type": "revoke"}},
			want:   &revocation.Revocation{Kind: revocation.KindFingerprint, Value: fpv},
			reason: "SSF credential-change from https://tx.example",
		},
		{
			name:   "credential-change delete of a JWT",
			sub:    map[string]any{"format": "jwt_id", "iss": "https://sts.example", "jti": "t-42"},
			events: map[string]any{EventCredentialChange: map[string]any{"credential_type": "app", "change_type": "delete", "reason_admin": map[string]any{"de": "geleakt", "en": "leaked in a CI log"}}},
			want:   &revocation.Revocation{Kind: revocation.KindJTI, Value: "t-42", Issuer: "https://sts.example"},
			reason: "SSF credential-change from https://tx.example: leaked in a CI log",
		},
		{
			name:   "session-revoked iss_sub with event_timestamp",
			sub:    map[string]any{"format": "iss_sub", "iss": "https://sts.example", "sub": "ci-runner"},
			events: map[string]any{EventSessionRevoked: map[string]any{"event_timestamp": issuedBefore.Unix(), "reason_admin": map[string]any{"fr": "volé\u0007"}}},
			want:   &revocation.Revocation{Kind: revocation.KindSubject, Value: "ci-runner", Issuer: "https://sts.example", IssuedBefore: issuedBefore},
			reason: "SSF session-revoked from https://tx.example: volé",
		},
		{
			name:   "session-revoked iss_sub without event_timestamp uses iat",
			sub:    map[string]any{"format": "iss_sub", "iss": "https://sts.example", "sub": "ci-runner"},
			events: map[string]any{EventSessionRevoked: map[string]any{}},
			want:   &revocation.Revocation{Kind: revocation.KindSubject, Value: "ci-runner", Issuer: "https://sts.example", IssuedBefore: now},
		},
		{
			name: "session-revoked complex subject with a user",
			sub: map[string]any{"format": "complex",
				"user":   map[string]any{"format": "iss_sub", "iss": "https://sts.example", "sub": "agent-7"},
				"tenant": map[string]any{"format": "opaque", "id": "acme"}},
			events: map[string]any{EventSessionRevoked: map[string]any{"event_timestamp": issuedBefore.Unix()}},
			want:   &revocation.Revocation{Kind: revocation.KindSubject, Value: "agent-7", Issuer: "https://sts.example", IssuedBefore: issuedBefore},
		},
		{
			name:   "session-revoked uri, issuer revocations allowed",
			sub:    map[string]any{"format": "uri", "uri": "https://old-sts.example"},
			events: map[string]any{EventSessionRevoked: map[string]any{}},
			mut:    func(tt *TrustedTransmitter) { tt.AcceptKinds = []revocation.Kind{revocation.KindIssuer} },
			want:   &revocation.Revocation{Kind: revocation.KindIssuer, Value: "https://old-sts.example"},
		},
		{
			name:   "revocation TTL",
			sub:    map[string]any{"format": "opaque", "id": fpv},
			events: map[string]any{EventCredentialChange: map[string]any{"credential_type": "bearer-token", "change_type": "revoke"}},
			mut:    func(tt *TrustedTransmitter) { tt.RevocationTTL = 24 * time.Hour },
			want:   &revocation.Revocation{Kind: revocation.KindFingerprint, Value: fpv, ExpiresAt: now.Add(24 * time.Hour)},
		},
		{
			name:   "credential-change create is ignored",
			sub:    map[string]any{"format": "opaque", "id": fpv},
			events: map[string]any{EventCredentialChange: map[string]any{"credential_type": "bearer-token", "change_type": "create"}},
		},
		{
			name:   "opaque id that is not a fingerprint is ignored",
			sub:    map[string]any{"format": "opaque", "id": "dMTlD|1600802906337.16|16008.16"},
			events: map[string]any{EventSessionRevoked: map[string]any{}},
		},
		{
			name:   "email subject is ignored",
			sub:    map[string]any{"format": "email", "email": "bot@example.com"},
			events: map[string]any{EventSessionRevoked: map[string]any{}},
		},
		{
			name:   "unsupported event type is ignored",
			sub:    map[string]any{"format": "iss_sub", "iss": "https://sts.example", "sub": "x"},
			events: map[string]any{"https://schemas.openid.net/secevent/caep/event-type/device-compliance-change": map[string]any{"previous_status": "compliant", "current_status": "not-compliant"}},
		},
		{
			name:   "verification",
			sub:    map[string]any{"format": "opaque", "id": "stream-1"},
			events: map[string]any{EventVerification: map[string]any{"state": "abc"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, col := newReceiver(t, f, func(c *ReceiverConfig) {
				if tc.mut != nil {
					tc.mut(&c.Transmitters[0])
				}
			})
			c := f.claims(t)
			c["sub_id"], c["events"] = tc.sub, tc.events
			a := post(t, srv.URL, ContentType, sign(t, f.key, f.header(), c), nil)
			if a.status != http.StatusAccepted {
				t.Fatalf("answer %d %q %q", a.status, a.err, a.desc)
			}
			got := col.list()
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("revoked %+v, want nothing", got)
				}
				st := r.Stats()
				if st.Verifications+st.Ignored["unsupported_event"]+st.Ignored["unsupported_subject"]+st.Ignored["credential_change_not_revoke"] != 1 {
					t.Fatalf("not counted: %+v", st)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("revoked %+v, want one", got)
			}
			g := got[0]
			if g.Kind != tc.want.Kind || g.Value != tc.want.Value || g.Issuer != tc.want.Issuer ||
				!g.IssuedBefore.Equal(tc.want.IssuedBefore) || !g.ExpiresAt.Equal(tc.want.ExpiresAt) {
				t.Fatalf("revoked %+v, want %+v", g, *tc.want)
			}
			if tc.reason != "" && g.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", g.Reason, tc.reason)
			}
		})
	}
}

// A revocation that cannot be stored answers 503; the transmitter's
// retransmission of that same SET is then processed, not refused as a
// replay; a third copy is a replay.
func TestReceiverStoreFailureThenRetry(t *testing.T) {
	f := newFixture(t)
	r, srv, col := newReceiver(t, f, nil)
	col.fail = 1
	tok := sign(t, f.key, f.header(), f.claims(t))
	if a := post(t, srv.URL, ContentType, tok, nil); a.status != http.StatusServiceUnavailable || a.err != "" {
		t.Fatalf("store failure: %d %q", a.status, a.err)
	}
	// Another SET with the same jti (not the same bytes) is still a replay.
	c := f.claims(t)
	c["jti"] = mustClaim(t, tok, "jti")
	if a := post(t, srv.URL, ContentType, sign(t, f.key, f.header(), c), nil); a.err != CodeInvalidRequest {
		t.Fatalf("same jti, other SET: %d %q", a.status, a.err)
	}
	if a := post(t, srv.URL, ContentType, tok, nil); a.status != http.StatusAccepted {
		t.Fatalf("retransmission: %d %q %q", a.status, a.err, a.desc)
	}
	if a := post(t, srv.URL, ContentType, tok, nil); a.desc != DuplicateDescription {
		t.Fatalf("third copy: %d %q", a.status, a.desc)
	}
	if n := len(col.list()); n != 1 {
		t.Fatalf("%d revocations, want 1", n)
	}
	if st := r.Stats(); st.Unavailable != 1 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("cache full")
}

func TestReceiverReplayCacheFailsClosed(t *testing.T) {
	f := newFixture(t)
	_, srv, col := newReceiver(t, f, func(c *ReceiverConfig) { c.Replay = failingReplay{} })
	if a := post(t, srv.URL, ContentType, sign(t, f.key, f.header(), f.claims(t)), nil); a.status != http.StatusServiceUnavailable {
		t.Fatalf("answer %d", a.status)
	}
	if len(col.list()) != 0 {
		t.Fatal("revoked without a replay check")
	}
}

// An EdDSA transmitter with two keys: the kid picks the key.
func TestReceiverEdDSAKeySet(t *testing.T) {
	f := newFixture(t)
	pub1, priv1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	set := mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub1, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"},
		{Key: pub2, KeyID: "k2"},
	}})
	_, srv, _ := newReceiver(t, f, func(c *ReceiverConfig) { c.Transmitters[0].JWKS = set })
	edSign := func(kid string, key ed25519.PrivateKey) string {
		h := map[string]any{"alg": "EdDSA", "typ": "secevent+jwt"}
		if kid != "" {
			h["kid"] = kid
		}
		input := b64(mustJSON(t, h)) + "." + b64(mustJSON(t, f.claims(t)))
		return input + "." + b64(ed25519.Sign(key, []byte(input)))
	}
	for _, tc := range []struct {
		name, tok string
		status    int
	}{
		{"k1", edSign("k1", priv1), http.StatusAccepted},
		{"k2", edSign("k2", priv2), http.StatusAccepted},
		{"k2 signed by k1", edSign("k2", priv1), http.StatusBadRequest},
		{"no kid, several keys", edSign("", priv1), http.StatusBadRequest},
	} {
		if a := post(t, srv.URL, ContentType, tc.tok, nil); a.status != tc.status {
			t.Errorf("%s: %d %q %q", tc.name, a.status, a.err, a.desc)
		}
	}
}

func TestNewReceiverRejects(t *testing.T) {
	f := newFixture(t)
	private := mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: f.key, KeyID: "p"}}})
	ok := TrustedTransmitter{Issuer: f.iss, Audience: f.aud, JWKS: f.jwks(t)}
	cases := map[string]func(*ReceiverConfig){
		"no replay cache":    func(c *ReceiverConfig) { c.Replay = nil },
		"no callback":        func(c *ReceiverConfig) { c.OnRevocation = nil },
		"no transmitters":    func(c *ReceiverConfig) { c.Transmitters = nil },
		"no audience":        func(c *ReceiverConfig) { c.Transmitters[0].Audience = "" },
		"private JWKS":       func(c *ReceiverConfig) { c.Transmitters[0].JWKS = private },
		"empty JWKS":         func(c *ReceiverConfig) { c.Transmitters[0].JWKS = []byte(`{"keys":[]}`) },
		"HS256 allowed":      func(c *ReceiverConfig) { c.Transmitters[0].Algorithms = []string{"HS256"} },
		"none allowed":       func(c *ReceiverConfig) { c.Transmitters[0].Algorithms = []string{"none"} },
		"binding kind":       func(c *ReceiverConfig) { c.Transmitters[0].AcceptKinds = []revocation.Kind{revocation.KindBinding} },
		"issuer twice":       func(c *ReceiverConfig) { c.Transmitters = append(c.Transmitters, ok) },
		"negative max age":   func(c *ReceiverConfig) { c.MaxAge = -1 },
		"negative TTL":       func(c *ReceiverConfig) { c.Transmitters[0].RevocationTTL = -time.Second },
		"JWKS is not a JWKS": func(c *ReceiverConfig) { c.Transmitters[0].JWKS = []byte(`{"keys":{}}`) },
	}
	for name, mut := range cases {
		cfg := ReceiverConfig{
			Transmitters: []TrustedTransmitter{ok},
			Replay:       failingReplay{},
			OnRevocation: func(context.Context, revocation.Revocation) error { return nil },
		}
		mut(&cfg)
		if _, err := NewReceiver(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// mustClaim reads one string claim of a compact JWS.
func mustClaim(t *testing.T, tok, name string) string {
	t.Helper()
	p, serr := parseSET(tok, 0)
	if serr != nil {
		t.Fatal(serr)
	}
	s, err := optString(p.claims, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
