package decision_test

// Table tests for Decide driven by the JSON vectors in testdata/ (the
// schema and how the expectations were derived are in testdata/README.md).
//
// The test builds decision.Input from its own vector schema and reads the
// decision back only through its JSON form (the keys decision, provenance,
// reasons[].code, actions and tags[].id), so it does not depend on the Go
// names of the decision's fields or on which package defines the value
// types: values of the input's named string types are set by a JSON round
// trip as well.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/decision"
)

const vectorDir = "testdata"

// vectorFile is one file of testdata: a description and its cases.
type vectorFile struct {
	Description string       `json:"description"`
	Cases       []vectorCase `json:"cases"`
}

// vectorCase is one named case.
type vectorCase struct {
	Name string `json:"name"`
	// Covers names what the case exercises; see coverage below.
	Covers []string `json:"covers"`
	// Notes says how the expectation follows from doc.go and the docs.
	Notes string `json:"notes"`
	// DocDisagreement, when set, says that the code is known to disagree
	// with doc.go on this case: the expectation is the documented one, the
	// case is skipped while the code disagrees, and the test fails once it
	// agrees (so the note is removed).
	DocDisagreement string       `json:"doc_disagreement,omitempty"`
	Input           vectorInput  `json:"input"`
	Expect          vectorExpect `json:"expect"`

	file string
}

type vectorInput struct {
	// GlobalMode is the bindings file's mode: the mode when no binding
	// matched, and a binding's mode when it names none.
	GlobalMode string           `json:"global_mode"`
	Credential vectorCredential `json:"credential"`
	Binding    *vectorBinding   `json:"binding"` // null: no binding matched
	Checks     []vectorCheck    `json:"checks"`
	Findings   []vectorFinding  `json:"findings"`
}

type vectorCredential struct {
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type vectorBinding struct {
	Name            string   `json:"name"`
	Mode            string   `json:"mode"`         // "" = global_mode
	OnViolation     string   `json:"on_violation"` // "" = left out of the file
	RequireEvidence []string `json:"require_evidence"`
	Honeytoken      bool     `json:"honeytoken"`
}

type vectorCheck struct {
	Signal   string `json:"signal"`
	Status   string `json:"status"`
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
	Evidence bool   `json:"evidence,omitempty"`
}

type vectorFinding struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type vectorExpect struct {
	Decision   string   `json:"decision"`
	Provenance string   `json:"provenance"`
	Reasons    []string `json:"reasons"` // codes, in order
	// Actions is compared as a set, after removing from both sides the
	// actions in ActionsUnspecified: those the docs neither require nor
	// rule out for this case.
	Actions            []string `json:"actions"`
	ActionsUnspecified []string `json:"actions_unspecified"`
	Tags               []string `json:"tags"` // tag IDs, in order
}

// result is what the test reads back from the decision's JSON.
type result struct {
	Decision   string   `json:"decision"`
	Provenance string   `json:"provenance"`
	Reasons    []string `json:"-"`
	Actions    []string `json:"actions"`
	Tags       []string `json:"-"`
}

var (
	modes       = []string{"enforce", "monitor", "learn"}
	onViolation = []string{"", "deny", "step_up", "revoke", "alert"}
	statuses    = []string{"pass", "fail", "absent"}
	signalNames = []string{"workload", "network", "proxy_chain", "posture", "issuer", "ci", "time", "possession", "rule"}
	outcomes    = []string{"allow", "step_up", "deny"}
	provenances = []string{"verified", "violated", "insufficient"}
	actionNames = []string{"revoke", "alert"}
	codeRE      = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$`)
	nameRE      = regexp.MustCompile(`^[a-z0-9]+(?:_[a-z0-9]+)*$`)
)

// loadVectors reads every file of testdata. Every entry must be README.md
// or a .json vector file; anything else is an error, so no file can sit in
// testdata without being run.
func loadVectors(t *testing.T) []*vectorCase {
	t.Helper()
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*vectorCase
	names := map[string]string{}
	for _, e := range entries {
		path := filepath.Join(vectorDir, e.Name())
		switch {
		case e.Name() == "README.md" && e.Type().IsRegular():
			continue
		case !e.Type().IsRegular() || filepath.Ext(e.Name()) != ".json":
			t.Fatalf("%s: testdata holds only README.md and .json vector files; this entry would never be run", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var f vectorFile
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if dec.More() {
			t.Fatalf("%s: trailing data after the vector file", path)
		}
		if f.Description == "" {
			t.Errorf("%s: no description", path)
		}
		if len(f.Cases) == 0 {
			t.Fatalf("%s: no cases", path)
		}
		for i := range f.Cases {
			c := &f.Cases[i]
			c.file = e.Name()
			if !nameRE.MatchString(c.Name) {
				t.Errorf("%s: case %d: name %q is not snake_case", path, i, c.Name)
			}
			if other, dup := names[c.Name]; dup {
				t.Errorf("%s: case %q is also in %s", path, c.Name, other)
			}
			names[c.Name] = e.Name()
			if err := c.validate(); err != nil {
				t.Errorf("%s: case %q: %v", path, c.Name, err)
			}
			out = append(out, c)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(out) == 0 {
		t.Fatal("no vectors in testdata")
	}
	return out
}

func oneOf(what, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("%s %q is not one of %q", what, v, allowed)
	}
	return nil
}

// validate rejects vectors with typos or impossible inputs, so a vector
// cannot pass by accident.
func (c *vectorCase) validate() error {
	in, ex := &c.Input, &c.Expect
	if len(c.Covers) == 0 {
		return fmt.Errorf("no covers")
	}
	if c.Notes == "" {
		return fmt.Errorf("no notes: say how the expectation follows from the rules")
	}
	if err := oneOf("global_mode", in.GlobalMode, modes); err != nil {
		return err
	}
	switch in.Credential.Verdict {
	case "accepted":
		if in.Credential.Reason != "ok" {
			return fmt.Errorf("an accepted credential has reason ok, not %q", in.Credential.Reason)
		}
	case "rejected":
		if in.Credential.Reason == "ok" || !codeRE.MatchString(in.Credential.Reason) {
			return fmt.Errorf("a rejected credential needs a reason code, not %q", in.Credential.Reason)
		}
	default:
		return fmt.Errorf("credential verdict %q is not accepted or rejected", in.Credential.Verdict)
	}
	if in.Credential.Message == "" {
		return fmt.Errorf("credential message is empty")
	}
	if b := in.Binding; b != nil {
		if b.Name == "" {
			return fmt.Errorf("binding has no name")
		}
		if b.Mode != "" {
			if err := oneOf("binding mode", b.Mode, modes); err != nil {
				return err
			}
		}
		if err := oneOf("on_violation", b.OnViolation, onViolation); err != nil {
			return err
		}
		for _, s := range b.RequireEvidence {
			if err := oneOf("require_evidence signal", s, signalNames); err != nil {
				return err
			}
		}
	} else if len(in.Checks) > 0 {
		return fmt.Errorf("checks without a binding")
	}
	for i, ch := range in.Checks {
		if err := oneOf(fmt.Sprintf("checks[%d].signal", i), ch.Signal, signalNames); err != nil {
			return err
		}
		if err := oneOf(fmt.Sprintf("checks[%d].status", i), ch.Status, statuses); err != nil {
			return err
		}
		if (ch.Status == "pass") != (ch.Reason == "") {
			return fmt.Errorf("checks[%d]: a reason is set exactly for fail and absent", i)
		}
		if ch.Reason != "" && !codeRE.MatchString(ch.Reason) {
			return fmt.Errorf("checks[%d]: reason %q is not a code", i, ch.Reason)
		}
		if ch.Evidence && (in.Binding == nil || !slices.Contains(in.Binding.RequireEvidence, ch.Signal)) {
			return fmt.Errorf("checks[%d]: an evidence check's signal must be in the binding's require_evidence", i)
		}
	}
	for i, f := range in.Findings {
		if !codeRE.MatchString(f.Code) || f.Message == "" {
			return fmt.Errorf("findings[%d]: needs a code and a message", i)
		}
	}
	if err := oneOf("expect.decision", ex.Decision, outcomes); err != nil {
		return err
	}
	if err := oneOf("expect.provenance", ex.Provenance, provenances); err != nil {
		return err
	}
	if len(ex.Reasons) == 0 {
		return fmt.Errorf("expect.reasons is empty: every decision has a reason")
	}
	for _, r := range ex.Reasons {
		if !codeRE.MatchString(r) {
			return fmt.Errorf("expect.reasons: %q is not a code", r)
		}
	}
	if ex.Actions == nil {
		return fmt.Errorf("expect.actions is missing (use [] for none)")
	}
	if ex.Tags == nil {
		return fmt.Errorf("expect.tags is missing (use [] for none)")
	}
	for _, a := range slices.Concat(ex.Actions, ex.ActionsUnspecified) {
		if err := oneOf("action", a, actionNames); err != nil {
			return err
		}
	}
	for _, a := range ex.ActionsUnspecified {
		if slices.Contains(ex.Actions, a) {
			return fmt.Errorf("action %q is both expected and unspecified", a)
		}
	}
	for _, cov := range c.Covers {
		pred, ok := coverage[cov]
		if !ok {
			return fmt.Errorf("covers %q: not a coverage label (see coverage in vectors_test.go)", cov)
		}
		if !pred(c) {
			return fmt.Errorf("covers %q, but the case's input does not exercise it", cov)
		}
	}
	return nil
}

// mode is the mode the decision is made in: the binding's, else the
// global one.
func (c *vectorCase) mode() string {
	if b := c.Input.Binding; b != nil && b.Mode != "" {
		return b.Mode
	}
	return c.Input.GlobalMode
}

// setJSON sets *dst from v by a JSON round trip, so the test depends only
// on the JSON names of the value types, not on their Go names or packages.
func setJSON(t *testing.T, dst, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatalf("setting %T from %s: %v", dst, b, err)
	}
}

// input builds the decision.Input the case describes.
func (c *vectorCase) input(t *testing.T) decision.Input {
	t.Helper()
	var in decision.Input
	setJSON(t, &in.Credential, c.Input.Credential)
	setJSON(t, &in.Mode, c.mode())
	if vb := c.Input.Binding; vb != nil {
		b := &binding.Binding{Name: vb.Name, Honeytoken: vb.Honeytoken}
		setJSON(t, &b.Mode, c.mode())
		setJSON(t, &b.OnViolation, vb.OnViolation)
		if vb.RequireEvidence != nil {
			setJSON(t, &b.RequireEvidence, vb.RequireEvidence)
		}
		in.Binding = b
	}
	if c.Input.Checks != nil {
		setJSON(t, &in.Checks, c.Input.Checks)
	}
	if c.Input.Findings != nil {
		setJSON(t, &in.Findings, c.Input.Findings)
	}
	return in
}

// decide runs Decide and reads the result back from its JSON.
func decide(t *testing.T, in decision.Input) (result, []byte) {
	t.Helper()
	raw, err := json.Marshal(decision.Decide(in))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("the decision's JSON is not an object: %v\n%s", err, raw)
	}
	for _, k := range []string{"decision", "provenance", "reasons", "actions", "tags"} {
		if v, ok := keys[k]; !ok || string(v) == "null" {
			t.Fatalf("the decision's JSON has no %q (or it is null):\n%s", k, raw)
		}
	}
	var r result
	var lists struct {
		Reasons []struct {
			Code *string `json:"code"`
		} `json:"reasons"`
		Tags []struct {
			ID *string `json:"id"`
		} `json:"tags"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &lists); err != nil {
		t.Fatal(err)
	}
	r.Reasons, r.Tags = []string{}, []string{}
	for _, x := range lists.Reasons {
		if x.Code == nil {
			t.Fatalf("a reason has no \"code\":\n%s", raw)
		}
		r.Reasons = append(r.Reasons, *x.Code)
	}
	for _, x := range lists.Tags {
		if x.ID == nil {
			t.Fatalf("a tag has no \"id\":\n%s", raw)
		}
		r.Tags = append(r.Tags, *x.ID)
	}
	return r, raw
}

// mismatches compares a result with the expectation.
func mismatches(ex vectorExpect, got result) []string {
	var out []string
	if got.Decision != ex.Decision {
		out = append(out, fmt.Sprintf("decision = %q, want %q", got.Decision, ex.Decision))
	}
	if got.Provenance != ex.Provenance {
		out = append(out, fmt.Sprintf("provenance = %q, want %q", got.Provenance, ex.Provenance))
	}
	if !slices.Equal(got.Reasons, ex.Reasons) {
		out = append(out, fmt.Sprintf("reasons = %q, want %q", got.Reasons, ex.Reasons))
	}
	norm := func(a []string) []string {
		a = slices.DeleteFunc(slices.Clone(a), func(s string) bool { return slices.Contains(ex.ActionsUnspecified, s) })
		slices.Sort(a)
		return a
	}
	if g := slices.Clone(got.Actions); len(slices.Compact(slices.Sorted(slices.Values(g)))) != len(g) {
		out = append(out, fmt.Sprintf("actions %q repeat an action", got.Actions))
	}
	if g, w := norm(got.Actions), norm(ex.Actions); !slices.Equal(g, w) {
		msg := fmt.Sprintf("actions = %q, want %q", got.Actions, ex.Actions)
		if len(ex.ActionsUnspecified) > 0 {
			msg += fmt.Sprintf(" (either way: %q)", ex.ActionsUnspecified)
		}
		out = append(out, msg)
	}
	if !slices.Equal(got.Tags, ex.Tags) {
		out = append(out, fmt.Sprintf("tags = %q, want %q", got.Tags, ex.Tags))
	}
	return out
}

func TestVectors(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(strings.TrimSuffix(c.file, ".json")+"/"+c.Name, func(t *testing.T) {
			got, raw := decide(t, c.input(t))
			bad := mismatches(c.Expect, got)
			switch {
			case c.DocDisagreement != "" && len(bad) == 0:
				t.Errorf("the code now agrees with doc.go on this case: remove its doc_disagreement note (%s)", c.DocDisagreement)
			case c.DocDisagreement != "":
				t.Skipf("known disagreement between the code and doc.go: %s\n%s", c.DocDisagreement, strings.Join(bad, "\n"))
			case len(bad) > 0:
				t.Errorf("%s\n(%s)\ndecision JSON: %s", strings.Join(bad, "\n"), c.Notes, raw)
			}
		})
	}
}

// TestVectorFilesAllRun checks that every file in testdata is a vector file
// that loadVectors reads, and that TestVectors runs each of its cases.
func TestVectorFilesAllRun(t *testing.T) {
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	perFile := map[string]int{}
	for _, c := range loadVectors(t) {
		perFile[c.file]++
	}
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if perFile[e.Name()] == 0 {
			t.Errorf("testdata/%s is never run", e.Name())
		}
	}
	if len(perFile) == 0 {
		t.Fatal("no vector files")
	}
}

// The coverage labels a case may claim, each with what the case's input
// must hold for the claim to be true. TestVectorCoverage requires every
// label (and rule_N for each numbered rule of doc.go) to be claimed by at
// least one case that is not a known disagreement.
var coverage = map[string]func(c *vectorCase) bool{
	// The numbered rules of doc.go.
	"rule_1": rejected,
	"rule_2": func(c *vectorCase) bool { return accepted(c) && c.Input.Binding == nil },
	"rule_3": func(c *vectorCase) bool { return matched(c) && len(c.Input.Checks) > 0 },
	"rule_4": matched,
	"rule_5": func(c *vectorCase) bool { return accepted(c) && (len(c.Input.Findings) > 0 || honeytoken(c)) },
	"rule_6": func(c *vectorCase) bool { return c.mode() != "enforce" },

	"mode_enforce": inMode("enforce"),
	"mode_monitor": inMode("monitor"),
	"mode_learn":   inMode("learn"),

	"on_violation_deny":    violatedWith("deny"),
	"on_violation_step_up": violatedWith("step_up"),
	"on_violation_revoke":  violatedWith("revoke"),
	"on_violation_alert":   violatedWith("alert"),
	"on_violation_default": violatedWith(""),

	"honeytoken_enforce": both(honeytoken, inMode("enforce")),
	"honeytoken_monitor": both(honeytoken, inMode("monitor")),
	"honeytoken_learn":   both(honeytoken, inMode("learn")),

	"rejected_possession": func(c *vectorCase) bool { return rejected(c) && possessionCode(c.Input.Credential.Reason) },
	"rejected_other":      func(c *vectorCase) bool { return rejected(c) && !possessionCode(c.Input.Credential.Reason) },
	"rejected_enforce":    both(rejected, inMode("enforce")),
	"rejected_monitor":    both(rejected, inMode("monitor")),
	"rejected_learn":      both(rejected, inMode("learn")),

	"shadow_enforce": both(shadow, inMode("enforce")),
	"shadow_monitor": both(shadow, inMode("monitor")),
	"shadow_learn":   both(shadow, inMode("learn")),

	// An absent check whose signal is not in require_evidence: violated.
	"absent_required": anyCheck(func(c *vectorCase, ch vectorCheck) bool {
		return ch.Status == "absent" && !ch.Evidence && !listed(c, ch.Signal)
	}),
	// An absent require_evidence check (evidence: true): insufficient.
	"absent_evidence": anyCheck(func(c *vectorCase, ch vectorCheck) bool {
		return ch.Status == "absent" && ch.Evidence
	}),
	// An absent requirement check whose signal is also in require_evidence:
	// insufficient, even though the binding constrains its value.
	"absent_evidence_covered": anyCheck(func(c *vectorCase, ch vectorCheck) bool {
		return ch.Status == "absent" && !ch.Evidence && listed(c, ch.Signal)
	}),

	"detector_copied_credential":  finding("copied_credential"),
	"detector_concurrent_origins": finding("concurrent_origins"),
	"detector_source_drift": func(c *vectorCase) bool {
		return finding("source_drift")(c) && (c.Input.Binding == nil || c.Input.Binding.OnViolation != "revoke")
	},
	"detector_source_drift_revoke": func(c *vectorCase) bool {
		return finding("source_drift")(c) && c.Input.Binding != nil && c.Input.Binding.OnViolation == "revoke"
	},
	"detector_dormant_revival":  finding("dormant_revival"),
	"detector_unnamed_workload": func(c *vectorCase) bool { return matched(c) && finding("shadow_automation")(c) },
	// A finding on a request the checks (or rule 2) already did not allow:
	// the outcome must not get looser.
	"stricter_only": func(c *vectorCase) bool {
		return accepted(c) && len(c.Input.Findings) > 0 &&
			(c.Input.Binding == nil || violatedByChecks(c) || insufficientByChecks(c))
	},
	// A finding on a request the checks allow (verified, or violated under
	// on_violation alert): the finding decides how far it is raised.
	"finding_over_allow": func(c *vectorCase) bool {
		return matched(c) && len(c.Input.Findings) > 0 && !insufficientByChecks(c) &&
			(!violatedByChecks(c) || c.Input.Binding.OnViolation == "alert")
	},
}

func rejected(c *vectorCase) bool   { return c.Input.Credential.Verdict == "rejected" }
func accepted(c *vectorCase) bool   { return c.Input.Credential.Verdict == "accepted" }
func matched(c *vectorCase) bool    { return accepted(c) && c.Input.Binding != nil }
func shadow(c *vectorCase) bool     { return accepted(c) && c.Input.Binding == nil }
func honeytoken(c *vectorCase) bool { return matched(c) && c.Input.Binding.Honeytoken }

func inMode(m string) func(*vectorCase) bool {
	return func(c *vectorCase) bool { return c.mode() == m }
}

func both(a, b func(*vectorCase) bool) func(*vectorCase) bool {
	return func(c *vectorCase) bool { return a(c) && b(c) }
}

func possessionCode(code string) bool {
	return strings.HasPrefix(code, "dpop_") || strings.HasPrefix(code, "mtls_")
}

func listed(c *vectorCase, signal string) bool {
	return c.Input.Binding != nil && slices.Contains(c.Input.Binding.RequireEvidence, signal)
}

func anyCheck(f func(*vectorCase, vectorCheck) bool) func(*vectorCase) bool {
	return func(c *vectorCase) bool {
		return matched(c) && slices.ContainsFunc(c.Input.Checks, func(ch vectorCheck) bool { return f(c, ch) })
	}
}

func finding(code string) func(*vectorCase) bool {
	return func(c *vectorCase) bool {
		return accepted(c) && slices.ContainsFunc(c.Input.Findings, func(f vectorFinding) bool { return f.Code == code })
	}
}

// violatedByChecks is rule 3's "violated": a failed check, or an absent
// signal that require_evidence does not list.
func violatedByChecks(c *vectorCase) bool {
	return slices.ContainsFunc(c.Input.Checks, func(ch vectorCheck) bool {
		return ch.Status == "fail" || ch.Status == "absent" && !ch.Evidence && !listed(c, ch.Signal)
	})
}

// insufficientByChecks is rule 3's "insufficient".
func insufficientByChecks(c *vectorCase) bool {
	return !violatedByChecks(c) && slices.ContainsFunc(c.Input.Checks, func(ch vectorCheck) bool {
		return ch.Status == "absent"
	})
}

func violatedWith(action string) func(*vectorCase) bool {
	return func(c *vectorCase) bool {
		return matched(c) && c.Input.Binding.OnViolation == action && violatedByChecks(c)
	}
}

// docRules returns the numbers of doc.go's numbered rules.
func docRules(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range regexp.MustCompile(`(?m)^//\s+(\d+)\.\s`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	if len(out) == 0 {
		t.Fatal("found no numbered rules in doc.go")
	}
	return out
}

func TestVectorCoverage(t *testing.T) {
	required := map[string]bool{}
	for k := range coverage {
		required[k] = true
	}
	for _, n := range docRules(t) {
		label := fmt.Sprintf("rule_%d", n)
		if _, ok := coverage[label]; !ok {
			t.Errorf("doc.go has rule %d, and vectors_test.go has no %q coverage label: add one, and vectors for it", n, label)
		}
		required[label] = true
	}
	claimed := map[string]int{}
	for _, c := range loadVectors(t) {
		if c.DocDisagreement != "" {
			continue // it asserts nothing while the code disagrees
		}
		for _, cov := range c.Covers {
			claimed[cov]++
		}
	}
	for _, label := range slices.Sorted(maps.Keys(required)) {
		if claimed[label] == 0 {
			t.Errorf("no vector covers %q", label)
		}
	}
}

// TestFindingsOnlyStricter checks rule 5 over every vector with findings:
// the same input without its findings never gets a stricter outcome, a
// better provenance verdict, or an action the findings' version lacks.
func TestFindingsOnlyStricter(t *testing.T) {
	outcomeRank := map[string]int{"allow": 0, "step_up": 1, "deny": 2}
	provRank := map[string]int{"verified": 0, "insufficient": 1, "violated": 2}
	n := 0
	for _, c := range loadVectors(t) {
		if len(c.Input.Findings) == 0 || c.DocDisagreement != "" {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			with, _ := decide(t, c.input(t))
			in := c.input(t)
			in.Findings = nil
			without, _ := decide(t, in)
			if outcomeRank[with.Decision] < outcomeRank[without.Decision] {
				t.Errorf("findings loosened the decision: %s without them, %s with them", without.Decision, with.Decision)
			}
			if provRank[with.Provenance] < provRank[without.Provenance] {
				t.Errorf("findings improved the provenance: %s without them, %s with them", without.Provenance, with.Provenance)
			}
			for _, a := range without.Actions {
				if !slices.Contains(with.Actions, a) {
					t.Errorf("findings dropped the action %q", a)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no vector has findings")
	}
}
