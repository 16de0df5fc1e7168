package telemetry

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// knownReasons is exactly package reason's Code constants: a code added
// there and not here would be counted as "other".
func TestKnownReasonsAreTheReasonPackage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../reason/reason.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	source := map[reason.Code]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("a Code constant is not a literal: %#v", v)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				source[reason.Code(s)] = true
			}
		}
	}
	if len(source) < 100 {
		t.Fatalf("parsed only %d codes from reason.go", len(source))
	}
	for c := range source {
		if !knownReasons[c] {
			t.Errorf("reason %q is missing from knownReasons (reasons.go)", c)
		}
	}
	for c := range knownReasons {
		if !source[c] {
			t.Errorf("knownReasons holds %q, which package reason does not define", c)
		}
		if c == otherReason {
			t.Errorf("a reason code is named %q, the label of unknown codes", c)
		}
	}
	if got := reasonLabel("made_up_code"); got != otherReason {
		t.Errorf("an unknown code is labelled %q", got)
	}
}

func TestAnswered(t *testing.T) {
	dec := func(o verdict.Outcome, v verdict.CredentialVerdict, codes ...reason.Code) *provost.Decision {
		d := &provost.Decision{Outcome: o}
		d.Credential.Verdict = v
		for _, c := range codes {
			d.Reasons = append(d.Reasons, verdict.Reason{Code: c})
		}
		return d
	}
	failed := errors.New("store down")
	for _, tc := range []struct {
		name          string
		d             *provost.Decision
		err           error
		outcome, verd string
		codes         []string
	}{
		{"allow without reasons", dec(verdict.Allow, verdict.Accepted), nil, "allow", "accepted", []string{}},
		{"deny with several reasons", dec(verdict.Deny, verdict.Accepted, reason.ShadowAutomation, reason.NetworkNotApproved), nil,
			"deny", "accepted", []string{"shadow_automation", "network_not_approved"}},
		{"a repeated code counts once", dec(verdict.StepUp, verdict.Accepted, reason.TokenTooOld, reason.TokenTooOld), nil,
			"step_up", "accepted", []string{"token_too_old"}},
		{"an unknown code is other", dec(verdict.Deny, verdict.Rejected, "custom_thing", "other_custom"), nil,
			"deny", "rejected", []string{"other"}},
		{"no decision", nil, failed, "deny", "rejected", []string{"internal_error"}},
		{"no decision, no error", nil, nil, "deny", "rejected", []string{"internal_error"}},
		{"an allow with an error is answered as a denial", dec(verdict.Allow, verdict.Accepted, reason.ProvenanceVerified), failed,
			"deny", "rejected", []string{"provenance_verified", "internal_error"}},
		{"a rejected denial with an error is kept", dec(verdict.Deny, verdict.Rejected, reason.InternalError), failed,
			"deny", "rejected", []string{"internal_error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before []verdict.Reason
			if tc.d != nil {
				before = slices.Clone(tc.d.Reasons)
			}
			outcome, verd, codes := answered(tc.d, tc.err)
			if outcome != tc.outcome || verd != tc.verd || !slices.Equal(codes, tc.codes) {
				t.Errorf("answered = %q %q %q, want %q %q %q", outcome, verd, codes, tc.outcome, tc.verd, tc.codes)
			}
			if tc.d != nil && !slices.Equal(tc.d.Reasons, before) {
				t.Error("answered changed the decision")
			}
		})
	}
}
