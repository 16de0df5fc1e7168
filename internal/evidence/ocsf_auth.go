package evidence

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/reason"
)

// The OCSF Authentication class, which carries the credential's verdict.
const (
	OCSFAuthenticationClass = 3002
	OCSFAPIActivityClass    = ocsfClassUID

	ocsfAuthCategoryUID  = 3
	ocsfAuthCategoryName = "Identity & Access Management"
	ocsfAuthClassName    = "Authentication"
	ocsfAuthLogon        = 1 // activity_id Logon: each request presents its credential anew
	ocsfAuthService      = "Provost"
)

// ocsfAuthProtocol maps the credential kind to auth_protocol_id and
// auth_protocol: a JWT is an OAuth 2.0 access token; an API key has no
// OCSF protocol of its own.
func ocsfAuthProtocol(k credential.Kind) (int, string) {
	switch k {
	case credential.KindJWT:
		return 6, "OAUTH 2.0"
	case credential.KindAPIKey:
		return 99, "API Key"
	}
	return 0, "Unknown"
}

// OCSFAuthentication maps the credential verdict of r to an OCSF
// Authentication event (class_uid 3002, category Identity & Access
// Management, schema OCSFVersion): did the credential authenticate,
// whatever was decided about the request (that is the API Activity event,
// OCSF). ok is false when r names no credential (none was presented):
// there was no authentication to report. The mapping is documented in
// docs/evidence.md.
func OCSFAuthentication(r Record) (ev map[string]any, ok bool) {
	c := &r.Credential
	if c.Fingerprint == "" && c.Kind == "" {
		return nil, false
	}
	status, statusName, sev, sevName := 1, "Success", 1, "Informational"
	if c.Verdict != credential.Accepted {
		status, statusName, sev, sevName = 2, "Failure", 3, "Medium"
		if c.Reason == reason.Revoked {
			sev, sevName = 4, "High" // a revoked credential presented again
		}
	}
	proto, protoName := ocsfAuthProtocol(c.Kind)
	meta := ocsfMetadata(r)
	delete(meta, "profiles")
	if id, ok := meta["uid"].(string); ok {
		meta["uid"] = fmt.Sprintf("%s-%d", id, OCSFAuthenticationClass)
	}
	ev = map[string]any{
		"activity_id":      ocsfAuthLogon,
		"activity_name":    "Logon",
		"category_uid":     ocsfAuthCategoryUID,
		"category_name":    ocsfAuthCategoryName,
		"class_uid":        OCSFAuthenticationClass,
		"class_name":       ocsfAuthClassName,
		"type_uid":         OCSFAuthenticationClass*100 + ocsfAuthLogon,
		"type_name":        ocsfAuthClassName + ": Logon",
		"severity_id":      sev,
		"severity":         sevName,
		"status_id":        status,
		"status":           statusName,
		"time":             r.Time.UnixMilli(),
		"timezone_offset":  0,
		"message":          ocsfAuthMessage(r),
		"metadata":         meta,
		"user":             ocsfAuthUser(r),
		"src_endpoint":     ocsfSource(r),
		"service":          map[string]any{"name": ocsfAuthService},
		"auth_protocol_id": proto,
		"auth_protocol":    protoName,
		"is_remote":        true,
		"unmapped":         map[string]any{"provost": authFields(r)},
	}
	if c.Reason != "" {
		ev["status_code"] = string(c.Reason)
	}
	if c.Message != "" {
		ev["status_detail"] = c.Message
	}
	if r.Origin.Workload != "" {
		ev["actor"] = map[string]any{"app_uid": r.Origin.Workload, "app_name": r.Origin.Workload}
	}
	put(ev, "http_request", ocsfHTTP(r))
	return ev, true
}

func ocsfAuthMessage(r Record) string {
	msg := "credential " + string(r.Credential.Verdict)
	if r.Credential.Verdict == "" {
		msg = "credential not verified"
	}
	if r.Credential.Message != "" {
		msg += ": " + r.Credential.Message
	}
	return msg
}

// ocsfAuthUser is the user the credential authenticates: its subject as a
// service user, as in the API Activity event's actor.user; "unknown" by
// name when the credential named no one (the class requires a user).
func ocsfAuthUser(r Record) map[string]any {
	if a := ocsfActor(r); a["user"] != nil {
		return a["user"].(map[string]any)
	}
	u := map[string]any{"name": "unknown", "type_id": ocsfUserTypeService, "type": "Service"}
	if r.Credential.Fingerprint != "" {
		u["programmatic_credentials"] = []map[string]any{omitZero(map[string]any{
			"uid": r.Credential.Fingerprint, "type": credentialType[r.Credential.Kind]})}
	}
	return u
}

// authFields are the credential's fields that OCSF has no place for, and
// the request's decision for context.
func authFields(r Record) map[string]any {
	c := &r.Credential
	return omitZero(map[string]any{
		"record_version":     r.Version,
		"decision":           string(r.Decision),
		"credential_verdict": string(c.Verdict),
		"credential_reason":  string(c.Reason),
		"credential_kind":    string(c.Kind),
		"fingerprint":        c.Fingerprint,
		"issuer":             c.Issuer.Issuer,
		"audience":           c.Issuer.Audience,
		"key_id":             c.Issuer.KeyID,
		"algorithm":          c.Issuer.Algorithm,
		"possession":         c.Possession.Method,
		"revocation_id":      c.RevocationID,
	})
}

// OCSFClasses chooses the OCSF events written per record.
type OCSFClasses struct {
	Authentication bool // class 3002, when the record names a credential
	APIActivity    bool // class 6003, for every record
}

// OCSFEvents returns the events of r that classes asks for: its
// Authentication event first (when r names a credential), then its API
// Activity event. Both carry the record ID as metadata.correlation_uid.
// An event record (an operator's revocation) gives none: it is neither an
// authentication nor an API request, and only JSON lines carry it.
func OCSFEvents(r Record, classes OCSFClasses) []map[string]any {
	if !r.IsDecision() {
		return nil
	}
	var out []map[string]any
	if classes.Authentication {
		if ev, ok := OCSFAuthentication(r); ok {
			out = append(out, ev)
		}
	}
	if classes.APIActivity {
		out = append(out, OCSF(r))
	}
	return out
}

// WriteOCSF writes the OCSF events of each record (OCSFEvents), one JSON
// object per line; an event record writes nothing. It stops at the first
// write error.
func WriteOCSF(w io.Writer, records iter.Seq[Record], classes OCSFClasses) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	for r := range records {
		for _, ev := range OCSFEvents(r, classes) {
			if err := enc.Encode(ev); err != nil {
				return fmt.Errorf("writing the events of record %d: %w", n, err)
			}
		}
		n++
	}
	return nil
}
