package revocation

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
)

func testFingerprint(t *testing.T) string {
	t.Helper()
	secret := make([]byte, fingerprint.SecretSize)
	rand.Read(secret)
	f, err := fingerprint.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return f.Of("credential")
}

func TestValidate(t *testing.T) {
	fp := testFingerprint(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rawJWT := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJl"
	tests := []struct {
		name string
		r    Revocation
		want string // "" for valid, else a part of the error
	}{
		{"fingerprint", Revocation{Kind: KindFingerprint, Value: fp}, ""},
		{"jti", Revocation{Kind: KindJTI, Value: "j"}, ""},
		{"jti scoped", Revocation{Kind: KindJTI, Value: "j", Issuer: "https://i"}, ""},
		{"subject scoped with issued_before", Revocation{Kind: KindSubject, Value: "s", Issuer: "https://i", IssuedBefore: now}, ""},
		{"issuer", Revocation{Kind: KindIssuer, Value: "https://i"}, ""},
		{"binding with reason and expiry", Revocation{Kind: KindBinding, Value: "b", Reason: "handoff", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, ""},
		{"empty kind", Revocation{Value: "x"}, "kind is empty"},
		{"unknown kind", Revocation{Kind: "email", Value: "x"}, `unknown kind "email"`},
		{"empty value", Revocation{Kind: KindJTI}, "value is empty"},
		{"value too long", Revocation{Kind: KindJTI, Value: strings.Repeat("x", MaxValueBytes+1)}, "more than"},
		{"value control char", Revocation{Kind: KindSubject, Value: "a\nb"}, "control character"},
		{"value bad utf8", Revocation{Kind: KindSubject, Value: "a\xffb"}, "UTF-8"},
		{"raw credential as fingerprint", Revocation{Kind: KindFingerprint, Value: rawJWT}, "never by the credential"},
		{"fingerprint wrong version", Revocation{Kind: KindFingerprint, Value: "fp2:" + fp[4:]}, "not a fingerprint"},
		{"issuer on fingerprint", Revocation{Kind: KindFingerprint, Value: fp, Issuer: "https://i"}, "only to jti and subject"},
		{"issuer on issuer", Revocation{Kind: KindIssuer, Value: "https://i", Issuer: "https://i"}, "only to jti and subject"},
		{"issuer on binding", Revocation{Kind: KindBinding, Value: "b", Issuer: "https://i"}, "only to jti and subject"},
		{"issued_before on jti", Revocation{Kind: KindJTI, Value: "j", IssuedBefore: now}, "only to subject"},
		{"issued_before on fingerprint", Revocation{Kind: KindFingerprint, Value: fp, IssuedBefore: now}, "only to subject"},
		{"reason too long", Revocation{Kind: KindJTI, Value: "j", Reason: strings.Repeat("r", MaxReasonBytes+1)}, "reason is"},
		{"expires at creation", Revocation{Kind: KindJTI, Value: "j", CreatedAt: now, ExpiresAt: now}, "not after created_at"},
		{"expires before creation", Revocation{Kind: KindJTI, Value: "j", CreatedAt: now, ExpiresAt: now.Add(-time.Second)}, "not after created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.r.Value != "" && len(tt.r.Value) > 3 && strings.Contains(err.Error(), tt.r.Value) {
				t.Errorf("error repeats the value: %q", err)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	fp := testFingerprint(t)
	const iss, other = "https://a.example", "https://b.example"
	T := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		r    Revocation
		q    Query
		want bool
	}{
		{"fingerprint hit", Revocation{Kind: KindFingerprint, Value: fp}, Query{Fingerprint: fp}, true},
		{"fingerprint miss", Revocation{Kind: KindFingerprint, Value: fp}, Query{Fingerprint: fp + "x"}, false},
		{"fingerprint empty query", Revocation{Kind: KindFingerprint, Value: fp}, Query{Subject: fp}, false},

		{"jti unscoped any issuer", Revocation{Kind: KindJTI, Value: "j"}, Query{JTI: "j", Issuer: other}, true},
		{"jti scoped same issuer", Revocation{Kind: KindJTI, Value: "j", Issuer: iss}, Query{JTI: "j", Issuer: iss}, true},
		{"jti scoped other issuer", Revocation{Kind: KindJTI, Value: "j", Issuer: iss}, Query{JTI: "j", Issuer: other}, false},
		{"jti scoped no issuer", Revocation{Kind: KindJTI, Value: "j", Issuer: iss}, Query{JTI: "j"}, false},
		{"jti other value", Revocation{Kind: KindJTI, Value: "j"}, Query{JTI: "k"}, false},
		{"jti is not subject", Revocation{Kind: KindJTI, Value: "j"}, Query{Subject: "j"}, false},

		{"subject hit", Revocation{Kind: KindSubject, Value: "s"}, Query{Subject: "s"}, true},
		{"subject case-sensitive", Revocation{Kind: KindSubject, Value: "s"}, Query{Subject: "S"}, false},
		{"subject scoped other issuer", Revocation{Kind: KindSubject, Value: "s", Issuer: iss}, Query{Subject: "s", Issuer: other}, false},
		{"subject iat before T", Revocation{Kind: KindSubject, Value: "s", IssuedBefore: T}, Query{Subject: "s", IssuedAt: T.Add(-time.Nanosecond)}, true},
		{"subject iat == T", Revocation{Kind: KindSubject, Value: "s", IssuedBefore: T}, Query{Subject: "s", IssuedAt: T}, false},
		{"subject iat after T", Revocation{Kind: KindSubject, Value: "s", IssuedBefore: T}, Query{Subject: "s", IssuedAt: T.Add(time.Second)}, false},
		{"subject no iat fails closed", Revocation{Kind: KindSubject, Value: "s", IssuedBefore: T}, Query{Subject: "s"}, true},
		{"subject T in other zone", Revocation{Kind: KindSubject, Value: "s", IssuedBefore: T.In(time.FixedZone("x", 3600))}, Query{Subject: "s", IssuedAt: T}, false},
		{"subject scoped and iat", Revocation{Kind: KindSubject, Value: "s", Issuer: iss, IssuedBefore: T}, Query{Subject: "s", Issuer: other, IssuedAt: T.Add(-time.Hour)}, false},

		{"issuer hit", Revocation{Kind: KindIssuer, Value: iss}, Query{Issuer: iss, Subject: "s"}, true},
		{"issuer trailing slash", Revocation{Kind: KindIssuer, Value: iss}, Query{Issuer: iss + "/"}, false},
		{"binding hit", Revocation{Kind: KindBinding, Value: "b"}, Query{Binding: "b"}, true},
		{"binding miss", Revocation{Kind: KindBinding, Value: "b"}, Query{Binding: "c"}, false},
		{"unknown kind", Revocation{Kind: "email", Value: "x"}, Query{Subject: "x", JTI: "x", Binding: "x", Issuer: "x", Fingerprint: "x"}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Matches(tt.q); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestActive(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expires time.Time
		want    bool
	}{
		{time.Time{}, true},
		{now.Add(time.Nanosecond), true},
		{now, false},
		{now.Add(-time.Hour), false},
	}
	for _, tt := range tests {
		if got := (Revocation{ExpiresAt: tt.expires}).Active(now); got != tt.want {
			t.Errorf("Active with ExpiresAt %v = %v, want %v", tt.expires, got, tt.want)
		}
	}
}
