// Package stores opens the stores an Engine keeps its state in: the embedded
// default on disk (a data directory of SQLite files, as `provost serve` uses
// it) or in memory, for tests, examples and services that keep no state.
//
//	pol, err := provost.LoadPolicy(ctx, "provost.yaml")
//	dir, err := stores.OpenDir(ctx, "provost-data", stores.Options{})
//	defer dir.Close()
//	eng, err := provost.New(ctx, pol, dir.Stores(), provost.Options{Secret: dir.Secret()})
package stores

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
)

// Options tune the stores.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ReplayMaxEntries bounds the replay cache (0: 1<<20). When it is full
	// of live entries, DPoP proofs are refused (fail closed).
	ReplayMaxEntries int
	// AsyncEvidence answers decisions before their evidence records are
	// on disk: faster, and a crash can lose answered decisions.
	AsyncEvidence bool
}

// Dir is an opened data directory: the server secret (server.secret, 0600)
// and the embedded stores (revocations.db, origins.db, evidence/). Only one
// process may open a directory at a time.
type Dir struct{ d *app.Data }

// OpenDir opens the data directory dir, creating it and the server secret
// on first use.
func OpenDir(ctx context.Context, dir string, o Options) (*Dir, error) {
	d, err := app.OpenData(ctx, dir, app.DataOptions{Now: o.Now, ReplayMaxEntries: o.ReplayMaxEntries, AsyncEvidence: o.AsyncEvidence})
	if err != nil {
		return nil, err
	}
	return &Dir{d: d}, nil
}

// Stores are the directory's stores, for provost.New.
func (d *Dir) Stores() provost.Stores { return d.d.Stores() }

// Secret is the directory's server secret, for provost.Options.
func (d *Dir) Secret() []byte { return d.d.Secret }

// Close releases the stores; the Engine built over them must not be used
// after.
func (d *Dir) Close() error { return d.d.Close() }

// Memory returns stores that keep everything in memory, for tests,
// examples and services that need no state across restarts: revocations,
// origin history (at most 1<<20 credentials, least recently used evicted),
// a replay cache and an evidence log with signed checkpoints. Nothing
// survives the process.
func Memory(o Options) provost.Stores {
	return provost.Stores{
		Revocations: revocation.NewMemory(o.Now),
		Origins:     origin.NewMemory(),
		Replay:      replay.NewMemory(replay.MemoryConfig{MaxEntries: o.ReplayMaxEntries, Now: o.Now}),
		Evidence:    app.EvidenceAppender{Log: evidencelog.NewMemory()},
	}
}

// NewSecret returns a fresh random server secret, for provost.Options when
// fingerprints need not outlive the process.
func NewSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}
