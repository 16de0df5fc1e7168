package evidence

import (
	"fmt"
	"io"
	"iter"
	"reflect"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
)

// WriteJSONLines writes each record's canonical encoding followed by a
// newline. It stops at the first record that cannot be encoded or written.
func WriteJSONLines(w io.Writer, records iter.Seq[Record]) error {
	n := 0
	for r := range records {
		b, err := r.Marshal()
		if err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("writing record %d: %w", n, err)
		}
		n++
	}
	return nil
}

// The OCSF event class records are exported as.
const (
	OCSFVersion         = "1.7.0"
	ocsfCategoryUID     = 6 // Application Activity
	ocsfClassUID        = 6003
	ocsfClassName       = "API Activity"
	ocsfCategoryName    = "Application Activity"
	ocsfProductName     = "Provost"
	ocsfProductVendor   = "provost-dev"
	ocsfUserTypeService = 4 // user.type_id Service
)

// OCSF maps r to an OCSF API Activity event (class_uid 6003, schema
// OCSFVersion) with the security_control profile. Values are strings,
// ints, bools, maps and slices, ready for encoding/json; Provost's own
// fields (decision, reasons, tags, checks, ...) are under unmapped.provost.
// The mapping is documented in docs/evidence.md. r is a decision record:
// OCSFEvents maps no event record.
func OCSF(r Record) map[string]any {
	act, actName := ocsfActivity(r.Request.Method)
	sev, sevName := ocsfSeverity(r)
	status, statusName := 2, "Failure"
	action, actionName := 2, "Denied"
	if r.Decision == decision.Allow {
		status, statusName, action, actionName = 1, "Success", 1, "Allowed"
	}
	ev := map[string]any{
		"activity_id":     act,
		"activity_name":   actName,
		"category_uid":    ocsfCategoryUID,
		"category_name":   ocsfCategoryName,
		"class_uid":       ocsfClassUID,
		"class_name":      ocsfClassName,
		"type_uid":        ocsfClassUID*100 + act,
		"type_name":       ocsfClassName + ": " + actName,
		"severity_id":     sev,
		"severity":        sevName,
		"status_id":       status,
		"status":          statusName,
		"action_id":       action,
		"action":          actionName,
		"is_alert":        slices.Contains(r.Actions, decision.Alert),
		"time":            r.Time.UnixMilli(),
		"timezone_offset": 0,
		"message":         ocsfMessage(r),
		"metadata":        ocsfMetadata(r),
		"actor":           ocsfActor(r),
		"src_endpoint":    ocsfSource(r),
		"api":             ocsfAPI(r),
		"unmapped":        map[string]any{"provost": provostFields(r)},
	}
	if len(r.Reasons) > 0 {
		ev["status_code"] = string(r.Reasons[0].Code)
		ev["status_detail"] = r.Reasons[0].Message
	}
	put(ev, "http_request", ocsfHTTP(r))
	if r.Binding != "" {
		ev["policy"] = omitZero(map[string]any{"name": r.Binding, "version": r.BindingsDigest})
	}
	return ev
}

// ocsfActivity maps the HTTP method to the class's CRUD activity.
func ocsfActivity(method string) (int, string) {
	switch strings.ToUpper(method) {
	case "":
		return 0, "Unknown"
	case "POST":
		return 1, "Create"
	case "GET", "HEAD", "OPTIONS":
		return 2, "Read"
	case "PUT", "PATCH":
		return 3, "Update"
	case "DELETE":
		return 4, "Delete"
	}
	return 99, "Other"
}

func ocsfSeverity(r Record) (int, string) {
	alert := slices.Contains(r.Actions, decision.Alert)
	switch {
	case slices.Contains(r.Actions, decision.Revoke):
		return 5, "Critical"
	case r.Decision == decision.Deny && alert:
		return 4, "High"
	case r.Decision != decision.Allow:
		return 3, "Medium"
	case alert:
		return 2, "Low"
	}
	return 1, "Informational"
}

func ocsfMessage(r Record) string {
	msg := string(r.Decision)
	if r.Request.Method != "" || r.Request.Path != "" {
		msg += " " + strings.TrimSpace(r.Request.Method+" "+r.Request.Path)
	}
	if len(r.Reasons) > 0 {
		msg += ": " + r.Reasons[0].Message
	}
	return msg
}

func ocsfMetadata(r Record) map[string]any {
	m := map[string]any{
		"version":       OCSFVersion,
		"product":       map[string]any{"name": ocsfProductName, "vendor_name": ocsfProductVendor},
		"profiles":      []string{"security_control"},
		"log_name":      "evidence",
		"original_time": r.Time.UTC().Format(instantLayout),
	}
	if id, err := r.ID(); err == nil {
		m["uid"], m["correlation_uid"] = id, id
	}
	return m
}

// credentialType names credential kinds as programmatic_credential.type.
var credentialType = map[credential.Kind]string{credential.KindJWT: "Access Token", credential.KindAPIKey: "API Key"}

// ocsfActor is the credential's subject as a service user and the verified
// workload as the application; "unknown" when neither is known, since the
// actor must name at least one of them.
func ocsfActor(r Record) map[string]any {
	a := map[string]any{}
	is := &r.Credential.Issuer
	name := firstOf(is.ClientID, is.AZP, is.APIKey)
	if is.Subject != "" || name != "" {
		u := omitZero(map[string]any{"uid": is.Subject, "name": name})
		u["type_id"], u["type"] = ocsfUserTypeService, "Service"
		if r.Credential.Fingerprint != "" {
			u["programmatic_credentials"] = []map[string]any{omitZero(map[string]any{
				"uid": r.Credential.Fingerprint, "type": credentialType[r.Credential.Kind]})}
		}
		a["user"] = u
	}
	if r.Origin.Workload != "" {
		a["app_uid"], a["app_name"] = r.Origin.Workload, r.Origin.Workload
	}
	if len(a) == 0 {
		a["app_name"] = "unknown"
	}
	return a
}

// ocsfSource is the client address, the peer when the client is unknown,
// and "unknown" when neither is.
func ocsfSource(r Record) map[string]any {
	n := &r.Signals.Network
	ip := firstOf(n.Client, n.Peer)
	if ip == "" {
		return map[string]any{"name": "unknown"}
	}
	s := map[string]any{"ip": ip}
	if n.Peer != "" && n.Peer != ip {
		s["intermediate_ips"] = []string{n.Peer}
	}
	return s
}

func ocsfAPI(r Record) map[string]any {
	a := map[string]any{"operation": firstOf(r.Request.Method, "unknown")}
	if r.RequestID != "" {
		a["request"] = map[string]any{"uid": r.RequestID}
	}
	return a
}

func ocsfHTTP(r Record) map[string]any {
	h := omitZero(map[string]any{"http_method": r.Request.Method})
	if r.Request.Path != "" {
		h["url"] = map[string]any{"path": r.Request.Path}
	}
	return h
}

// provostFields are the record's own fields that OCSF has no place for.
func provostFields(r Record) map[string]any {
	c := &r.Credential
	return omitZero(map[string]any{
		"record_version":     r.Version,
		"decision":           string(r.Decision),
		"provenance":         string(r.Provenance),
		"mode":               string(r.Mode),
		"binding":            r.Binding,
		"bindings_digest":    r.BindingsDigest,
		"credential_verdict": string(c.Verdict),
		"credential_reason":  string(c.Reason),
		"credential_message": c.Message,
		"fingerprint":        c.Fingerprint,
		"reasons":            r.Reasons,
		"actions":            r.Actions,
		"tags":               r.Tags,
		"checks":             r.Checks,
		"origin":             r.Origin,
		"revocation_id":      r.RevocationID,
	})
}

// omitZero deletes the entries of m that hold their type's zero value.
func omitZero(m map[string]any) map[string]any {
	for k, v := range m {
		if v == nil || reflect.ValueOf(v).IsZero() {
			delete(m, k)
		}
	}
	return m
}

func put(m map[string]any, k string, v map[string]any) {
	if len(v) > 0 {
		m[k] = v
	}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
