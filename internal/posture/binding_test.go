package posture

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/reason"
)

// TestVerifyBinding checks that an attestation is accepted only with the
// credential and for the audience it was made for, and that attestations
// without "aud" and "cred" (from attestors that predate binding) are refused.
func TestVerifyBinding(t *testing.T) {
	f := newFixture(t)
	ci := func(changes map[string]any) string { return sign(t, f.ciKey, header("ci-1"), ciClaims(changes)) }
	otherCred := Binding{Audiences: testBinding.Audiences, CredentialDigest: hop.CredentialDigest("another-access-token")}
	hexSum := sha256.Sum256([]byte(testCredential))

	tests := []struct {
		name     string
		tok      string
		want     Binding
		code     reason.Code // reason.OK: accepted
		audience string      // the matched audience, when accepted
	}{
		{"bound to this credential and audience", ci(nil), testBinding, reason.OK, testAudience},
		{"other configured audience", ci(map[string]any{"aud": "https://api.other.example"}), testBinding, reason.OK, "https://api.other.example"},
		{"audience array with one match", ci(map[string]any{"aud": []any{"https://elsewhere.example", testAudience}}), testBinding, reason.OK, testAudience},

		// Replay: a fresh attestation carried to another credential.
		{"replayed with another credential", ci(nil), otherCred, reason.PostureCredentialMismatch, ""},
		{"request without a credential", ci(nil), Binding{Audiences: testBinding.Audiences}, reason.PostureCredentialMismatch, ""},
		{"cred of the Authorization value, not the credential", ci(map[string]any{"cred": hop.CredentialDigest("Bearer " + testCredential)}), testBinding, reason.PostureCredentialMismatch, ""},

		{"wrong audience", ci(map[string]any{"aud": "https://api.evil.example"}), testBinding, reason.PostureAudienceMismatch, ""},
		{"audience differs in case", ci(map[string]any{"aud": "https://API.example"}), testBinding, reason.PostureAudienceMismatch, ""},
		{"audience with a trailing slash", ci(map[string]any{"aud": testAudience + "/"}), testBinding, reason.PostureAudienceMismatch, ""},
		{"audience array without a match", ci(map[string]any{"aud": []any{"https://a.example", "https://b.example"}}), testBinding, reason.PostureAudienceMismatch, ""},
		{"no audience configured", ci(nil), Binding{CredentialDigest: testBinding.CredentialDigest}, reason.PostureAudienceMismatch, ""},
		{"wrong audience and another credential", ci(map[string]any{"aud": "https://api.evil.example"}), otherCred, reason.PostureAudienceMismatch, ""},

		// Attestations from before binding, or with a claim left empty.
		{"no aud and no cred", ci(map[string]any{"aud": nil, "cred": nil}), testBinding, reason.PostureUnbound, ""},
		{"no aud", ci(map[string]any{"aud": nil}), testBinding, reason.PostureUnbound, ""},
		{"no cred", ci(map[string]any{"cred": nil}), testBinding, reason.PostureUnbound, ""},
		{"empty aud", ci(map[string]any{"aud": ""}), testBinding, reason.PostureUnbound, ""},
		{"empty aud array", ci(map[string]any{"aud": []any{}}), testBinding, reason.PostureUnbound, ""},
		{"empty cred", ci(map[string]any{"cred": ""}), testBinding, reason.PostureUnbound, ""},
		{"unbound and replayed", ci(map[string]any{"aud": nil, "cred": nil}), otherCred, reason.PostureUnbound, ""},

		{"aud a number", ci(map[string]any{"aud": 7}), testBinding, reason.PostureMalformed, ""},
		{"aud null", sign(t, f.ciKey, header("ci-1"), []byte(`{"iss":"https://attest.ci.example","iat":`+strconv.FormatInt(t0.Unix(), 10)+`,"aud":null,"cred":"`+testBinding.CredentialDigest+`"}`)), testBinding, reason.PostureMalformed, ""},
		{"aud array with a number", ci(map[string]any{"aud": []any{testAudience, 7}}), testBinding, reason.PostureMalformed, ""},
		{"cred a number", ci(map[string]any{"cred": 7}), testBinding, reason.PostureMalformed, ""},
		{"cred the raw credential", ci(map[string]any{"cred": testCredential}), testBinding, reason.PostureMalformed, ""},
		{"cred in hex", ci(map[string]any{"cred": hex.EncodeToString(hexSum[:])}), testBinding, reason.PostureMalformed, ""},
		{"cred padded", ci(map[string]any{"cred": testBinding.CredentialDigest + "="}), testBinding, reason.PostureMalformed, ""},

		// Time is checked before binding.
		{"stale and unbound", ci(map[string]any{"aud": nil, "cred": nil, "iat": t0.Add(-time.Hour).Unix()}), testBinding, reason.PostureStale, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.verifier.Verify(tt.tok, tt.want)
			if tt.code != reason.OK {
				wantCode(t, err, tt.code)
				if p.Attestor != "" || p.Claims != nil {
					t.Fatalf("posture %+v returned with an error", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Audience != tt.audience {
				t.Errorf("Audience = %q, want %q", p.Audience, tt.audience)
			}
			if _, ok := p.Claims[ClaimCredential]; ok {
				t.Errorf("Claims carry cred: %v", p.Claims)
			}
		})
	}
}

// TestVerifyBindingMessages checks that no message names a credential digest.
func TestVerifyBindingMessages(t *testing.T) {
	f := newFixture(t)
	other := hop.CredentialDigest("another-access-token")
	tok := sign(t, f.ciKey, header("ci-1"), ciClaims(nil))
	_, err := f.verifier.Verify(tok, Binding{Audiences: testBinding.Audiences, CredentialDigest: other})
	wantCode(t, err, reason.PostureCredentialMismatch)
	for _, secret := range []string{other, testBinding.CredentialDigest, testCredential} {
		if msg := err.Error(); strings.Contains(msg, secret) {
			t.Errorf("message %q names %q", msg, secret)
		}
	}
}
