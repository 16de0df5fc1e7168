package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fieldError is a semantic error at a field path such as issuers[1].audiences.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func bad(path, format string, args ...any) error {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

// asymmetric lists the JWS algorithms an algorithms list may name. "EdDSA"
// and "Ed25519" (RFC 9864's fully-specified name) are the same algorithm, an
// Ed25519 signature: either admits tokens under both names.
var asymmetric = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"}

func (c *Config) check() error {
	if c.Version != Version {
		return bad("version", "must be %d (got %d)", Version, c.Version)
	}
	for i, o := range c.ExternalOrigins {
		if err := checkOrigin(o); err != nil {
			return bad(fmt.Sprintf("external_origins[%d]", i), "%v", err)
		}
	}
	seen := map[string]bool{}
	for i := range c.Issuers {
		if err := c.Issuers[i].check(fmt.Sprintf("issuers[%d]", i)); err != nil {
			return err
		}
		if seen[c.Issuers[i].Issuer] {
			return bad(fmt.Sprintf("issuers[%d].issuer", i), "issuer %q is configured twice", c.Issuers[i].Issuer)
		}
		seen[c.Issuers[i].Issuer] = true
	}
	names := map[string]bool{}
	for i, k := range c.APIKeys {
		p := fmt.Sprintf("api_keys[%d]", i)
		if k.Name == "" {
			return bad(p+".name", "is required")
		}
		if names[k.Name] {
			return bad(p+".name", "api key %q is configured twice", k.Name)
		}
		names[k.Name] = true
		if !strings.HasPrefix(k.Fingerprint, "fp1:") {
			return bad(p+".fingerprint", "must be a fingerprint from `provost fingerprint` (fp1:...), never the raw key")
		}
	}
	if c.BindingsMaxBytes < 0 || c.BindingsMaxBytes > 1<<30 { // binding.MaxFileBytesLimit
		return bad("bindings_max_bytes", "must be between 1 and 1073741824 (1 GiB); leave it out for 1 MiB")
	}
	if c.Tokens.MaxBytes < 0 || c.Tokens.MaxBytes > 1<<20 {
		return bad("tokens.max_bytes", "must be between 1 and 1048576")
	}
	if c.Tokens.MaxActDepth < 0 || c.Tokens.MaxActDepth > 32 {
		return bad("tokens.max_act_depth", "must be between 1 and 32")
	}
	for i, a := range c.DPoP.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return bad(fmt.Sprintf("dpop.algorithms[%d]", i), "%q is not an asymmetric JWS algorithm (%s)", a, strings.Join(asymmetric, ", "))
		}
	}
	for i, n := range c.Evidence.RedactQueryParams {
		if n == "" || strings.ContainsAny(n, "&=?# ") {
			return bad(fmt.Sprintf("evidence.redact_query_params[%d]", i), "must be a query parameter name (no &, =, ?, # or space)")
		}
	}
	if m := c.Evidence.Mode; m != "" && m != "durable" && m != "async" {
		return bad("evidence.mode", "must be durable or async (got %q)", m)
	}
	if c.Evidence.Mode == "async" && c.Storage.Postgres.EvidenceKeyFile != "" {
		return bad("evidence.mode", "async is refused with the evidence log in PostgreSQL (storage.postgres.evidence_key_file), which is always durable: a record queued in a replica's memory would die with the replica")
	}
	if c.Replay.MaxEntries < 0 {
		return bad("replay.max_entries", "must not be negative")
	}
	for _, check := range []func() error{c.Trust.check, c.Serve.check, c.GRPC.check, c.Proxy.check, c.Admin.check, c.Admin.checkReadonly, c.checkUI, c.Storage.check, c.SSF.check} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (t *Trust) check() error {
	switch t.ForwardedHeader {
	case "", "x-forwarded-for", "forwarded", "auto":
	default:
		return bad("trust.forwarded_header", "must be x-forwarded-for, forwarded or auto (got %q)", t.ForwardedHeader)
	}
	domains := map[string]bool{}
	for i, s := range t.SPIFFE {
		p := fmt.Sprintf("trust.spiffe[%d]", i)
		if s.TrustDomain == "" {
			return bad(p+".trust_domain", "is required")
		}
		if domains[s.TrustDomain] {
			return bad(p+".trust_domain", "trust domain %q is configured twice", s.TrustDomain)
		}
		domains[s.TrustDomain] = true
		if s.X509Bundle == "" && s.JWTBundle == "" {
			return bad(p, "needs x509_bundle, jwt_bundle or both")
		}
	}
	if err := t.WorkloadAPI.check(t.SPIFFE); err != nil {
		return err
	}
	hops := map[string]bool{}
	for i, h := range t.Hops {
		p := fmt.Sprintf("trust.hops[%d]", i)
		if h.Name == "" || h.PublicKey == "" {
			return bad(p, "needs name and public_key")
		}
		if hops[h.Name] {
			return bad(p+".name", "hop %q is configured twice", h.Name)
		}
		hops[h.Name] = true
	}
	names := map[string]bool{}
	for i, a := range t.Attestors {
		p := fmt.Sprintf("trust.attestors[%d]", i)
		if a.Name == "" || a.Issuer == "" || a.JWKSFile == "" {
			return bad(p, "needs name, issuer and jwks_file")
		}
		if names[a.Name] {
			return bad(p+".name", "attestor %q is configured twice", a.Name)
		}
		names[a.Name] = true
		for j, alg := range a.Algorithms {
			if !slices.Contains(asymmetric, alg) {
				return bad(fmt.Sprintf("%s.algorithms[%d]", p, j), "%q is not an asymmetric JWS algorithm", alg)
			}
		}
	}
	return nil
}

func (is *Issuer) check(p string) error {
	if is.Issuer == "" {
		return bad(p+".issuer", "is required")
	}
	if len(is.Audiences) == 0 {
		return bad(p+".audiences", "needs at least one audience")
	}
	if len(is.Algorithms) == 0 {
		return bad(p+".algorithms", "needs at least one algorithm, e.g. [ES256]")
	}
	for i, a := range is.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return bad(fmt.Sprintf("%s.algorithms[%d]", p, i), "%q is not allowed: Provost takes asymmetric JWS algorithms only (%s)", a, strings.Join(asymmetric, ", "))
		}
	}
	n := 0
	for _, set := range []bool{is.JWKSFile != "", is.JWKSURL != "", is.Discovery} {
		if set {
			n++
		}
	}
	if n != 1 {
		return bad(p, "needs exactly one of jwks_file, jwks_url and discovery: true")
	}
	if is.JWKSURL != "" {
		if u, err := url.Parse(is.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad(p+".jwks_url", "%q is not an http(s) URL", is.JWKSURL)
		}
	}
	if is.Discovery {
		if u, err := url.Parse(is.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad(p+".issuer", "discovery needs the issuer to be an http(s) URL, got %q", is.Issuer)
		}
	}
	return nil
}

func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an origin such as https://api.example.com", o)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must be scheme://host[:port] only, without path, query or user", o)
	}
	return nil
}

// LineOf finds the line of a field path such as "issuers[1].audiences" in
// a YAML document, falling back to the nearest parent that exists. Every
// strict YAML loader of Provost (configuration, bindings, policy tests)
// names file:line: field with it.
func LineOf(root *yaml.Node, path string) int {
	n, _ := walk(root, path)
	return n.Line
}

// Node returns the node at a field path, or nil when the path does not
// exist in the document.
func Node(root *yaml.Node, path string) *yaml.Node {
	if n, ok := walk(root, path); ok {
		return n
	}
	return nil
}

// walk follows path (dot-separated keys, each with an optional [index])
// from the document's top node as far as it exists. It returns the deepest
// node reached and whether that is the whole path. A key holding "." or
// "[" is not found.
func walk(root *yaml.Node, path string) (*yaml.Node, bool) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		c := child(n, name)
		if c == nil {
			return n, false
		}
		n = c
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx < 0 || idx >= len(n.Content) {
				return n, false
			}
			n = n.Content[idx]
		}
	}
	return n, true
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
