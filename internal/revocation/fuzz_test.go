package revocation

import (
	"strings"
	"testing"
	"time"
)

// FuzzValidate feeds Validate and Matches arbitrary admin input: neither may
// panic, a rejected value is never repeated in the error, and an accepted
// revocation always matches the query built from its own fields.
func FuzzValidate(f *testing.F) {
	f.Add("jti", "j", "", int64(0), "")
	f.Add("subject", "s", "https://i", int64(1900000000), "session revoked")
	f.Add("fingerprint", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "", int64(0), "")
	f.Add("binding", "b\x00", "", int64(0), "r\n")
	f.Fuzz(func(t *testing.T, kind, value, issuer string, issuedBefore int64, why string) {
		r := Revocation{Kind: Kind(kind), Value: value, Issuer: issuer, Reason: why}
		if issuedBefore != 0 {
			r.IssuedBefore = time.Unix(issuedBefore, 0)
		}
		err := r.Validate()
		if err != nil {
			if len(value) >= 8 && !strings.Contains(kind, value) && strings.Contains(err.Error(), value) {
				t.Fatalf("error repeats the value: %v", err)
			}
			return
		}
		q := Query{Issuer: issuer, IssuedAt: r.IssuedBefore.Add(-time.Second)}
		switch r.Kind {
		case KindFingerprint:
			q.Fingerprint = value
		case KindJTI:
			q.JTI = value
		case KindSubject:
			q.Subject = value
		case KindIssuer:
			q.Issuer = value
		case KindBinding:
			q.Binding = value
		}
		if r.IssuedBefore.IsZero() {
			q.IssuedAt = time.Time{}
		}
		if !r.Matches(q) {
			t.Fatalf("valid revocation %+v does not match its own query %+v", r, q)
		}
	})
}
