package binding

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/signal"
)

func TestLoadExample(t *testing.T) {
	path := filepath.Join("testdata", "example.yaml")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	sum := sha256.Sum256(data)
	if s.Digest != "sha256:"+hex.EncodeToString(sum[:]) || s.File != path || s.Version != 1 || s.Mode != ModeEnforce {
		t.Errorf("set = %+v", s)
	}
	if s.Detectors != (Detectors{ConcurrentWindow: 5 * time.Minute, Dormancy: 720 * time.Hour}) {
		t.Errorf("detectors = %+v", s.Detectors)
	}
	if len(s.Bindings) != 3 {
		t.Fatalf("%d bindings", len(s.Bindings))
	}
	b := s.Bindings[0]
	if b.Name != "ci-deploy" || b.Mode != ModeEnforce || b.OnViolation != ActionRevoke || b.Honeytoken {
		t.Errorf("binding 0 = %+v", b)
	}
	if len(b.RequireEvidence) != 2 || b.RequireEvidence[0] != signal.Workload || b.RequireEvidence[1] != signal.Posture {
		t.Errorf("require_evidence = %v", b.RequireEvidence)
	}
	if b.Require.CI == nil || b.Require.CI.RepositoryID != "123" || b.Match.Claims["environment"] != "prod*" {
		t.Errorf("views: %+v %+v", b.Require, b.Match)
	}
	if b.req.checks != 10 {
		t.Errorf("checks = %d, want 10", b.req.checks)
	}
	if s.Bindings[1].OnViolation != ActionStepUp || s.Bindings[1].Mode != ModeEnforce {
		t.Errorf("binding 1 = %+v", s.Bindings[1])
	}
	if s.Bindings[2].Mode != ModeMonitor || !s.Bindings[2].Honeytoken || s.Bindings[2].OnViolation != ActionAlert {
		t.Errorf("binding 2 = %+v", s.Bindings[2])
	}
	if nets := s.Networks(); len(nets) != 2 || nets["build-hosts"] == nil {
		t.Errorf("networks = %v", nets)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("p.yaml", []byte("version: 1\nmode: monitor\nbindings:\n  - name: a\n    match: {issuer: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Detectors != (Detectors{DefaultConcurrentWindow, DefaultDormancy}) {
		t.Errorf("detectors = %+v", s.Detectors)
	}
	if b := s.Bindings[0]; b.Mode != ModeMonitor || b.OnViolation != ActionDeny {
		t.Errorf("binding = %+v", b)
	}
	if s, err = Parse("p.yaml", []byte("version: 1\n")); err != nil || s.Mode != ModeEnforce || len(s.Bindings) != 0 {
		t.Errorf("minimal: %+v, %v", s, err)
	}
}

const base = `version: 1
networks:
  build: [10.0.0.0/8]
bindings:
  - name: a
    match:
      issuer: https://i
`

// withRequire adds a require section with one line under it to base.
func withRequire(lines ...string) string {
	return base + "    require:\n" + strings.Join(lines, "\n") + "\n"
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"empty", "", "p.yaml: the file is empty"},
		{"not yaml", "version: [1\n", "p.yaml:"},
		{"no version", "mode: enforce\n", "p.yaml:1: version: must be 1 (got 0)"},
		{"wrong version", "version: 2\n", "p.yaml:1: version: must be 1 (got 2)"},
		{"version type", "version: one\n", "p.yaml:1: version: cannot unmarshal"},
		{"duplicate key", "version: 1\nversion: 1\n", `p.yaml:2: version: mapping key "version" already defined at line 1`},
		{"two documents", "version: 1\n---\nversion: 1\n", "p.yaml: the file holds more than one YAML document"},
		{"unknown top field", base + "colour: red\n", `p.yaml:8: colour: unknown field "colour"`},
		{"unknown binding field", base + "    colour: red\n", `p.yaml:8: bindings[0].colour: unknown field "colour"`},
		{"unknown require field", withRequire("      colour: red"), `p.yaml:9: bindings[0].require.colour: unknown field "colour"`},
		{"unknown ci field", withRequire("      ci: {repo: x}"), `p.yaml:9: bindings[0].require.ci.repo: unknown field "repo"`},
		{"bad global mode", "version: 1\nmode: audit\n", `p.yaml:2: mode: "audit" is not a mode`},
		{"bad binding mode", base + "    mode: audit\n", `p.yaml:8: bindings[0].mode: "audit" is not a mode`},
		{"bad on_violation", base + "    on_violation: explode\n", `p.yaml:8: bindings[0].on_violation: "explode" is not an action`},
		{"duplicate name", base + "  - name: a\n    match: {issuer: x}\n", `p.yaml:8: bindings[1].name: binding "a" is defined twice`},
		{"bad name", strings.Replace(base, "name: a", "name: A b", 1), `p.yaml:5: bindings[0].name: "A b" is not a valid name`},
		{"missing name", "version: 1\nbindings:\n  - match: {issuer: x}\n", "p.yaml:3: bindings[0].name: is required"},
		{"empty match", "version: 1\nbindings:\n  - name: a\n    match: {}\n", "p.yaml:4: bindings[0].match: needs at least one of"},
		{"no match", "version: 1\nbindings:\n  - name: a\n", "p.yaml:3: bindings[0].match: needs at least one of"},
		{"empty fingerprints", "version: 1\nbindings:\n  - name: a\n    match: {fingerprints: []}\n", "p.yaml:4: bindings[0].match.fingerprints: needs at least one"},
		{"bad fingerprint", "version: 1\nbindings:\n  - name: a\n    match:\n      fingerprints: [sk_live_abc]\n", "p.yaml:5: bindings[0].match.fingerprints[0]: is not a fingerprint"},
		{"bad subject glob", strings.Replace(base, "issuer: https://i", `subject: "repo:**"`, 1), `p.yaml:7: bindings[0].match.subject: "repo:**" holds "**"`},
		{"empty claim glob", strings.Replace(base, "issuer: https://i", `claims: {env: ""}`, 1), `p.yaml:7: bindings[0].match.claims.env: "" is empty`},
		{"bad network name", "version: 1\nnetworks:\n  Build Hosts: [10.0.0.0/8]\n", `p.yaml:3: networks.Build Hosts: "Build Hosts" is not a valid name`},
		{"empty network", "version: 1\nnetworks:\n  build: []\n", "p.yaml:3: networks.build: needs at least one"},
		{"bad cidr in networks", "version: 1\nnetworks:\n  build:\n    - 10.0.0.0/8\n    - 300.1.1.1\n", `p.yaml:5: networks.build[1]: "300.1.1.1" is not a CIDR prefix or address`},
		{"host bits in networks", "version: 1\nnetworks:\n  build: [10.0.0.1/8]\n", `networks.build[0]: "10.0.0.1/8" is not a CIDR prefix or address: host bits set`},
		{"unknown network", withRequire("      networks: [nowhere]"), `p.yaml:9: bindings[0].require.networks[0]: unknown network "nowhere"`},
		{"bad inline cidr", withRequire("      networks: [build, 10.0.0.1/8]"), `p.yaml:9: bindings[0].require.networks[1]: "10.0.0.1/8" is not a CIDR prefix or address: host bits set`},
		{"bad spiffe pattern", withRequire("      workloads: [http://acme/ci]"), `p.yaml:9: bindings[0].require.workloads[0]: "http://acme/ci" is not a SPIFFE ID pattern`},
		{"trust domain only", withRequire("      workloads: [spiffe://acme]"), `bindings[0].require.workloads[0]: "spiffe://acme" is not a SPIFFE ID pattern`},
		{"empty proxy chain", withRequire("      proxy_chain: []"), "p.yaml:9: bindings[0].require.proxy_chain: needs at least one hop"},
		{"bad posture glob", withRequire("      posture: {os: \"lin**\"}"), `p.yaml:9: bindings[0].require.posture.os: "lin**" holds "**"`},
		{"bad ci glob", withRequire("      ci: {repository: \"\"}"), `p.yaml:9: bindings[0].require.ci: needs at least one field`},
		{"bad ci field glob", withRequire("      ci: {workflow_ref: \"a/**\"}"), `p.yaml:9: bindings[0].require.ci.workflow_ref: "a/**" holds "**"`},
		{"bad possession", withRequire("      possession: bearer"), `p.yaml:9: bindings[0].require.possession: "bearer" is not a proof of possession`},
		{"empty time", withRequire("      time: {}"), "p.yaml:9: bindings[0].require.time: needs windows, max_token_age or max_idle"},
		{"bad day", withRequire("      time:", "        windows: [{days: [monday]}]"), `p.yaml:10: bindings[0].require.time.windows[0].days[0]: "monday" is not a day`},
		{"twice day", withRequire("      time:", "        windows: [{days: [mon, mon]}]"), `bindings[0].require.time.windows[0].days[1]: "mon" is listed twice`},
		{"empty window", withRequire("      time:", "        windows: [{tz: UTC}]"), "p.yaml:10: bindings[0].require.time.windows[0]: a window needs days, hours or both"},
		{"bad hours", withRequire("      time:", "        windows: [{hours: 8-20}]"), `p.yaml:10: bindings[0].require.time.windows[0].hours: "8-20": "8" is not HH:MM`},
		{"hours 25", withRequire("      time:", "        windows: [{hours: \"08:00-25:00\"}]"), `"25:00" is not a time of day`},
		{"hours equal", withRequire("      time:", "        windows: [{hours: \"08:00-08:00\"}]"), "start and end are equal"},
		{"hours start 24", withRequire("      time:", "        windows: [{hours: \"24:00-08:00\"}]"), `"24:00" is not a time of day`},
		{"bad tz", withRequire("      time:", "        windows: [{hours: \"08:00-20:00\", tz: Mars/Olympus}]"), `p.yaml:10: bindings[0].require.time.windows[0].tz: "Mars/Olympus" is not an IANA time zone`},
		{"local tz", withRequire("      time:", "        windows: [{hours: \"08:00-20:00\", tz: Local}]"), "tz: name an IANA time zone"},
		{"negative token age", withRequire("      time: {max_token_age: -1h}"), `p.yaml:9: bindings[0].require.time.max_token_age: "-1h" must be more than zero`},
		{"bad idle", withRequire("      time: {max_idle: soon}"), `bindings[0].require.time.max_idle: "soon" is not a duration`},
		{"negative dormancy", "version: 1\ndetectors:\n  dormancy: -5m\n", `p.yaml:3: detectors.dormancy: "-5m" is negative`},
		{"bad window", "version: 1\ndetectors:\n  concurrent_window: 5 minutes\n", `p.yaml:3: detectors.concurrent_window: "5 minutes" is not a duration`},
		{"unknown evidence", base + "    require_evidence: [location]\n", `p.yaml:8: bindings[0].require_evidence[0]: "location" is not a signal`},
		{"twice evidence", base + "    require_evidence: [workload, workload]\n", `bindings[0].require_evidence[1]: "workload" is listed twice`},
		{"cel syntax", withRequire(`      rule: 'signals.request.method =='`), `p.yaml:9: bindings[0].require.rule: binding "a": CEL: <input>:1:26: Syntax error`},
		{"cel undeclared", withRequire(`      rule: 'request.method == "GET"'`), `bindings[0].require.rule: binding "a": CEL: <input>:1:1: undeclared reference to 'request'`},
		{"cel not bool", withRequire(`      rule: '1 + 1'`), `p.yaml:9: bindings[0].require.rule: binding "a": CEL: the rule gives int, it must give bool`},
		{"cel string", withRequire(`      rule: '"yes"'`), "it must give bool"},
		{"cel too costly", withRequire("      rule: '" + costlyRule() + "'"), `bindings[0].require.rule: binding "a": CEL: the rule costs at least`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "sk_live_abc") {
				t.Errorf("the error echoes a raw credential: %v", err)
			}
		})
	}
}

// costlyRule nests two maps over a 200-element literal list: at least
// 40000 steps, over the limit whatever the input.
func costlyRule() string {
	items := make([]string, 200)
	for i := range items {
		items[i] = "1"
	}
	l := "[" + strings.Join(items, ",") + "]"
	return l + ".map(x, " + l + ".map(y, x + y)).size() > 0"
}

func TestFileTooLarge(t *testing.T) {
	data := []byte("version: 1\n# " + strings.Repeat("x", MaxFileBytes) + "\n")
	if _, err := Parse("p.yaml", data); err == nil || !strings.Contains(err.Error(), "p.yaml: the file is larger than 1048576 bytes") {
		t.Errorf("Parse: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "bindings:") {
		t.Errorf("Load missing: %v", err)
	}
}
