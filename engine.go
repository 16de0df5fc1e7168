package provost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
)

// Options say where an Engine finds its configuration and state.
type Options struct {
	// ConfigFile is the path of the YAML configuration (see the README).
	ConfigFile string
	// DataDir overrides the configuration's data_dir when not empty.
	DataDir string
	// Now is the clock; nil means time.Now. Tests and offline checks pin it.
	Now func() time.Time
	// Logger receives operational logs (never a raw credential); nil
	// discards them.
	Logger *slog.Logger
}

// Engine decides requests. It is safe for concurrent use. Close it to
// release its stores.
type Engine struct {
	cfg      *config.Config
	now      func() time.Time
	log      *slog.Logger
	fp       *fingerprint.Fingerprinter
	revoked  revocation.Store
	verifier *credential.Verifier
	dpop     *dpop.Verifier
}

// New loads the configuration, opens the data directory (creating the
// server secret on first start) and returns a ready Engine.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.ConfigFile == "" {
		return nil, errors.New("provost: Options.ConfigFile is required")
	}
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	if o.DataDir != "" {
		cfg.DataDir, _ = filepath.Abs(o.DataDir)
	}
	return newEngine(ctx, cfg, o)
}

func newEngine(ctx context.Context, cfg *config.Config, o Options) (*Engine, error) {
	e := &Engine{cfg: cfg, now: o.Now, log: o.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.DataDirPath()
	secret, err := fingerprint.LoadOrCreateSecret(dir)
	if err != nil {
		return nil, fmt.Errorf("provost: data directory: %w", err)
	}
	if e.fp, err = fingerprint.New(secret); err != nil {
		return nil, fmt.Errorf("provost: %w", err)
	}
	if e.revoked, err = revocation.OpenSQLite(ctx, filepath.Join(dir, "revocations.db"), e.now); err != nil {
		return nil, fmt.Errorf("provost: revocations: %w", err)
	}
	if err := e.build(ctx, secret); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// build makes the verifiers from the configuration.
func (e *Engine) build(ctx context.Context, secret []byte) error {
	cfg := e.cfg
	cache := replay.NewMemory(replay.MemoryConfig{MaxEntries: cfg.Replay.MaxEntries, Now: e.now})
	if len(cfg.ExternalOrigins) > 0 {
		dc := dpop.Config{
			Algorithms: cfg.DPoP.Algorithms,
			Origins:    cfg.ExternalOrigins,
			MaxAge:     cfg.DPoP.MaxAge.D(),
			Leeway:     cfg.DPoP.Leeway.D(),
		}
		if cfg.DPoP.Nonces {
			dc.NonceKey = deriveKey(secret, "dpop-nonce")
		}
		var err error
		if e.dpop, err = dpop.New(dc, cache, e.now); err != nil {
			return fmt.Errorf("provost: dpop: %w", err)
		}
	}
	issuers := make([]credential.Issuer, 0, len(cfg.Issuers))
	for i, ic := range cfg.Issuers {
		src, err := keySource(ctx, cfg, ic, e.now)
		if err != nil {
			return fmt.Errorf("provost: %s: issuers[%d] (%s): %w", cfg.File, i, ic.Issuer, err)
		}
		issuers = append(issuers, credential.Issuer{
			Issuer: ic.Issuer, Audiences: ic.Audiences, Algorithms: ic.Algorithms,
			Keys: src, TokenTypes: ic.TokenTypes,
		})
	}
	keys := make([]credential.APIKey, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		keys = append(keys, credential.APIKey{Name: k.Name, Fingerprint: k.Fingerprint, Subject: k.Subject})
	}
	v, err := credential.New(credential.Config{
		Issuers:       issuers,
		APIKeys:       keys,
		MaxTokenBytes: cfg.Tokens.MaxBytes,
		Leeway:        cfg.Tokens.Leeway.D(),
		MaxActDepth:   cfg.Tokens.MaxActDepth,
		Fingerprints:  e.fp,
		DPoP:          e.dpop,
		Revocations:   e.revoked,
		Now:           e.now,
	})
	if err != nil {
		return fmt.Errorf("provost: %w", err)
	}
	e.verifier = v
	return nil
}

func keySource(ctx context.Context, cfg *config.Config, ic config.Issuer, now func() time.Time) (issuer.Source, error) {
	rc := issuer.RemoteConfig{
		URL:                ic.JWKSURL,
		MinRefreshInterval: ic.Refresh.MinInterval.D(),
		TTL:                ic.Refresh.TTL.D(),
		MaxStale:           ic.Refresh.MaxStale.D(),
		Now:                now,
	}
	switch {
	case ic.JWKSFile != "":
		return issuer.LoadFile(cfg.Resolve(ic.JWKSFile))
	case ic.JWKSURL != "":
		return issuer.NewRemote(rc)
	default:
		return issuer.NewDiscovery(ctx, ic.Issuer, rc)
	}
}

// Close releases the Engine's stores.
func (e *Engine) Close() error {
	if e.revoked == nil {
		return nil
	}
	if c, ok := e.revoked.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// Fingerprint returns the fingerprint of a raw credential under this
// Engine's server secret: the only name Provost gives a credential.
func (e *Engine) Fingerprint(raw string) string { return e.fp.Of(raw) }

// Revocations returns the revocation store the Engine checks.
func (e *Engine) Revocations() revocation.Store { return e.revoked }

// DPoPNonce returns a fresh DPoP server nonce, or "" when nonces are off.
func (e *Engine) DPoPNonce() string {
	if e.dpop == nil {
		return ""
	}
	return e.dpop.Nonce()
}

