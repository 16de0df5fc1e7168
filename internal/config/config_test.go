package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `version: 1
data_dir: data
external_origins: [https://api.example.com]
issuers:
  - issuer: https://issuer.example.com
    audiences: [https://api.example.com]
    algorithms: [ES256, EdDSA]
    jwks_file: keys/jwks.json
    refresh:
      min_interval: 30s
api_keys:
  - name: billing
    fingerprint: fp1:AAAA
tokens:
  leeway: 45s
`

func TestParseGood(t *testing.T) {
	c, err := Parse("etc/provost.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuers[0].Refresh.MinInterval.D() != 30*time.Second || c.Tokens.Leeway.D() != 45*time.Second {
		t.Errorf("durations: %+v %+v", c.Issuers[0].Refresh, c.Tokens)
	}
	if got := c.Resolve(c.Issuers[0].JWKSFile); got != filepath.Join("etc", "keys", "jwks.json") {
		t.Errorf("Resolve = %q", got)
	}
	if got := c.DataDirPath(); got != filepath.Join("etc", "data") {
		t.Errorf("DataDirPath = %q", got)
	}
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"empty", "", "the file is empty"},
		{"no version", "data_dir: x\n", "p.yaml:1: version: must be 1 (got 0)"},
		{"future version", "version: 2\n", "version: must be 1 (got 2)"},
		{"redacted parameter not a name", "version: 1\nevidence:\n  redact_query_params: [sig, \"a=b\"]\n", "p.yaml:3: evidence.redact_query_params[1]: must be a query parameter name"},
		{"unknown top-level field", "version: 1\nissuer: x\n", "line 2: field issuer not found"},
		{"unknown nested field", strings.Replace(good, "    jwks_file:", "    jwks_fil:", 1), "line 8: field jwks_fil not found"},
		{"not YAML", "version: [1\n", "p.yaml: "},
		{"wrong type", "version: one\n", "line 1: cannot unmarshal"},
		{"bad duration", strings.Replace(good, "45s", "soon", 1), `line 15: "soon" is not a duration`},
		{"symmetric algorithm", strings.Replace(good, "[ES256, EdDSA]", "[ES256, HS256]", 1), `p.yaml:7: issuers[0].algorithms[1]: "HS256" is not allowed`},
		{"no algorithms", strings.Replace(good, "    algorithms: [ES256, EdDSA]\n", "", 1), "p.yaml:5: issuers[0].algorithms: needs at least one algorithm"},
		{"no audience", strings.Replace(good, "    audiences: [https://api.example.com]\n", "", 1), "issuers[0].audiences: needs at least one audience"},
		{"two key sources", strings.Replace(good, "jwks_file: keys/jwks.json", "jwks_file: k\n    jwks_url: https://x/jwks", 1), "p.yaml:5: issuers[0]: needs exactly one of jwks_file, jwks_url"},
		{"no key source", strings.Replace(good, "    jwks_file: keys/jwks.json\n", "", 1), "needs exactly one of"},
		{"jwks_url not http", strings.Replace(good, "jwks_file: keys/jwks.json", "jwks_url: file:///etc/jwks", 1), `issuers[0].jwks_url: "file:///etc/jwks" is not an http(s) URL`},
		{"origin with path", strings.Replace(good, "[https://api.example.com]\nissuers", "[https://api.example.com/v1]\nissuers", 1), "p.yaml:3: external_origins[0]: \"https://api.example.com/v1\" must be scheme://host[:port] only"},
		{"raw api key", strings.Replace(good, "fp1:AAAA", "sk_live_123", 1), "p.yaml:13: api_keys[0].fingerprint: must be a fingerprint"},
		{"dpop hs", "version: 1\ndpop:\n  algorithms: [HS256]\n", `p.yaml:3: dpop.algorithms[0]: "HS256" is not an asymmetric`},
		{"max_bytes too large", "version: 1\ntokens:\n  max_bytes: 99999999\n", "p.yaml:3: tokens.max_bytes: must be between"},
		{"bindings_max_bytes too large", "version: 1\nbindings_max_bytes: 1073741825\n", "p.yaml:2: bindings_max_bytes: must be between 1 and 1073741824"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestDuplicateIssuer(t *testing.T) {
	doc := good + `  - issuer: https://issuer.example.com
    audiences: [a]
    algorithms: [ES256]
    jwks_file: k
`
	doc = strings.Replace(doc, "api_keys:\n  - name: billing\n    fingerprint: fp1:AAAA\ntokens:\n  leeway: 45s\n", "", 1)
	_, err := Parse("p.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "issuers[1].issuer: issuer \"https://issuer.example.com\" is configured twice") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "provost.yaml")
	if err := os.WriteFile(p, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil || c.File != p {
		t.Fatalf("Load: %v %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("version: 1\nissuers: [{issuer: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err == nil && c.Version != Version {
			t.Fatalf("accepted version %d", c.Version)
		}
	})
}
