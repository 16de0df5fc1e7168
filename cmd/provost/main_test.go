package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/internal/hop"
)

// fpRE matches fingerprints, which depend on the data directory's secret.
var fpRE = regexp.MustCompile(`fp1:[A-Za-z0-9_-]{43}`)

// revRE matches revocation IDs, which are random.
var revRE = regexp.MustCompile(`rev_[0-9a-f]{32}`)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func exampleFiles(t *testing.T) []string {
	files, err := filepath.Glob("../../examples/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return files
}

// TestExamples runs the README's first command and compares its output with
// examples/check.golden.
func TestExamples(t *testing.T) {
	args := append([]string{"check", "--config", "../../examples/provost.yaml", "--data-dir", t.TempDir()}, exampleFiles(t)...)
	code, out, stderr := runCLI(t, "", args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := fpRE.ReplaceAllString(strings.ReplaceAll(out, "../../", ""), "fp1:<fingerprint>")
	got = revRE.ReplaceAllString(got, "rev_<id>")
	golden.Check(t, "../../examples/check.golden", []byte(got), "")
}

// TestExamplesJSON checks the --json output of every example, as a machine
// would read it: decision / credential verdict / provenance verdict, and one
// reason code that must be among the decision's reasons.
func TestExamplesJSON(t *testing.T) {
	want := map[string][4]string{
		"01-bearer-es256.json":                {"allow", "accepted", "verified", "provenance_verified"},
		"02-agent-eddsa-act-chain.json":       {"allow", "accepted", "verified", "provenance_verified"},
		"03-dpop-bound.json":                  {"allow", "accepted", "verified", "provenance_verified"},
		"04-dpop-replayed.json":               {"deny", "rejected", "violated", "dpop_replayed"},
		"05-dpop-bound-as-bearer.json":        {"deny", "rejected", "violated", "dpop_bound_token_as_bearer"},
		"06-dpop-proof-from-other-key.json":   {"deny", "rejected", "violated", "dpop_key_mismatch"},
		"07-mtls-bound.json":                  {"allow", "accepted", "verified", "provenance_verified"},
		"08-mtls-bound-other-cert.json":       {"deny", "rejected", "violated", "mtls_thumbprint_mismatch"},
		"09-expired.json":                     {"deny", "rejected", "insufficient", "expired"},
		"10-alg-none.json":                    {"deny", "rejected", "insufficient", "jws_alg_none"},
		"11-unknown-issuer.json":              {"deny", "rejected", "insufficient", "issuer_unknown"},
		"12-key-in-header.json":               {"deny", "rejected", "insufficient", "jws_header_key_material"},
		"13-wrong-audience.json":              {"deny", "rejected", "insufficient", "audience_mismatch"},
		"14-unknown-api-key.json":             {"deny", "rejected", "insufficient", "opaque_credential_unknown"},
		"20-ci-approved-build-host.json":      {"allow", "accepted", "verified", "provenance_verified"},
		"21-ci-unapproved-build-host.json":    {"deny", "accepted", "violated", "network_not_approved"},
		"22-ci-after-revocation.json":         {"deny", "rejected", "insufficient", "revoked"},
		"23-agent-from-runtime.json":          {"allow", "accepted", "verified", "provenance_verified"},
		"24-agent-token-copied.json":          {"deny", "accepted", "violated", "copied_credential"},
		"25-helpdesk-through-proxies.json":    {"allow", "accepted", "verified", "provenance_verified"},
		"26-helpdesk-bypassing-proxies.json":  {"deny", "accepted", "violated", "proxy_chain_absent"},
		"27-export-possession-only.json":      {"step_up", "accepted", "insufficient", "evidence_insufficient"},
		"28-export-with-origin-evidence.json": {"allow", "accepted", "verified", "provenance_verified"},
		"29-shadow-automation.json":           {"deny", "accepted", "insufficient", "shadow_automation"},
		"30-honeytoken.json":                  {"deny", "accepted", "verified", "honeytoken_used"},
		"31-ci-posture-of-another-token.json": {"deny", "accepted", "violated", "posture_credential_mismatch"},
	}
	files := exampleFiles(t)
	if len(files) != len(want) {
		t.Fatalf("%d example files, %d expectations", len(files), len(want))
	}
	args := append([]string{"check", "--json", "--config", "../../examples/provost.yaml", "--data-dir", t.TempDir()}, files...)
	code, out, stderr := runCLI(t, "", args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	for _, line := range lines {
		var d struct {
			File       string
			Decision   string
			Provenance string
			Credential struct{ Verdict, Fingerprint string }
			Reasons    []struct{ Code string }
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(d.File)
		w, ok := want[name]
		if !ok {
			t.Errorf("no expectation for %s", name)
			continue
		}
		got := [3]string{d.Decision, d.Credential.Verdict, d.Provenance}
		if got != [3]string{w[0], w[1], w[2]} {
			t.Errorf("%s: got %v, want %v", name, got, w[:3])
		}
		found := false
		for _, r := range d.Reasons {
			found = found || r.Code == w[3]
		}
		if !found {
			t.Errorf("%s: reason %s missing from %+v", name, w[3], d.Reasons)
		}
		if name != "14-unknown-api-key.json" && !fpRE.MatchString(d.Credential.Fingerprint) {
			t.Errorf("%s: fingerprint %q", name, d.Credential.Fingerprint)
		}
	}
	if strings.Contains(out, "eyJ") {
		t.Error("the JSON output contains something that looks like a raw token")
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, body, want string
	}{
		{"unknown field", `{"method":"GET","target":"/","authorisation":"x"}`, "authorisation: unknown field"},
		{"no method", `{"target":"/"}`, "method: is required"},
		{"bad target", `{"method":"GET","target":"https://x/"}`, "target: the target is not in origin form"},
		{"dot-segment target", `{"method":"GET","target":"/v1/reports/../admin"}`, "target: the path holds a dot-segment"},
		{"lower-case method", `{"method":"delete","target":"/"}`, "method: the method has lower-case letters"},
		{"wrong type", `{"method":"GET","target":"/","dpop":7}`, "dpop: must be a string"},
		{"bad cert", `{"method":"GET","target":"/","client_cert":"nope"}`, "client_cert: must be PEM CERTIFICATE blocks only"},
		{"not JSON", `GET / HTTP/1.1`, "not a JSON object"},
		{"trailing", `{"method":"GET","target":"/"} {}`, "trailing data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(c.name+".json", c.body)
			code, _, stderr := runCLI(t, "", "check", "--config", "../../examples/provost.yaml", "--data-dir", dir, p)
			if code != exitUsage || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, p) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming the file and %q", code, stderr, c.want)
			}
		})
	}
	if code, _, stderr := runCLI(t, "", "check", "--config", filepath.Join(dir, "none.yaml"), "x.json"); code != exitUsage || !strings.Contains(stderr, "none.yaml") {
		t.Errorf("missing config: exit %d %q", code, stderr)
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "sk_live_abc\n", "fingerprint", "--config", "../../examples/provost.yaml", "--data-dir", dir)
	if code != exitOK || !fpRE.MatchString(out) {
		t.Fatalf("exit %d out %q err %q", code, out, stderr)
	}
	if strings.Contains(out+stderr, "sk_live_abc") {
		t.Error("the raw credential was printed")
	}
	_, again, _ := runCLI(t, "sk_live_abc", "fingerprint", "--config", "../../examples/provost.yaml", "--data-dir", dir)
	if again != out {
		t.Errorf("same secret, same key: %q vs %q", again, out)
	}
	_, other, _ := runCLI(t, "sk_live_abc", "fingerprint", "--config", "../../examples/provost.yaml", "--data-dir", t.TempDir())
	if other == out {
		t.Error("another data directory (another secret) gave the same fingerprint")
	}
	if code, _, _ := runCLI(t, "", "fingerprint", "--config", "../../examples/provost.yaml", "--data-dir", dir); code != exitUsage {
		t.Errorf("empty stdin: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	if code, _, stderr := runCLI(t, ""); code != exitUsage || !strings.Contains(stderr, "Commands:") {
		t.Errorf("no args: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "frobnicate"); code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, stderr)
	}
	if code, out, _ := runCLI(t, "", "version"); code != exitOK || !strings.HasPrefix(out, "provost ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "", "check"); code != exitUsage {
		t.Errorf("check without files: %d", code)
	}
}

// The example policy tests and lint run green: the README says so.
func TestExamplePolicies(t *testing.T) {
	code, out, stderr := runCLI(t, "", "bindings", "test", "../../examples/bindings.test.yaml")
	if code != exitOK || !strings.Contains(out, "12 passed, 0 failed") {
		t.Fatalf("bindings test: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "", "bindings", "lint", "--config", "../../examples/provost.yaml")
	if code != exitOK || strings.Contains(out+stderr, ": warning:") || !strings.Contains(out, "0 warnings") {
		t.Fatalf("bindings lint: exit %d\n%s%s", code, out, stderr)
	}
}

// The README's first command: it must run and decide every scenario as
// expected, over real loopback HTTP.
func TestDemo(t *testing.T) {
	code, out, stderr := runCLI(t, "", "demo")
	if code != exitOK || !strings.Contains(out, "all 9 scenarios decided as expected") {
		t.Fatalf("provost demo: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"copied_credential", "proxy_chain_absent", "source_drift", "evidence_insufficient", "revoked", "dormant_revival", "dpop_replayed", "dpop_key_mismatch", "shadow_automation", "deny + revoke"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(out, "eyJ") {
		t.Error("the demo printed something that looks like a raw token")
	}
}

// `provost hop sign` lets a script act as an approved proxy: the header it
// prints verifies as that hop for exactly that request.
func TestHopSign(t *testing.T) {
	code, out, stderr := runCLI(t, "the-credential\n", "hop", "sign", "--name", "edge", "--key", "../../examples/keys/hop-edge.pem",
		"--method", "GET", "--target", "/v1/tickets", "--credential-stdin")
	if code != exitOK || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("exit %d, out %q, err %q", code, out, stderr)
	}
	if strings.Contains(out+stderr, "the-credential") {
		t.Error("the raw credential was printed")
	}
	pemData, err := os.ReadFile("../../examples/trust/hop-edge.pub")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemData)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	v := &hop.Verifier{Keys: hop.Keys{"edge": {Name: "edge", Public: pub}}}
	req := hop.Request{Method: "GET", Target: "/v1/tickets", CredentialDigest: hop.CredentialDigest("the-credential")}
	got, err := v.Verify([]string{strings.TrimSpace(out)}, req)
	if err != nil || len(got.Hops) != 1 || got.Hops[0] != "edge" {
		t.Fatalf("verify: %v %+v", err, got)
	}
	req.Target = "/v1/other"
	if _, err := v.Verify([]string{strings.TrimSpace(out)}, req); err == nil {
		t.Error("the attestation verified for another request")
	}
	if code, _, _ := runCLI(t, "", "hop", "frob"); code != exitUsage {
		t.Errorf("hop frob: exit %d", code)
	}
}
