// Package app builds a running Provost from a configuration file: it loads
// the policy, opens the embedded stores in the data directory (and owns the
// directory's layout), and builds the engine over them. `provost serve`,
// `proxy`, `check`, `demo`, `trail`, `bindings propose` and `backtest` all
// start here, and the admin API and telemetry are handed the same stores, so
// nothing reaches a store through the engine.
//
// The data directory holds:
//
//	server.secret    the server secret (0600): fingerprints and derived keys
//	revocations.db   revocations (SQLite)
//	origins.db       origin history (SQLite, behind an in-memory write-behind)
//	evidence/        the evidence log (SQLite, signing key, checkpoint)
//
// The replay cache is in memory. With storage.postgres (and its
// evidence_key_file), the evidence log is the one every replica shares in
// PostgreSQL instead of evidence/.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/verdict"
)

// Layout names the files of a data directory.
type Layout struct {
	Dir         string
	Secret      string
	Revocations string
	Origins     string
	Evidence    string
}

// LayoutOf is the layout of the data directory dir.
func LayoutOf(dir string) Layout {
	return Layout{
		Dir:         dir,
		Secret:      filepath.Join(dir, fingerprint.SecretFile),
		Revocations: filepath.Join(dir, "revocations.db"),
		Origins:     filepath.Join(dir, "origins.db"),
		Evidence:    filepath.Join(dir, "evidence"),
	}
}

// Options say where an App finds its configuration and state.
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
	// TracerProvider and MeterProvider are the engine's
	// (provost.Options); nil means the otel globals.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Offline judges recorded requests in order (DataOptions.Offline). An
	// offline App never shares or receives revocations over SSF: the ssf
	// section is ignored, so replayed decisions reach no other party.
	Offline bool
}

// Data is an opened data directory: the server secret and the embedded
// stores.
type Data struct {
	Layout Layout
	Secret []byte
	// The stores: the embedded ones (SQLite, in memory) unless the
	// configuration's storage section names shared backends.
	Revocations revocation.Store
	Origins     origin.Store
	Replay      replay.Cache
	// Evidence is the SQLite *evidencelog.Log of the data directory, or
	// the shared *evidencelog.Postgres.
	Evidence evidencelog.Store

	fp *fingerprint.Fingerprinter
	// checks are the readiness checks of the shared backends; closers
	// release what was opened, last first.
	checks  []backendCheck
	closers []func() error
	// pg is the shared PostgreSQL pool, nil with the embedded stores.
	pg *pgxpool.Pool
	// integrity watches the embedded stores' files (nil before open ends).
	integrity *integrity
	// appends is told how long each evidence append took (evidencemetrics.go).
	appends appendObserver
}

// DataOptions tune the stores of a data directory.
type DataOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReplayMaxEntries bounds the replay cache (0: its default).
	ReplayMaxEntries int
	// Offline is for judging recorded requests in order (provost check):
	// the in-memory replay cache then has no horizon (replay.Horizon), as
	// every request it is asked about goes through it.
	Offline bool
	// AsyncEvidence answers decisions before their records are on disk.
	AsyncEvidence bool
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Storage names shared backends (PostgreSQL, Redis) to use in place
	// of the embedded stores; its file paths are resolved by Resolve.
	Storage config.Storage
	Resolve func(string) string
}

// OpenData opens (creating on first start) the data directory dir: the
// server secret and every embedded store.
func OpenData(ctx context.Context, dir string, o DataOptions) (*Data, error) {
	d := &Data{Layout: LayoutOf(dir)}
	if err := d.open(ctx, o); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Data) open(ctx context.Context, o DataOptions) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var err error
	if d.Secret, err = fingerprint.LoadOrCreateSecret(d.Layout.Dir); err != nil {
		return fmt.Errorf("provost: data directory: %w", err)
	}
	if d.fp, err = fingerprint.New(d.Secret); err != nil {
		return fmt.Errorf("provost: %w", err)
	}
	if err := d.openShared(ctx, o, now); err != nil {
		return err
	}
	if d.Replay == nil {
		mc := replay.MemoryConfig{MaxEntries: o.ReplayMaxEntries, Now: now}
		if o.Offline {
			mc.Since = time.Unix(0, 0)
		}
		d.Replay = replay.NewMemory(mc)
	}
	if err := d.missingStores(); err != nil {
		return err
	}
	ownOrigins := d.Origins == nil
	if d.Revocations == nil {
		rev, err := revocation.OpenSQLite(ctx, d.Layout.Revocations, now, revocation.WithSealKey(sealKey(d.Secret)))
		if err != nil {
			return fmt.Errorf("provost: revocations: %w", err)
		}
		d.Revocations, d.closers = rev, append(d.closers, rev.Close)
		if rev.Adopted() && o.Logger != nil {
			o.Logger.LogAttrs(ctx, slog.LevelWarn, "the revocation store had no seal (written by an older Provost): sealed as found; review it with provost revocations list",
				slog.String("path", d.Layout.Revocations))
		}
	}
	if d.Origins == nil {
		orig, err := origin.OpenSQLite(ctx, d.Layout.Origins)
		if err != nil {
			return fmt.Errorf("provost: origin history: %w", err)
		}
		// Decisions read and update origin history in memory; one writer
		// puts their uses in origins.db in batches. Closed last first:
		// the write-behind drains into the database, then the database
		// closes.
		wb := origin.NewWriteBehind(orig, origin.WriteBehindConfig{
			MaxCredentials: o.Storage.OriginMemoryCredentials, Logger: o.Logger})
		d.Origins, d.closers = wb, append(d.closers, orig.Close, wb.Close)
	}
	if d.Evidence == nil {
		l, err := evidencelog.Open(ctx, d.Layout.Evidence, evidencelog.Options{Async: o.AsyncEvidence, Now: now})
		if err != nil {
			return fmt.Errorf("provost: evidence log: %w", err)
		}
		d.Evidence = l
	}
	if err := d.watch(o.Logger, ownOrigins); err != nil {
		return err
	}
	d.Revocations = guardedRevocations{Store: d.Revocations, g: d.integrity}
	if o.AsyncEvidence && o.Logger != nil {
		o.Logger.LogAttrs(ctx, slog.LevelWarn, "evidence mode is async: decisions are answered before their records are on disk, and a crash can lose answered decisions")
	}
	return nil
}

// Stores are the data directory's stores as the engine takes them.
func (d *Data) Stores() provost.Stores {
	return provost.Stores{Revocations: d.Revocations, Origins: d.Origins, Replay: d.Replay, Evidence: EvidenceAppender{Log: d.Evidence, Check: d.integrity.Err, Observe: d.appends.observe}}
}

// Fingerprint returns the fingerprint of a raw credential under this data
// directory's server secret: the only name Provost gives a credential.
func (d *Data) Fingerprint(raw string) string { return credential.Fingerprint(d.fp, raw) }

// Ready reports whether every store a decision needs answers: nil for the
// embedded stores, which live in this process, unless a store file was
// deleted or replaced under it (ErrStoreFile), the SQLite evidence log
// has failed a write (it then refuses every append, so every decision is
// denied, until a probe write succeeds: evidencelog.Log.Err), or origin
// history cannot be written (decisions fail closed until a retried batch
// is written), or the SQLite revocation store failed a write (revocations
// cannot be added, so a decision that must revoke is denied, until a
// probe write succeeds).
func (d *Data) Ready(ctx context.Context) error {
	if err := d.integrity.Err(); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if l, ok := d.Evidence.(*evidencelog.Log); ok {
		if err := l.Err(); err != nil {
			return fmt.Errorf("evidence log: appends refused until it can write again: %w", err)
		}
	}
	if err := d.integrity.revocationWrites(); err != nil {
		return fmt.Errorf("revocation store: revocations cannot be written until a write succeeds: %w", err)
	}
	if wb, ok := d.Origins.(*origin.WriteBehind); ok {
		if err := wb.Err(); err != nil {
			return fmt.Errorf("origin history: every decision fails closed until a write succeeds: %w", err)
		}
	}
	for _, c := range d.checks {
		if err := c.check(ctx); err != nil {
			return err
		}
	}
	return nil
}

// backendCheck is a shared backend's readiness check.
type backendCheck struct {
	name  string // postgresql, redis
	check func(context.Context) error
}

// Backends reports, for each shared backend, whether it answers now (for
// metrics); empty with the embedded stores.
func (d *Data) Backends(ctx context.Context) map[string]bool {
	out := make(map[string]bool, len(d.checks))
	for _, c := range d.checks {
		out[c.name] = c.check(ctx) == nil
	}
	return out
}

// RevocationCount is the number of revocations in force.
func (d *Data) RevocationCount(ctx context.Context) (int, error) {
	list, err := d.Revocations.List(ctx)
	return len(list), err
}

// ReplayEntries is the number of entries in the replay cache, or -1 when
// the cache cannot tell (a shared one).
func (d *Data) ReplayEntries() int {
	if c, ok := d.Replay.(interface{ Len() int }); ok {
		return c.Len()
	}
	return -1
}

// OriginCacheStats counts origin-history lookups answered from the
// in-process cache and from the store (zero for stores without one).
func (d *Data) OriginCacheStats() (hits, misses uint64) {
	if c, ok := d.Origins.(interface{ CacheStats() (uint64, uint64) }); ok {
		return c.CacheStats()
	}
	return 0, 0
}

// Close releases the stores.
func (d *Data) Close() error {
	var errs []error
	if d.Evidence != nil {
		errs = append(errs, d.Evidence.Close())
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// App is a running Provost: its engine and the data directory it was built
// over.
type App struct {
	*Data
	ConfigFile string
	// Config is the configuration as loaded at start: the settings that
	// take effect on restart only (listeners, stores) are read from it.
	Config *config.Config
	Engine *provost.Engine
	// SSF is the transmitter and receiver of the ssf section (docs/ssf.md),
	// each nil when not configured. Data.Revocations notifies the
	// transmitter of every revocation added through it; revocations the
	// receiver hands over are added to the store underneath, never sent on.
	SSF SSF

	// spiffe follows the Workload API's trust bundles (trust.workload_api);
	// nil when not configured.
	spiffe *workload.APISource

	log      *slog.Logger
	reloadMu sync.Mutex
	// pending are the restart-only settings changed since start (under
	// reloadMu): a reload put the policy in force but not them.
	pending []string
	// instance names this process in reload announcements, so it does not
	// reload twice for its own.
	instance string
}

// Open loads the configuration, opens the data directory (creating the
// server secret on first start) and returns a ready App.
func Open(ctx context.Context, o Options) (*App, error) {
	if o.ConfigFile == "" {
		return nil, errors.New("provost: a configuration file is required")
	}
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	pol, err := provost.LoadPolicy(ctx, o.ConfigFile)
	if err != nil {
		return nil, err
	}
	dir := cfg.DataDirPath()
	if o.DataDir != "" {
		dir = o.DataDir
	}
	data, err := OpenData(ctx, dir, DataOptions{Now: o.Now, ReplayMaxEntries: cfg.Replay.MaxEntries,
		AsyncEvidence: cfg.Evidence.Mode == "async", Logger: o.Logger, Storage: cfg.Storage, Resolve: cfg.Resolve, Offline: o.Offline})
	if err != nil {
		return nil, err
	}
	a := &App{Data: data, ConfigFile: o.ConfigFile, Config: cfg, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if !o.Offline {
		if a.SSF, data.Revocations, err = openSSF(cfg, data.Revocations, data.Replay, a.log); err != nil {
			data.Close()
			return nil, err
		}
	}
	if a.spiffe, err = startWorkloadAPI(ctx, cfg, a.log); err != nil {
		a.Close()
		return nil, err
	}
	a.Engine, err = provost.New(ctx, pol, data.Stores(), provost.Options{Secret: data.Secret, Now: o.Now, Logger: o.Logger,
		SPIFFEBundles: a.bundleSource(), TracerProvider: o.TracerProvider, MeterProvider: o.MeterProvider})
	if err != nil {
		a.Close()
		return nil, err
	}
	if data.pg != nil && !o.Offline {
		a.followReloads()
	}
	return a, nil
}

// Close stops the SSF transmitter, letting it deliver the SETs still
// queued for up to SSFDrainTimeout (those left become dead letters), then
// releases the stores.
func (a *App) Close() error {
	var err error
	if t := a.SSF.Transmitter; t != nil {
		ctx, cancel := context.WithTimeout(context.Background(), SSFDrainTimeout)
		err = t.Close(ctx)
		cancel()
		if err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "ssf: closed before every SET was delivered", slog.String("error", err.Error()))
		}
	}
	if a.spiffe != nil {
		err = errors.Join(err, a.spiffe.Close())
	}
	return errors.Join(err, a.Data.Close())
}

// Reload reads the configuration and bindings files again and puts them in
// force. When they fail to load, the engine keeps the policy it has and
// Reload says why. Settings of the stores (data_dir, replay.max_entries,
// evidence.mode) take effect on restart only.
//
// With shared PostgreSQL storage, a successful reload is announced to every
// other replica, which reloads its own configuration files too (each
// replica reads its own copy, as a ConfigMap update gives every pod).
func (a *App) Reload(ctx context.Context) error {
	if err := a.reload(ctx); err != nil {
		return err
	}
	if a.pg != nil {
		if _, err := a.pg.Exec(ctx, `SELECT pg_notify($1, $2)`, ReloadChannel, a.instance); err != nil {
			// This replica reloaded; the others keep their configuration
			// until they reload themselves.
			a.log.LogAttrs(ctx, slog.LevelWarn, "reloaded, but the other replicas were not told", slog.Any("error", err))
		}
	}
	return nil
}

func (a *App) reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	pol, err := provost.LoadPolicy(ctx, a.ConfigFile)
	if err == nil {
		err = a.Engine.SetPolicy(ctx, pol)
	}
	if err != nil {
		return fmt.Errorf("provost: reload failed, keeping the previous configuration: %w", err)
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "configuration reloaded", slog.String("bindings_digest", pol.Digest()))
	a.notePending(ctx)
	return nil
}

// Policy is the policy in force.
func (a *App) Policy() *provost.Policy { return a.Engine.Policy() }

// EvidenceAppender is an evidence log (on disk or in memory) as the engine
// writes to it.
type EvidenceAppender struct {
	Log interface {
		Append(ctx context.Context, record []byte) (evidencelog.Entry, error)
	}
	// Check, when set, is asked before each append; an error refuses it
	// (the data directory's integrity is lost).
	Check func() error
	// Observe, when set, is told how long each Log.Append took and its
	// error (for metrics).
	Observe func(took time.Duration, err error)
}

// Append implements provost.EvidenceLog.
func (e EvidenceAppender) Append(ctx context.Context, record []byte) (verdict.EvidenceRef, error) {
	if e.Check != nil {
		if err := e.Check(); err != nil {
			return verdict.EvidenceRef{}, fmt.Errorf("evidence not written: %w", err)
		}
	}
	start := time.Now()
	ent, err := e.Log.Append(ctx, record)
	if e.Observe != nil {
		e.Observe(time.Since(start), err)
	}
	if err != nil {
		return verdict.EvidenceRef{}, err
	}
	return verdict.EvidenceRef{Index: ent.Index, LeafHash: base64.StdEncoding.EncodeToString(ent.LeafHash[:])}, nil
}
