package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/reason"
)

// ocsfAuthRequired lists the required attributes of the OCSF
// Authentication class (class_uid 3002, category 3 Identity & Access
// Management), schema version 1.7.0, with their JSON types. Source:
// github.com/ocsf/ocsf-schema (v1.7.0): events/base_event.json
// (activity_id, category_uid, class_uid, metadata, severity_id, time,
// type_uid), events/iam/authentication.json (user: required),
// objects/metadata.json (product, version). status_id (base event,
// recommended) is checked too: it is the event's point.
var ocsfAuthRequired = map[string]kind{
	"activity_id":      integer,
	"category_uid":     integer,
	"class_uid":        integer,
	"metadata":         object,
	"metadata.product": object,
	"metadata.version": str,
	"severity_id":      integer,
	"time":             integer,
	"type_uid":         integer,
	"status_id":        integer,
	"user":             object,
}

// ocsfAuthAtLeastOne lists the at_least_one constraints of the class
// (service or dst_endpoint) and of the objects it fills: objects/user.json,
// objects/network_endpoint.json, objects/actor.json, objects/_entity.json.
var ocsfAuthAtLeastOne = map[string][]string{
	"":                 {"service", "dst_endpoint"},
	"user":             {"account", "name", "uid"},
	"src_endpoint":     {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
	"actor":            {"process", "user", "invoked_by", "session", "app_name", "app_uid"},
	"metadata.product": {"name", "uid"},
	"service":          {"name", "uid"},
}

// ocsfAuthTyped lists optional attributes the event fills, with their types.
var ocsfAuthTyped = map[string]kind{
	"activity_name": str, "category_name": str, "class_name": str, "type_name": str, "severity": str, "status": str,
	"status_code": str, "status_detail": str, "message": str, "timezone_offset": integer, "metadata.uid": str,
	"metadata.correlation_uid": str, "auth_protocol_id": integer, "auth_protocol": str, "user.uid": str, "user.name": str,
	"user.type_id": integer, "user.programmatic_credentials": array, "src_endpoint.ip": str, "service.name": str,
}

// ocsfAuthEnums are the values the schema allows for the class's enums.
var ocsfAuthEnums = map[string][]int64{
	"activity_id":      {0, 1, 2, 3, 4, 5, 6, 7, 99},
	"status_id":        {0, 1, 2, 99},
	"severity_id":      {0, 1, 2, 3, 4, 5, 6, 99},
	"auth_protocol_id": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99},
	"user.type_id":     {0, 1, 2, 3, 4, 99},
}

// validateOCSFAuth checks an Authentication event as a SIEM would receive
// it: encoded to JSON and decoded again.
func validateOCSFAuth(t *testing.T, event map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	for path, k := range ocsfAuthRequired {
		if v, ok := lookup(ev, path); !ok || !hasKind(v, k) {
			t.Errorf("required %s is %v (present %v), want kind %d", path, v, ok, k)
		}
	}
	for path, k := range ocsfAuthTyped {
		if v, ok := lookup(ev, path); ok && !hasKind(v, k) {
			t.Errorf("%s is %#v, want kind %d", path, v, k)
		}
	}
	for path, keys := range ocsfAuthAtLeastOne {
		m := ev
		if path != "" {
			v, ok := lookup(ev, path)
			if !ok {
				continue
			}
			m, _ = v.(map[string]any)
		}
		if !slices.ContainsFunc(keys, func(k string) bool { return m[k] != nil }) {
			t.Errorf("%q has none of %v", path, keys)
		}
	}
	n := func(path string) int64 {
		v, _ := lookup(ev, path)
		num, _ := v.(json.Number)
		i, _ := num.Int64()
		return i
	}
	for path, allowed := range ocsfAuthEnums {
		if _, ok := lookup(ev, path); ok && !slices.Contains(allowed, n(path)) {
			t.Errorf("%s = %d, not one of the schema's values %v", path, n(path), allowed)
		}
	}
	if n("class_uid") != 3002 || n("category_uid") != 3 || n("type_uid") != 3002*100+n("activity_id") {
		t.Errorf("class %d, category %d, type %d, activity %d: want 3002, 3 and class*100+activity",
			n("class_uid"), n("category_uid"), n("type_uid"), n("activity_id"))
	}
	if v, _ := lookup(ev, "metadata.version"); v != OCSFVersion {
		t.Errorf("metadata.version = %v", v)
	}
	return ev
}

func TestOCSFAuthentication(t *testing.T) {
	sc := scenarios(t)
	revoked := sc["rejected"].record()
	revoked.Credential.Reason, revoked.Credential.Message, revoked.Credential.RevocationID = reason.Revoked, "the credential was revoked", "rev-1"
	apiKey := sc["allow"].record()
	apiKey.Credential.Kind, apiKey.Credential.Issuer = credential.KindAPIKey, Issuer{APIKey: "billing-key"}
	nameless := sc["rejected"].record()
	nameless.Credential.Issuer, nameless.Credential.Kind = Issuer{}, ""
	nameless.Signals.Network = Network{}
	tests := []struct {
		name string
		r    Record
		want map[string]any
	}{
		{"allow", sc["allow"].record(), map[string]any{
			"activity_id": "1", "status_id": "1", "status": "Success", "severity_id": "1", "status_code": "ok",
			"status_detail": "the credential was accepted", "auth_protocol_id": "6", "auth_protocol": "OAUTH 2.0",
			"user.uid": "repo:acme/api:ref:refs/heads/main", "user.name": "deployer", "user.type_id": "4",
			"src_endpoint.ip": "192.0.2.10", "actor.app_uid": "spiffe://example.org/ci/runner", "service.name": "Provost",
			"is_remote": true, "unmapped.provost.decision": "allow", "unmapped.provost.credential_verdict": "accepted"}},
		// The request was denied, the credential authenticated: 3002 says Success.
		{"deny-revoke", sc["deny-revoke"].record(), map[string]any{
			"status_id": "1", "severity_id": "1", "src_endpoint.ip": "198.51.100.7", "unmapped.provost.decision": "deny"}},
		{"rejected", sc["rejected"].record(), map[string]any{
			"status_id": "2", "status": "Failure", "severity_id": "3", "status_code": "expired", "status_detail": "the token expired",
			"user.uid": "svc-billing", "src_endpoint.ip": "2001:db8::7", "http_request.url.path": "/v1/invoices"}},
		{"revoked", revoked, map[string]any{
			"status_id": "2", "severity_id": "4", "severity": "High", "status_code": "revoked", "unmapped.provost.revocation_id": "rev-1"}},
		{"api key", apiKey, map[string]any{"auth_protocol_id": "99", "auth_protocol": "API Key", "user.name": "billing-key"}},
		{"nothing read", nameless, map[string]any{"user.name": "unknown", "src_endpoint.name": "unknown", "auth_protocol_id": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event, ok := OCSFAuthentication(tt.r)
			if !ok {
				t.Fatal("no Authentication event")
			}
			ev := validateOCSFAuth(t, event)
			for path, want := range tt.want {
				got, _ := lookup(ev, path)
				if n, ok := got.(json.Number); ok {
					got = n.String()
				}
				if got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
			id, _ := tt.r.ID()
			if uid, _ := lookup(ev, "metadata.uid"); uid != id+"-3002" {
				t.Errorf("metadata.uid = %v, want the record ID and -3002", uid)
			}
			if c, _ := lookup(ev, "metadata.correlation_uid"); c != id {
				t.Errorf("metadata.correlation_uid = %v, want the record ID", c)
			}
			if got, _ := lookup(ev, "time"); fmt.Sprint(got) != "1772366400123" {
				t.Errorf("time = %v", got)
			}
		})
	}
	bare := Record{Version: Version, Time: At(decidedAt), Decision: decision.Deny, Provenance: decision.Insufficient,
		Credential: Credential{Verdict: credential.Rejected, Reason: reason.TokenMissing}}
	if ev, ok := OCSFAuthentication(bare); ok {
		t.Errorf("a record without a credential gave an Authentication event: %v", ev)
	}
}

func TestOCSFAuthenticationGolden(t *testing.T) {
	ev, _ := OCSFAuthentication(scenarios(t)["deny-revoke"].record())
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	golden(t, "deny-revoke.ocsf-3002.json", buf.Bytes())
}

func TestWriteOCSF(t *testing.T) {
	sc := scenarios(t)
	bare := Record{Version: Version, Time: At(decidedAt), Decision: decision.Deny, Provenance: decision.Insufficient,
		Credential: Credential{Verdict: credential.Rejected, Reason: reason.TokenMissing}}
	recs := []Record{sc["allow"].record(), bare, sc["rejected"].record()}
	for _, tt := range []struct {
		classes OCSFClasses
		want    []string // class_uid per line
	}{
		{OCSFClasses{Authentication: true, APIActivity: true}, []string{"3002", "6003", "6003", "3002", "6003"}},
		{OCSFClasses{APIActivity: true}, []string{"6003", "6003", "6003"}},
		{OCSFClasses{Authentication: true}, []string{"3002", "3002"}},
	} {
		var buf bytes.Buffer
		if err := WriteOCSF(&buf, slices.Values(recs), tt.classes); err != nil {
			t.Fatal(err)
		}
		var got []string
		var corr []any
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(ev["class_uid"]))
			c, _ := lookup(ev, "metadata.correlation_uid")
			corr = append(corr, c)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%+v: classes %v, want %v", tt.classes, got, tt.want)
		}
		if len(got) == 5 && (corr[0] != corr[1] || corr[1] == corr[2]) {
			t.Errorf("the two events of a record do not share their correlation_uid: %v", corr)
		}
	}
	if err := WriteOCSF(failWriter{}, slices.Values(recs), OCSFClasses{APIActivity: true}); err == nil {
		t.Error("a failing writer gives no error")
	}
}
