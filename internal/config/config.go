package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/smallfile"
	"go.yaml.in/yaml/v3"
)

// Version is the only configuration version this Provost reads.
const Version = 1

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 1 << 20

// Config is the whole configuration file.
type Config struct {
	Version int `yaml:"version"`
	// DataDir holds the server secret and the embedded SQLite stores
	// (default ./provost-data, relative to the working directory).
	DataDir string `yaml:"data_dir"`
	// ExternalOrigins are the scheme://host[:port] the protected API is
	// reached at; DPoP `htu` is compared against them, never against Host.
	ExternalOrigins []string `yaml:"external_origins"`
	Issuers         []Issuer `yaml:"issuers"`
	APIKeys         []APIKey `yaml:"api_keys"`
	Tokens          Tokens   `yaml:"tokens"`
	DPoP            DPoP     `yaml:"dpop"`
	Replay          Replay   `yaml:"replay"`
	// Bindings is the bindings file: the approved context of credentials.
	Bindings string `yaml:"bindings"`
	// BindingsMaxBytes bounds the bindings file (0: 1 MiB; at most 1 GiB).
	BindingsMaxBytes int64 `yaml:"bindings_max_bytes"`
	Trust            Trust `yaml:"trust"`

	// Evidence says how decisions reach the evidence log.
	Evidence Evidence `yaml:"evidence"`
	// Storage says where shared state lives (default: embedded).
	Storage Storage `yaml:"storage"`
	// SSF shares revocations over the Shared Signals Framework (ssf.go).
	SSF SSF `yaml:"ssf"`

	// Transports (see serve.go, grpc.go, proxy.go, admin.go).
	Serve Serve `yaml:"serve"`
	GRPC  GRPC  `yaml:"grpc"`
	Proxy Proxy `yaml:"proxy"`
	Admin Admin `yaml:"admin"`
	// UI is the dashboard, served on the serve or admin listener (ui.go).
	UI UI `yaml:"ui"`

	// File is the path the configuration was read from ("" when parsed
	// from memory); relative paths in it are resolved against its folder.
	File string `yaml:"-"`
}

// Issuer configures one token issuer. Exactly one of JWKSFile, JWKSURL and
// Discovery gives its keys.
type Issuer struct {
	Issuer     string   `yaml:"issuer"`
	Audiences  []string `yaml:"audiences"`
	Algorithms []string `yaml:"algorithms"`
	JWKSFile   string   `yaml:"jwks_file"`
	JWKSURL    string   `yaml:"jwks_url"`
	Discovery  bool     `yaml:"discovery"`
	TokenTypes []string `yaml:"token_types"`
	Refresh    Refresh  `yaml:"refresh"`
}

// Refresh tunes a remote key source.
type Refresh struct {
	MinInterval Duration `yaml:"min_interval"`
	TTL         Duration `yaml:"ttl"`
	MaxStale    Duration `yaml:"max_stale"`
}

// APIKey names an opaque token or API key by its fingerprint.
type APIKey struct {
	Name        string `yaml:"name"`
	Fingerprint string `yaml:"fingerprint"`
	Subject     string `yaml:"subject"`
}

// Tokens bounds and tunes token verification.
type Tokens struct {
	MaxBytes    int      `yaml:"max_bytes"`
	Leeway      Duration `yaml:"leeway"`
	MaxActDepth int      `yaml:"max_act_depth"`
}

// DPoP tunes proof-of-possession checks (RFC 9449).
type DPoP struct {
	Algorithms []string `yaml:"algorithms"`
	MaxAge     Duration `yaml:"max_age"`
	Leeway     Duration `yaml:"leeway"`
	Nonces     bool     `yaml:"nonces"`
}

// Replay bounds the in-memory replay cache.
type Replay struct {
	MaxEntries int `yaml:"max_entries"`
}

// Evidence configures the evidence log.
type Evidence struct {
	// Mode is durable (default: a decision is answered only after its
	// record is on disk, group-committed) or async (answered first; a
	// crash can lose answered decisions).
	Mode string `yaml:"mode"`
	// RedactQueryParams are query parameters whose values are replaced by
	// REDACTED before the target is recorded, logged or shown to rules, in
	// addition to access_token, token, api_key, apikey and key.
	RedactQueryParams []string `yaml:"redact_query_params"`
}

// Trust names what Provost believes: which peers are proxies, which CAs
// issue workload identities, which keys sign hop and posture attestations.
type Trust struct {
	// Proxies are the addresses of trusted proxies (CIDRs or IPs): only
	// from these are X-Forwarded-For, Forwarded, XFCC and Client-Cert read.
	Proxies []string `yaml:"proxies"`
	// ForwardedHeader is the header the trusted proxies maintain:
	// x-forwarded-for (default), forwarded, or auto (Forwarded if present).
	ForwardedHeader string   `yaml:"forwarded_header"`
	SPIFFE          []SPIFFE `yaml:"spiffe"`
	// WorkloadAPI gives the bundles of more trust domains, followed
	// live from a SPIRE agent (workloadapi.go).
	WorkloadAPI WorkloadAPI `yaml:"workload_api"`
	// JWTSVIDAudience is the audience a JWT-SVID must name (default "provost").
	JWTSVIDAudience string     `yaml:"jwt_svid_audience"`
	Hops            []HopKey   `yaml:"hops"`
	HopMaxAge       Duration   `yaml:"hop_max_age"`
	Attestors       []Attestor `yaml:"attestors"`
}

// SPIFFE is one trust domain's bundles.
type SPIFFE struct {
	TrustDomain string `yaml:"trust_domain"`
	X509Bundle  string `yaml:"x509_bundle"` // PEM CA certificates
	JWTBundle   string `yaml:"jwt_bundle"`  // JWKS or SPIFFE bundle
}

// HopKey is an approved proxy's hop-attestation public key.
type HopKey struct {
	Name      string `yaml:"name"`
	PublicKey string `yaml:"public_key"` // PEM file
}

// Attestor is a trusted posture attestor.
type Attestor struct {
	Name       string   `yaml:"name"`
	Issuer     string   `yaml:"issuer"`
	JWKSFile   string   `yaml:"jwks_file"`
	Algorithms []string `yaml:"algorithms"`
	MaxAge     Duration `yaml:"max_age"`
}

// Duration is a time.Duration written as "90s", "5m", "24h".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 90s, 5m or 24h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := smallfile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and checks a configuration document; name is used in errors
// and to resolve relative paths.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; it needs at least `version: %d`", name, Version)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	c.File = name
	if err := c.check(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s:%d: %s: %s", name, LineOf(&root, fe.path), fe.path, fe.msg)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// Resolve turns a path from the file into one usable from the working
// directory: relative paths are relative to the configuration file.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// DataDirPath returns the data directory, resolved.
func (c *Config) DataDirPath() string {
	if c.DataDir == "" {
		return "provost-data"
	}
	return c.Resolve(c.DataDir)
}

func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, " in type config.", " in ")
	return errors.New(msg)
}
