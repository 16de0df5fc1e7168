package ssf

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/provost-dev/provost/revocation"
)

// Media type and header values of a SET (RFC 8417 section 2.3, RFC 8935
// section 2).
const (
	// ContentType is the Content-Type of an RFC 8935 push request.
	ContentType = "application/secevent+jwt"
	// TokenType is the JOSE "typ" of every SET Provost signs.
	TokenType = "secevent+jwt"
	// DeliveryMethodPush names RFC 8935 push delivery in SSF stream
	// configurations.
	DeliveryMethodPush = "urn:ietf:rfc:8935"
)

// Event type URIs.
const (
	// EventCredentialChange is CAEP 1.0 Credential Change.
	EventCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	// EventSessionRevoked is CAEP 1.0 Session Revoked.
	EventSessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	// EventVerification is SSF 1.0 Verification.
	EventVerification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
)

// Subject identifier formats (RFC 9493 and SSF 1.0) that Provost sends or
// reads.
const (
	FormatOpaque  = "opaque"
	FormatIssSub  = "iss_sub"
	FormatJWTID   = "jwt_id"
	FormatURI     = "uri"
	FormatComplex = "complex"
)

// CredentialTypeBearerToken is the CAEP credential_type Provost sends in a
// credential-change event: CAEP 1.0 lets the Transmitter and the Receiver
// agree on a type outside its list, and none in the list names a bearer
// token or an API key.
const CredentialTypeBearerToken = "bearer-token"

// ErrNotShared is wrapped by the error Notify returns for a revocation that
// has no SET form: a binding revocation (binding names are local policy), and
// a jti or subject revocation without an issuer scope (a token id or a
// subject means nothing to another party without the issuer that made it).
// Callers that notify on every revocation can ignore it.
var ErrNotShared = errors.New("revocation is not shared over SSF")

// SubjectID is an RFC 9493 / SSF 1.0 subject identifier, as far as Provost
// uses one. Only the members of its Format are set.
type SubjectID struct {
	Format string `json:"format"`
	ID     string `json:"id,omitempty"`  // opaque
	URI    string `json:"uri,omitempty"` // uri
	Iss    string `json:"iss,omitempty"` // iss_sub, jwt_id
	Sub    string `json:"sub,omitempty"` // iss_sub
	JTI    string `json:"jti,omitempty"` // jwt_id
}

// setClaims is the payload of a SET Provost signs, in the order it is
// written.
type setClaims struct {
	Iss    string                    `json:"iss"`
	JTI    string                    `json:"jti"`
	Iat    int64                     `json:"iat"`
	Aud    string                    `json:"aud"`
	Txn    string                    `json:"txn,omitempty"`
	SubID  *SubjectID                `json:"sub_id,omitempty"`
	Events map[string]map[string]any `json:"events"`
}

// eventFor maps a revocation to the event that announces it: its type URI,
// its subject and its payload. withReason adds reason_admin.
//
//	fingerprint                 credential-change (revoke), sub_id opaque {id: fingerprint}
//	jti + issuer                credential-change (revoke), sub_id jwt_id {iss, jti}
//	subject + issuer            session-revoked, sub_id iss_sub {iss, sub},
//	                            event_timestamp = IssuedBefore (or CreatedAt, or now)
//	issuer                      session-revoked, sub_id uri {uri: issuer}
//	binding, unscoped jti/sub   not shared: ErrNotShared
func eventFor(rev revocation.Revocation, now time.Time, withReason bool) (string, *SubjectID, map[string]any, error) {
	body := map[string]any{}
	stamp := rev.CreatedAt
	if stamp.IsZero() {
		stamp = now
	}
	var typ string
	var sub *SubjectID
	switch rev.Kind {
	case revocation.KindFingerprint:
		typ = EventCredentialChange
		sub = &SubjectID{Format: FormatOpaque, ID: rev.Value}
	case revocation.KindJTI:
		if rev.Issuer == "" {
			return "", nil, nil, fmt.Errorf("%w: a jti revocation needs an issuer scope to be shared", ErrNotShared)
		}
		typ = EventCredentialChange
		sub = &SubjectID{Format: FormatJWTID, Iss: rev.Issuer, JTI: rev.Value}
	case revocation.KindSubject:
		if rev.Issuer == "" {
			return "", nil, nil, fmt.Errorf("%w: a subject revocation needs an issuer scope to be shared", ErrNotShared)
		}
		typ = EventSessionRevoked
		sub = &SubjectID{Format: FormatIssSub, Iss: rev.Issuer, Sub: rev.Value}
		if !rev.IssuedBefore.IsZero() {
			stamp = rev.IssuedBefore
		}
	case revocation.KindIssuer:
		typ = EventSessionRevoked
		sub = &SubjectID{Format: FormatURI, URI: rev.Value}
	case revocation.KindBinding:
		return "", nil, nil, fmt.Errorf("%w: binding names are local policy", ErrNotShared)
	default:
		return "", nil, nil, fmt.Errorf("%w: unknown kind", ErrNotShared)
	}
	if typ == EventCredentialChange {
		body["credential_type"] = CredentialTypeBearerToken
		body["change_type"] = "revoke"
	}
	body["event_timestamp"] = stamp.Unix()
	if withReason && rev.Reason != "" {
		body["reason_admin"] = map[string]string{"en": rev.Reason}
	}
	return typ, sub, body, nil
}

// eventLabel is the short name of an event type, for reasons and counters.
func eventLabel(typ string) string {
	switch typ {
	case EventCredentialChange:
		return "credential-change"
	case EventSessionRevoked:
		return "session-revoked"
	case EventVerification:
		return "verification"
	}
	return "unsupported"
}

// ---- receiving side ----

// outcome of mapping one received event.
type mapped struct {
	rev     *revocation.Revocation // nil: acknowledged, not acted on
	verify  bool                   // an SSF verification event
	ignored string                 // why rev is nil (for counters)
}

// mapEvent turns one received event into a revocation. It returns a
// *SETError for an event that does not conform to its definition; an event
// Provost does not act on gives a mapped with rev nil.
func mapEvent(typ string, body map[string]json.RawMessage, sub map[string]json.RawMessage, iat time.Time) (mapped, *SETError) {
	switch typ {
	case EventVerification:
		return mapped{verify: true}, nil
	case EventCredentialChange:
		ct, err := optString(body, "credential_type")
		if err != nil || ct == "" {
			return mapped{}, invalidRequest("credential-change event has no credential_type string")
		}
		change, err := optString(body, "change_type")
		if err != nil {
			return mapped{}, invalidRequest("credential-change event change_type is not a string")
		}
		switch change {
		case "revoke", "delete":
		case "create", "update":
			return mapped{ignored: "credential_change_not_revoke"}, nil
		default:
			return mapped{}, invalidRequest("credential-change event change_type is not create, revoke, update or delete")
		}
	case EventSessionRevoked:
	default:
		return mapped{ignored: "unsupported_event"}, nil
	}
	if sub == nil {
		return mapped{}, invalidRequest("SET has no sub_id (a subject inside the event, as in SSF drafts, is not supported)")
	}
	ts, err := optTime(body, "event_timestamp")
	if err != nil {
		return mapped{}, invalidRequest("event_timestamp is not a number")
	}
	rev, serr := subjectRevocation(typ, sub, ts, iat)
	if serr != nil {
		return mapped{}, serr
	}
	if rev == nil {
		return mapped{ignored: "unsupported_subject"}, nil
	}
	return mapped{rev: rev}, nil
}

// subjectRevocation maps a sub_id to a revocation, or nil for a subject
// Provost cannot act on.
func subjectRevocation(typ string, sub map[string]json.RawMessage, ts, iat time.Time) (*revocation.Revocation, *SETError) {
	format, err := optString(sub, "format")
	if err != nil || format == "" {
		return nil, invalidRequest("sub_id has no format string")
	}
	member := func(name string) (string, *SETError) {
		v, err := optString(sub, name)
		if err != nil || v == "" {
			return "", invalidRequest("sub_id of format " + format + " has no " + name + " string")
		}
		return v, nil
	}
	switch format {
	case FormatOpaque:
		id, serr := member("id")
		if serr != nil {
			return nil, serr
		}
		if !isFingerprint(id) {
			return nil, nil
		}
		return &revocation.Revocation{Kind: revocation.KindFingerprint, Value: id}, nil
	case FormatJWTID:
		iss, serr := member("iss")
		if serr != nil {
			return nil, serr
		}
		jti, serr := member("jti")
		if serr != nil {
			return nil, serr
		}
		return &revocation.Revocation{Kind: revocation.KindJTI, Value: jti, Issuer: iss}, nil
	case FormatIssSub:
		if typ != EventSessionRevoked {
			return nil, nil
		}
		iss, serr := member("iss")
		if serr != nil {
			return nil, serr
		}
		s, serr := member("sub")
		if serr != nil {
			return nil, serr
		}
		before := ts
		if before.IsZero() {
			before = iat
		}
		return &revocation.Revocation{Kind: revocation.KindSubject, Value: s, Issuer: iss, IssuedBefore: before}, nil
	case FormatURI:
		if typ != EventSessionRevoked {
			return nil, nil
		}
		u, serr := member("uri")
		if serr != nil {
			return nil, serr
		}
		return &revocation.Revocation{Kind: revocation.KindIssuer, Value: u}, nil
	case FormatComplex:
		// A complex subject names one principal by several members. Provost
		// acts on its user (an iss_sub): the other members (device, tenant,
		// session, ...) narrow the principal further than a Provost
		// revocation can, so the revocation is broader than the event:
		// it fails closed.
		if typ != EventSessionRevoked {
			return nil, nil
		}
		raw, ok := sub["user"]
		if !ok {
			return nil, nil
		}
		var user map[string]json.RawMessage
		if err := decodeJSON(raw, &user); err != nil || user == nil {
			return nil, invalidRequest("sub_id user member is not an object")
		}
		if f, _ := optString(user, "format"); f != FormatIssSub {
			return nil, nil
		}
		return subjectRevocation(typ, user, ts, iat)
	}
	return nil, nil
}

// receivedReason is the reason a received revocation carries: the event,
// the (verified, configured) transmitter it came from, and the transmitter's
// reason_admin when it sent one.
func receivedReason(typ, iss string, body map[string]json.RawMessage) string {
	r := sanitize("SSF "+eventLabel(typ)+" from "+iss, revocation.MaxReasonBytes/2)
	raw, ok := body["reason_admin"]
	if !ok {
		return r
	}
	var texts map[string]string
	if decodeJSON(raw, &texts) != nil || len(texts) == 0 {
		return r
	}
	text, ok := texts["en"]
	if !ok {
		// The smallest language tag, so the choice does not depend on
		// map order.
		first := ""
		for lang := range texts {
			if first == "" || lang < first {
				first = lang
			}
		}
		text = texts[first]
	}
	text = sanitize(text, revocation.MaxReasonBytes-len(r)-2)
	if text == "" {
		return r
	}
	return r + ": " + text
}

// sanitize drops control characters and invalid UTF-8 from s and cuts it to
// at most max bytes on a rune boundary.
func sanitize(s string, max int) string {
	var b strings.Builder
	for _, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) {
			continue
		}
		if b.Len()+utf8.RuneLen(c) > max {
			break
		}
		b.WriteRune(c)
	}
	return strings.TrimSpace(b.String())
}

func optString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := decodeJSON(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// optTime reads a NumericDate member; zero when absent.
func optTime(m map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	return numericDate(raw)
}
