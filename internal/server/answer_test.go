package server

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/origin"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// fullDecision sets every field a check answer can carry.
func fullDecision() *provost.Decision {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	return &provost.Decision{
		Outcome: verdict.Deny,
		Credential: verdict.Credential{Verdict: verdict.Accepted, Reason: reason.OK, Message: "the credential was accepted",
			Kind: verdict.KindJWT, Fingerprint: "fp1:" + strings.Repeat("A", 43),
			Metadata:   verdict.Metadata{Issuer: "https://sts.example", Subject: "ci:deploy", Audience: []string{"https://api.example"}, IssuedAt: at.Add(-time.Minute)},
			Possession: verdict.Possession{Method: "dpop", JKT: "jkt"}, RevocationID: "rev_1", DPoPNonce: "n"},
		Provenance: verdict.Violated, Binding: "ci-deploy", Mode: verdict.ModeEnforce,
		Checks: []verdict.Check{{Signal: verdict.SignalNetwork, Status: verdict.StatusFail, Observed: "198.51.100.23",
			Expected: "build-hosts", Reason: reason.NetworkNotApproved, Message: "not from an approved network", Evidence: true}},
		Findings: []origin.Finding{{Code: reason.SourceDrift, Message: "the source changed"}},
		Reasons:  []verdict.Reason{{Code: reason.NetworkNotApproved, Message: "not from an approved network"}},
		Actions:  []verdict.Action{verdict.Revoke, verdict.Alert},
		Tags:     []verdict.Tag{{Framework: "NIST CSF 2.0", ID: "PR.AA-03", Name: "authenticated"}},
		Signals: verdict.Signals{Now: at, Method: "POST", Target: "/v1/deploy", Path: "/v1/deploy", RawTarget: "/v1/deploy",
			Network: verdict.NetworkSignal{Peer: netip.MustParseAddr("198.51.100.23"), Client: netip.MustParseAddr("198.51.100.23"), Origin: "198.51.100.0/24"}},
		Origin:       origin.Origin{Network: "198.51.100.0/24"},
		RevocationID: "rev_2", RequestID: "ignored: the answer names the request as the logs do",
		Evidence: &verdict.EvidenceRef{Index: 7, LeafHash: "q83vEjRWeJA="},
	}
}

// The check API's answer is exactly testdata/check_answer.json (run with
// -update to rewrite it), and that document is what docs/openapi.yaml
// describes as CheckAnswer: every member it has is a documented property,
// and every required property is there.
func TestCheckAnswerGolden(t *testing.T) {
	got, err := json.MarshalIndent(answerOf(fullDecision(), "req-1"), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Check(t, "testdata/check_answer.json", got, "the check answer changed; if on purpose, update docs/openapi.yaml and run go test -update")
	var doc any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := openAPISchemas(t)
	for _, p := range schemaProblems(schemas, schemas["CheckAnswer"], doc, "CheckAnswer") {
		t.Error(p)
	}
}

func openAPISchemas(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	comps, _ := spec["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas["CheckAnswer"] == nil {
		t.Fatal("docs/openapi.yaml has no components.schemas.CheckAnswer")
	}
	return schemas
}

// schemaProblems compares a JSON value with an OpenAPI schema: members not
// documented, required members missing. Objects documented without
// properties (free-form) are not descended into.
func schemaProblems(schemas map[string]any, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return schemaProblems(schemas, schemas[name], v, at)
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return nil
		}
		for k, sub := range v {
			ps, ok := props[k]
			if !ok {
				out = append(out, at+"."+k+" is answered but not documented in docs/openapi.yaml")
				continue
			}
			out = append(out, schemaProblems(schemas, ps, sub, at+"."+k)...)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				out = append(out, at+"."+r.(string)+" is documented as required but not answered")
			}
		}
	case []any:
		for _, e := range v {
			out = append(out, schemaProblems(schemas, s["items"], e, at+"[]")...)
		}
	}
	return out
}
