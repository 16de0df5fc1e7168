package provost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/origin"
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

// Engine decides requests. It is safe for concurrent use. Its loaded
// configuration is swapped atomically by Reload; its stores (revocations,
// origin history, the replay cache) live as long as the Engine. Close it to
// release them.
type Engine struct {
	opts    Options
	now     func() time.Time
	log     *slog.Logger
	dataDir string
	secret  []byte
	fp      *fingerprint.Fingerprinter
	replay  replay.Cache
	revoked *revocation.SQLite
	history *origin.SQLite
	// evidence is the append-only evidence log every decision is
	// written to before it is answered.
	evidence *evidencelog.Log

	state    atomic.Pointer[state]
	reloadMu sync.Mutex

	// wrapped is the decision function with the wrappers Use added.
	wrapped atomic.Pointer[CheckFunc]
	wrapMu  sync.Mutex
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
	e := &Engine{opts: o, now: o.Now, log: o.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.dataDir = cfg.DataDirPath()
	if o.DataDir != "" {
		e.dataDir = o.DataDir
	}
	if err := e.openStores(ctx, cfg); err != nil {
		e.Close()
		return nil, err
	}
	st, err := e.buildState(ctx, cfg)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.state.Store(st)
	return e, nil
}

func (e *Engine) openStores(ctx context.Context, cfg *config.Config) error {
	var err error
	if e.secret, err = fingerprint.LoadOrCreateSecret(e.dataDir); err != nil {
		return fmt.Errorf("provost: data directory: %w", err)
	}
	if e.fp, err = fingerprint.New(e.secret); err != nil {
		return fmt.Errorf("provost: %w", err)
	}
	e.replay = replay.NewMemory(replay.MemoryConfig{MaxEntries: cfg.Replay.MaxEntries, Now: e.now})
	if e.revoked, err = revocation.OpenSQLite(ctx, filepath.Join(e.dataDir, "revocations.db"), e.now); err != nil {
		return fmt.Errorf("provost: revocations: %w", err)
	}
	if e.history, err = origin.OpenSQLite(ctx, filepath.Join(e.dataDir, "origins.db")); err != nil {
		return fmt.Errorf("provost: origin history: %w", err)
	}
	async := cfg.Evidence.Mode == "async"
	if e.evidence, err = evidencelog.Open(ctx, filepath.Join(e.dataDir, "evidence"), evidencelog.Options{Async: async, Now: e.now}); err != nil {
		return fmt.Errorf("provost: evidence log: %w", err)
	}
	if async {
		e.log.LogAttrs(ctx, slog.LevelWarn, "evidence mode is async: decisions are answered before their records are on disk, and a crash can lose answered decisions")
	}
	return nil
}

// Reload reads the configuration and bindings files again and swaps them in
// atomically. When the new configuration fails to load, the Engine keeps
// serving the old one and Reload says why. Settings of the stores
// (data_dir, replay.max_entries) take effect on restart only.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	cfg, err := config.Load(e.opts.ConfigFile)
	if err != nil {
		return fmt.Errorf("provost: reload failed, keeping the previous configuration: %w", err)
	}
	st, err := e.buildState(ctx, cfg)
	if err != nil {
		return fmt.Errorf("provost: reload failed, keeping the previous configuration: %w", err)
	}
	e.state.Store(st)
	e.log.LogAttrs(ctx, slog.LevelInfo, "configuration reloaded", slog.String("bindings_digest", st.bindings.Digest))
	return nil
}

// Close releases the Engine's stores.
func (e *Engine) Close() error {
	var errs []error
	if e.revoked != nil {
		errs = append(errs, e.revoked.Close())
	}
	if e.history != nil {
		errs = append(errs, e.history.Close())
	}
	if e.evidence != nil {
		errs = append(errs, e.evidence.Close())
	}
	return errors.Join(errs...)
}

// Fingerprint returns the fingerprint of a raw credential under this
// Engine's server secret: the only name Provost gives a credential.
func (e *Engine) Fingerprint(raw string) string { return e.fp.Of(raw) }

// DPoPNonce returns a fresh DPoP server nonce, or "" when nonces are off.
func (e *Engine) DPoPNonce() string {
	if d := e.state.Load().dpop; d != nil {
		return d.Nonce()
	}
	return ""
}

// TrustsProxy reports whether a is the address of a trusted proxy
// (trust.proxies) under the current configuration: only from those are
// forwarded headers believed.
func (e *Engine) TrustsProxy(a netip.Addr) bool {
	return a.IsValid() && e.state.Load().trusted.Contains(a.Unmap())
}

// EvidenceLog is the engine's evidence log: checkpoints, proofs, receipts.
func (e *Engine) EvidenceLog() *evidencelog.Log { return e.evidence }

// DataDir is the engine's data directory.
func (e *Engine) DataDir() string { return e.dataDir }

// BindingsDigest names the loaded bindings file's version ("sha256:...").
func (e *Engine) BindingsDigest() string { return e.state.Load().bindings.Digest }
