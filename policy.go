package provost

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Policy is what an Engine enforces, compiled once: the configuration
// (issuers and their keys, API keys, DPoP, trust anchors, evidence
// settings) and the bindings. A Policy is immutable; Engine.SetPolicy
// swaps a new one in whole.
type Policy struct {
	cfg      *config.Config
	bindings *binding.Set
	issuers  []credential.Issuer
	// remotes are the issuers' remote key sources, for their counters.
	remotes map[string]*issuer.Remote
	trust   *signal.Anchors
}

// maxPolicyFile bounds every file a policy reads (bindings, JWKS, PEM).
const maxPolicyFile = 1 << 20

// fileLimit bounds the file p: the bindings file by bindings_max_bytes.
func fileLimit(cfg *config.Config, p string) int64 {
	if p == cfg.Bindings && cfg.BindingsMaxBytes > 0 {
		return cfg.BindingsMaxBytes
	}
	return maxPolicyFile
}

// LoadPolicy reads and compiles the configuration file at file (see the
// README) and every file it names, relative to its folder. Errors name the
// file, the line and the field.
func LoadPolicy(ctx context.Context, file string) (*Policy, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	return compile(ctx, cfg, func(p string) ([]byte, error) {
		return smallfile.Read(cfg.Resolve(p), fileLimit(cfg, p))
	})
}

// ParsePolicy compiles a configuration held in memory; the files it names
// (bindings, JWKS, SPIFFE bundles, hop and attestor keys) are read from
// files, by their slash-separated paths. It is how a Go program or a test
// builds a Policy without touching the disk.
func ParsePolicy(ctx context.Context, configYAML []byte, files fs.FS) (*Policy, error) {
	cfg, err := config.Parse("(policy)", configYAML)
	if err != nil {
		return nil, err
	}
	return compile(ctx, cfg, func(p string) ([]byte, error) {
		if files == nil {
			return nil, fmt.Errorf("%s: no files were given to read it from", p)
		}
		return smallfile.ReadFS(files, path.Clean(p), fileLimit(cfg, p))
	})
}

// compile builds every part of a policy that does not depend on the
// engine's stores or clock. It has no side effects, so a failed reload
// leaves nothing behind.
func compile(ctx context.Context, cfg *config.Config, read func(string) ([]byte, error)) (*Policy, error) {
	p := &Policy{cfg: cfg}
	for i, ic := range cfg.Issuers {
		src, err := keySource(ctx, ic, read)
		if err != nil {
			return nil, fmt.Errorf("provost: %s: issuers[%d] (%s): %w", cfg.File, i, ic.Issuer, err)
		}
		if r, ok := src.(*issuer.Remote); ok {
			if p.remotes == nil {
				p.remotes = map[string]*issuer.Remote{}
			}
			p.remotes[ic.Issuer] = r
		}
		p.issuers = append(p.issuers, credential.Issuer{
			Issuer: ic.Issuer, Audiences: ic.Audiences, Algorithms: ic.Algorithms,
			Keys: src, TokenTypes: ic.TokenTypes,
		})
	}
	var err error
	if p.trust, err = signal.CompileAnchors(cfg, read); err != nil {
		return nil, fmt.Errorf("provost: %s: %w", cfg.File, err)
	}
	if cfg.Bindings != "" {
		data, err := read(cfg.Bindings)
		if err != nil {
			return nil, fmt.Errorf("provost: bindings: %w", err)
		}
		if p.bindings, err = binding.ParseLimit(ctx, cfg.Resolve(cfg.Bindings), data, cfg.BindingsMaxBytes); err != nil {
			return nil, fmt.Errorf("provost: %w", err)
		}
	} else {
		// No bindings file: every accepted credential is shadow automation,
		// denied in enforce mode (fail closed).
		p.bindings, _ = binding.Parse("(no bindings file)", []byte("version: 1\n"))
	}
	return p, nil
}

func keySource(ctx context.Context, ic config.Issuer, read func(string) ([]byte, error)) (issuer.Source, error) {
	rc := issuer.RemoteConfig{
		URL:                ic.JWKSURL,
		MinRefreshInterval: ic.Refresh.MinInterval.D(),
		TTL:                ic.Refresh.TTL.D(),
		MaxStale:           ic.Refresh.MaxStale.D(),
	}
	switch {
	case ic.JWKSFile != "":
		data, err := read(ic.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("JWKS file: %w", err)
		}
		return issuer.ParseStatic(ic.JWKSFile, data)
	case ic.JWKSURL != "":
		return issuer.NewRemote(rc)
	default:
		return issuer.NewDiscovery(ctx, ic.Issuer, rc)
	}
}

// Digest names the bindings' version ("sha256:...").
func (p *Policy) Digest() string { return p.bindings.Digest }

// TrustsProxy reports whether a is the address of a trusted proxy
// (trust.proxies): only from those are forwarded headers believed. A nil
// Policy trusts no one.
func (p *Policy) TrustsProxy(a netip.Addr) bool { return p != nil && p.trust.TrustsProxy(a) }

// Summary describes a policy, for operators.
type Summary struct {
	ConfigFile     string   `json:"config_file"`
	BindingsFile   string   `json:"bindings_file"`
	BindingsDigest string   `json:"bindings_digest"`
	Mode           string   `json:"mode"`
	Bindings       int      `json:"bindings"`
	Issuers        []string `json:"issuers"`
	APIKeys        int      `json:"api_keys"`
	// RemoteKeys are the counters of every issuer whose keys come from a
	// JWKS URL or OIDC discovery, sorted by issuer.
	RemoteKeys []RemoteKeys `json:"-"`
}

// RemoteKeys is one issuer's remote key source counters.
type RemoteKeys struct {
	Issuer             string
	Fetches            uint64
	Failures           uint64
	LastSuccess        time.Time
	KeysDropped        uint64
	PrivateKeysDropped uint64
}

// Summary returns what the policy holds.
func (p *Policy) Summary() Summary {
	s := Summary{
		ConfigFile:     p.cfg.File,
		BindingsFile:   p.bindings.File,
		BindingsDigest: p.bindings.Digest,
		Mode:           string(p.bindings.Mode),
		Bindings:       len(p.bindings.Bindings),
		Issuers:        make([]string, 0, len(p.cfg.Issuers)),
		APIKeys:        len(p.cfg.APIKeys),
	}
	for _, is := range p.cfg.Issuers {
		s.Issuers = append(s.Issuers, is.Issuer)
	}
	for iss, r := range p.remotes {
		st := r.Stats()
		s.RemoteKeys = append(s.RemoteKeys, RemoteKeys{Issuer: iss, Fetches: st.Fetches, Failures: st.Failures,
			LastSuccess: st.LastSuccess, KeysDropped: st.KeysDropped, PrivateKeysDropped: st.PrivateKeysDropped})
	}
	sort.Slice(s.RemoteKeys, func(i, j int) bool { return s.RemoteKeys[i].Issuer < s.RemoteKeys[j].Issuer })
	return s
}
