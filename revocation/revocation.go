// Package revocation is the contract of the revocation store: what can be
// revoked (a credential by fingerprint, a jti, a subject, an issuer, a
// binding), the one matching rule every store shares, and the Store
// interface. Provost's embedded store is SQLite; a Store of your own is
// plugged in through provost.Stores and must pass the same conformance
// suite.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/fingerprint"
)

// Kind is what a revocation matches on.
type Kind string

// The kinds of revocation, in the order Match tries them.
const (
	KindFingerprint Kind = "fingerprint"
	KindJTI         Kind = "jti"
	KindSubject     Kind = "subject"
	KindIssuer      Kind = "issuer"
	KindBinding     Kind = "binding"
)

// Kinds lists every kind, in the order Match tries them.
func Kinds() []Kind {
	return []Kind{KindFingerprint, KindJTI, KindSubject, KindIssuer, KindBinding}
}

// Size limits checked by Validate.
const (
	MaxValueBytes  = 2048
	MaxReasonBytes = 1024
)

// Revocation is one revoked credential or class of credentials.
type Revocation struct {
	ID           string    // assigned by the store
	Kind         Kind      // what Value names
	Value        string    // fingerprint / jti / subject / issuer URL / binding name
	Issuer       string    // optional scope for jti and subject
	IssuedBefore time.Time // subject only, optional: only tokens with iat before it are revoked
	Reason       string    // for people; shown in evidence
	CreatedAt    time.Time // assigned by the store
	ExpiresAt    time.Time // optional: stops matching at this time; the store may forget it
}

// Query is what a verified request offers to be matched. Empty fields match
// nothing.
type Query struct {
	Fingerprint string
	Issuer      string
	Subject     string
	JTI         string
	Binding     string
	IssuedAt    time.Time // the token's iat; zero when the token has none
}

// Store keeps revocations.
type Store interface {
	// Add validates r, assigns its ID and CreatedAt (ignoring any given),
	// stores it durably and returns it as stored. An invalid r, or one
	// whose ExpiresAt is not after the time of adding, gives an error
	// wrapping ErrInvalid.
	Add(ctx context.Context, r Revocation) (Revocation, error)
	// Remove deletes the revocation with id; ErrNotFound if there is none.
	Remove(ctx context.Context, id string) error
	// List returns the revocations not yet expired, oldest first (by
	// CreatedAt, then ID).
	List(ctx context.Context) ([]Revocation, error)
	// Match returns the first unexpired revocation that matches q, or nil.
	// Kinds are tried in the order of Kinds(), and within a kind the oldest
	// revocation wins. An error means the answer is unknown: fail closed.
	Match(ctx context.Context, q Query) (*Revocation, error)
}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid revocation")

// ErrNotFound is returned by Remove for an unknown ID.
var ErrNotFound = errors.New("revocation not found")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Validate reports the first problem with r, as an error wrapping ErrInvalid.
// Error messages never repeat Value, which might be a raw credential pasted
// by mistake. ID and CreatedAt are not checked: the store assigns them.
func (r Revocation) Validate() error {
	switch r.Kind {
	case KindFingerprint, KindJTI, KindSubject, KindIssuer, KindBinding:
	case "":
		return invalid("kind is empty (want fingerprint, jti, subject, issuer or binding)")
	default:
		return invalid("unknown kind %q (want fingerprint, jti, subject, issuer or binding)", truncate(string(r.Kind), 32))
	}
	if err := checkText("value", r.Value, MaxValueBytes, true); err != nil {
		return err
	}
	if r.Kind == KindFingerprint && !fingerprint.Valid(r.Value) {
		return invalid("fingerprint value is not a fingerprint (%s followed by 43 base64url characters); revoke a credential by its fingerprint, never by the credential itself", fingerprint.Prefix)
	}
	if err := checkText("issuer", r.Issuer, MaxValueBytes, false); err != nil {
		return err
	}
	if r.Issuer != "" && r.Kind != KindJTI && r.Kind != KindSubject {
		return invalid("issuer scope applies only to jti and subject revocations, not %s", r.Kind)
	}
	if !r.IssuedBefore.IsZero() && r.Kind != KindSubject {
		return invalid("issued_before applies only to subject revocations, not %s", r.Kind)
	}
	if err := checkText("reason", r.Reason, MaxReasonBytes, false); err != nil {
		return err
	}
	if !r.ExpiresAt.IsZero() && !r.CreatedAt.IsZero() && !r.ExpiresAt.After(r.CreatedAt) {
		return invalid("expires_at %s is not after created_at %s", r.ExpiresAt.Format(time.RFC3339), r.CreatedAt.Format(time.RFC3339))
	}
	return nil
}

func checkText(field, s string, max int, required bool) error {
	switch {
	case s == "" && required:
		return invalid("%s is empty", field)
	case len(s) > max:
		return invalid("%s is %d bytes, more than %d", field, len(s), max)
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", field)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return invalid("%s contains a control character", field)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Active reports whether r still applies at now: it has no ExpiresAt, or now
// is before it.
func (r Revocation) Active(now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// Matches reports whether r revokes what q describes. It ignores ExpiresAt
// (see Active). This is the one matching rule, shared by every Store:
//
//   - fingerprint: q.Fingerprint == Value
//   - jti: q.JTI == Value, and q.Issuer == Issuer when Issuer is set
//   - subject: q.Subject == Value, and q.Issuer == Issuer when Issuer is set,
//     and, when IssuedBefore is set, q.IssuedAt is before it; a token with no
//     iat cannot show it was issued after IssuedBefore, so it is revoked
//   - issuer: q.Issuer == Value
//   - binding: q.Binding == Value
//
// Values compare exactly (case-sensitive); an empty query field matches
// nothing.
func (r Revocation) Matches(q Query) bool {
	switch r.Kind {
	case KindFingerprint:
		return q.Fingerprint != "" && q.Fingerprint == r.Value
	case KindJTI:
		return q.JTI != "" && q.JTI == r.Value && r.issuerScopeOK(q)
	case KindSubject:
		if q.Subject == "" || q.Subject != r.Value || !r.issuerScopeOK(q) {
			return false
		}
		return r.IssuedBefore.IsZero() || q.IssuedAt.IsZero() || q.IssuedAt.Before(r.IssuedBefore)
	case KindIssuer:
		return q.Issuer != "" && q.Issuer == r.Value
	case KindBinding:
		return q.Binding != "" && q.Binding == r.Value
	}
	return false
}

func (r Revocation) issuerScopeOK(q Query) bool {
	return r.Issuer == "" || r.Issuer == q.Issuer
}
