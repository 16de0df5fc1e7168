package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
)

// kind is the JSON type an OCSF attribute must have.
type kind int

const (
	integer kind = iota
	str
	object
	array
)

// ocsfRequired lists the required attributes of the OCSF API Activity
// class (class_uid 6003), schema version 1.7.0, with their JSON types.
// Source: github.com/ocsf/ocsf-schema (v1.7.0): events/base_event.json
// (activity_id, category_uid, class_uid, metadata, severity_id, time,
// type_uid), events/application/api_activity.json (actor, api,
// src_endpoint), objects/metadata.json (product, version), objects/api.json
// (operation), objects/request.json (uid, when api.request is given).
var ocsfRequired = map[string]kind{
	"activity_id":      integer,
	"category_uid":     integer,
	"class_uid":        integer,
	"metadata":         object,
	"metadata.product": object,
	"metadata.version": str,
	"severity_id":      integer,
	"time":             integer, // timestamp_t: milliseconds since the epoch
	"type_uid":         integer,
	"actor":            object,
	"api":              object,
	"api.operation":    str,
	"src_endpoint":     object,
}

// ocsfAtLeastOne lists the same schema's at_least_one constraints on the
// objects the export fills: objects/actor.json, objects/network_endpoint.json,
// objects/user.json, objects/url.json, objects/_entity.json (product).
var ocsfAtLeastOne = map[string][]string{
	"actor":            {"process", "user", "invoked_by", "session", "app_name", "app_uid"},
	"actor.user":       {"account", "name", "uid"},
	"src_endpoint":     {"ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name"},
	"http_request.url": {"url_string", "path"},
	"metadata.product": {"name", "uid"},
	"policy":           {"name", "type", "uid"},
	"api.request":      {"uid"},
	"unmapped.provost": {"decision"},
}

// ocsfTyped lists optional attributes the export fills, with their types.
var ocsfTyped = map[string]kind{
	"activity_name": str, "category_name": str, "class_name": str, "type_name": str,
	"severity": str, "status_id": integer, "status": str, "action_id": integer, "action": str,
	"message": str, "timezone_offset": integer, "metadata.uid": str, "metadata.profiles": array,
	"metadata.original_time": str, "src_endpoint.ip": str, "api.request.uid": str,
	"http_request.http_method": str, "http_request.url.path": str,
}

// lookup returns the value at a dotted path of a decoded event.
func lookup(ev map[string]any, path string) (any, bool) {
	var cur any = ev
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func hasKind(v any, k kind) bool {
	switch k {
	case integer:
		n, ok := v.(json.Number)
		_, err := n.Int64()
		return ok && err == nil
	case str:
		s, ok := v.(string)
		return ok && s != ""
	case object:
		_, ok := v.(map[string]any)
		return ok
	}
	_, ok := v.([]any)
	return ok
}

// validateOCSF checks the event as a SIEM would receive it: encoded to
// JSON and decoded again.
func validateOCSF(t *testing.T, event map[string]any) map[string]any {
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
	for path, k := range ocsfRequired {
		if v, ok := lookup(ev, path); !ok || !hasKind(v, k) {
			t.Errorf("required %s is %v (present %v), want kind %d", path, v, ok, k)
		}
	}
	for path, k := range ocsfTyped {
		if v, ok := lookup(ev, path); ok && !hasKind(v, k) {
			t.Errorf("%s is %#v, want kind %d", path, v, k)
		}
	}
	for path, keys := range ocsfAtLeastOne {
		v, ok := lookup(ev, path)
		if !ok {
			continue
		}
		m, _ := v.(map[string]any)
		if !slices.ContainsFunc(keys, func(k string) bool { return m[k] != nil }) {
			t.Errorf("%s = %v has none of %v", path, v, keys)
		}
	}
	n := func(path string) int64 {
		v, _ := lookup(ev, path)
		num, _ := v.(json.Number)
		i, _ := num.Int64()
		return i
	}
	if n("class_uid") != 6003 || n("category_uid") != 6 || n("type_uid") != 6003*100+n("activity_id") {
		t.Errorf("class %d, category %d, type %d, activity %d: want 6003, 6 and class*100+activity",
			n("class_uid"), n("category_uid"), n("type_uid"), n("activity_id"))
	}
	if v, _ := lookup(ev, "metadata.version"); v != OCSFVersion {
		t.Errorf("metadata.version = %v", v)
	}
	return ev
}

func TestOCSFCarriesRequiredFields(t *testing.T) {
	records := map[string]Record{}
	for name, s := range scenarios(t) {
		records[name] = s.record()
	}
	// A record with nothing but what Marshal requires.
	records["bare"] = Record{Version: Version, Time: At(decidedAt), Decision: decision.Deny,
		Provenance: decision.Insufficient, Credential: Credential{Verdict: credential.Rejected}}
	odd := records["rejected"]
	odd.Request.Method, odd.Signals.Network.Client = "PROPFIND", ""
	records["odd method, peer only"] = odd

	for name, r := range records {
		t.Run(name, func(t *testing.T) {
			ev := validateOCSF(t, OCSF(r))
			if got, _ := lookup(ev, "time"); fmt.Sprint(got) != "1772366400123" {
				t.Errorf("time = %v, want the record's time in milliseconds", got)
			}
			id, err := r.ID()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := lookup(ev, "metadata.uid"); got != id {
				t.Errorf("metadata.uid = %v, want the record ID %s", got, id)
			}
		})
	}
}

func TestOCSFMapping(t *testing.T) {
	sc := scenarios(t)
	tests := []struct {
		name string
		r    Record
		want map[string]any
	}{
		{"allow", sc["allow"].record(), map[string]any{
			"activity_id": "1", "severity_id": "1", "status_id": "1", "action_id": "1", "is_alert": false,
			"actor.app_uid": "spiffe://example.org/ci/runner", "actor.user.uid": "repo:acme/api:ref:refs/heads/main",
			"actor.user.name": "deployer", "src_endpoint.ip": "192.0.2.10", "api.operation": "POST",
			"api.request.uid": "req-0001", "http_request.url.path": "/v1/deploy", "policy.name": "ci-deploy",
			"unmapped.provost.decision": "allow"}},
		{"deny-revoke", sc["deny-revoke"].record(), map[string]any{
			"severity_id": "5", "status_id": "2", "action_id": "2", "is_alert": true,
			"status_code": "network_not_approved", "src_endpoint.ip": "198.51.100.7",
			"unmapped.provost.revocation_id": "rev-7f3a"}},
		{"rejected", sc["rejected"].record(), map[string]any{
			"activity_id": "2", "severity_id": "3", "status_code": "expired",
			"unmapped.provost.credential_reason": "expired", "http_request.url.path": "/v1/invoices"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validateOCSF(t, OCSF(tt.r))
			for path, want := range tt.want {
				got, _ := lookup(ev, path)
				if n, ok := got.(json.Number); ok {
					got = n.String()
				}
				if got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

func TestOCSFActivityAndSeverity(t *testing.T) {
	for method, want := range map[string]int{"": 0, "POST": 1, "get": 2, "HEAD": 2, "PATCH": 3, "DELETE": 4, "BREW": 99} {
		if got, _ := ocsfActivity(method); got != want {
			t.Errorf("activity of %q = %d, want %d", method, got, want)
		}
	}
	sev := []struct {
		d       decision.Outcome
		actions []decision.Action
		want    int
	}{
		{decision.Allow, nil, 1},
		{decision.Allow, []decision.Action{decision.Alert}, 2},
		{decision.StepUp, []decision.Action{decision.Alert}, 3},
		{decision.Deny, nil, 3},
		{decision.Deny, []decision.Action{decision.Alert}, 4},
		{decision.Deny, []decision.Action{decision.Alert, decision.Revoke}, 5},
	}
	for _, s := range sev {
		if got, _ := ocsfSeverity(Record{Decision: s.d, Actions: s.actions}); got != s.want {
			t.Errorf("severity of %s %v = %d, want %d", s.d, s.actions, got, s.want)
		}
	}
}

func TestOCSFGolden(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(OCSF(scenarios(t)["deny-revoke"].record())); err != nil {
		t.Fatal(err)
	}
	golden(t, "deny-revoke.ocsf.json", buf.Bytes())
}

func TestWriteJSONLines(t *testing.T) {
	sc := scenarios(t)
	recs := []Record{sc["allow"].record(), sc["rejected"].record()}
	var buf bytes.Buffer
	if err := WriteJSONLines(&buf, slices.Values(recs)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(recs) || !strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("got %d lines, want %d, newline-terminated:\n%s", len(lines), len(recs), buf.String())
	}
	for i, l := range lines {
		r, err := Unmarshal([]byte(l))
		if err != nil || !equal(r, recs[i]) {
			t.Errorf("line %d does not decode to record %d: %v", i, i, err)
		}
	}

	bad := append(slices.Clone(recs), Record{})
	if err := WriteJSONLines(&bytes.Buffer{}, slices.Values(bad)); !errors.Is(err, ErrInvalid) {
		t.Errorf("an invalid record gives %v, want ErrInvalid", err)
	}
	if err := WriteJSONLines(failWriter{}, slices.Values(recs)); err == nil {
		t.Error("a failing writer gives no error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
