package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/revocation"
)

// Integrity watch intervals: the store files are checked every
// FileCheckInterval, the revocation rows against their seal every
// SealCheckInterval.
const (
	FileCheckInterval = time.Second
	SealCheckInterval = 10 * time.Second
)

// ErrStoreFile means a store file of the data directory was deleted or
// replaced while Provost was running, or is missing at start although the
// directory was in use. Decisions are then denied and /readyz fails: the
// store Provost holds open is no longer the one on disk, so what it writes
// would be lost and what it reads may not be what the operator sees.
var ErrStoreFile = errors.New("store file deleted or replaced")

// sealKey is the key of the revocation database's seal, derived from the
// server secret.
func sealKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("provost revocation seal v1"))
	return m.Sum(nil)
}

// watchedFile is one store file and the identity it had when opened.
type watchedFile struct {
	name, path string
	dev, ino   uint64
}

// integrity watches the embedded stores while Provost runs.
type integrity struct {
	files  []watchedFile
	rev    *revocation.SQLite // nil with a shared revocation store
	log    *slog.Logger
	broken atomic.Pointer[error]
	stop   context.CancelFunc
	done   chan struct{}
}

// Err is the first integrity failure seen, or nil.
func (g *integrity) Err() error {
	if g == nil {
		return nil
	}
	if p := g.broken.Load(); p != nil {
		return *p
	}
	return nil
}

func fileID(path string) (dev, ino uint64, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, nil
	}
	return uint64(st.Dev), st.Ino, nil
}

// missingStores refuses a data directory that was in use (any store file
// or the evidence log's directory is there) but lacks an embedded store's
// file: starting that store afresh would silently forget every revocation,
// or start a new evidence log beside the old one's key and checkpoints.
func (d *Data) missingStores() error {
	inUse := false
	for _, p := range []string{d.Layout.Revocations, d.Layout.Origins, d.Layout.Evidence} {
		if _, err := os.Stat(p); err == nil {
			inUse = true
		}
	}
	if !inUse {
		return nil // a new data directory
	}
	var need []watchedFile
	if d.Revocations == nil {
		need = append(need, watchedFile{name: "the revocation store", path: d.Layout.Revocations})
	}
	if d.Evidence == nil {
		need = append(need, watchedFile{name: "the evidence log", path: filepath.Join(d.Layout.Evidence, evidencelog.DatabaseFile)})
	}
	for _, f := range need {
		if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("provost: data directory %s was in use but %s (%s) is missing: %w; restore it from a backup, or, to start it empty on purpose, create it as an empty file (touch %s)",
				d.Layout.Dir, f.name, f.path, ErrStoreFile, f.path)
		}
	}
	return nil
}

// watch starts checking the embedded stores' files (ownOrigins: the origin
// history is the data directory's too) every
// FileCheckInterval, and the revocation seal every SealCheckInterval.
func (d *Data) watch(log *slog.Logger, ownOrigins bool) error {
	g := &integrity{log: log, done: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	add := func(name, path string) error {
		dev, ino, err := fileID(path)
		if err != nil {
			return fmt.Errorf("provost: %s: %w", name, err)
		}
		g.files = append(g.files, watchedFile{name: name, path: path, dev: dev, ino: ino})
		return nil
	}
	if err := add("the server secret", d.Layout.Secret); err != nil {
		return err
	}
	if rev, ok := d.Revocations.(*revocation.SQLite); ok {
		g.rev = rev
		if err := add("the revocation store", d.Layout.Revocations); err != nil {
			return err
		}
	}
	if _, ok := d.Evidence.(*evidencelog.Log); ok {
		if err := add("the evidence log", filepath.Join(d.Layout.Evidence, evidencelog.DatabaseFile)); err != nil {
			return err
		}
	}
	if ownOrigins {
		if err := add("the origin history", d.Layout.Origins); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	d.integrity = g
	d.closers = append(d.closers, func() error { cancel(); <-g.done; return nil })
	go g.run(ctx)
	return nil
}

func (g *integrity) run(ctx context.Context) {
	defer close(g.done)
	files := time.NewTicker(FileCheckInterval)
	defer files.Stop()
	seal := time.NewTicker(SealCheckInterval)
	defer seal.Stop()
	for g.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-files.C:
			g.fail(ctx, g.checkFiles())
			g.probeRevocations(ctx)
		case <-seal.C:
			if g.rev != nil {
				if err := g.rev.Verify(ctx); err != nil && ctx.Err() == nil {
					g.fail(ctx, fmt.Errorf("the revocation store: %w", err))
				}
			}
		}
	}
}

// revocationWrites is the failure of the last write to the SQLite
// revocation store, nil while it takes writes.
func (g *integrity) revocationWrites() error {
	if g == nil || g.rev == nil {
		return nil
	}
	return g.rev.WriteErr()
}

// probeRevocations tries a write to the SQLite revocation store while its
// last write failed (a full disk): the first that succeeds makes Provost
// ready again without waiting for an operator's next revocation.
func (g *integrity) probeRevocations(ctx context.Context) {
	if g.revocationWrites() == nil {
		return
	}
	if err := g.rev.Probe(ctx); err != nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "the revocation store still cannot be written", slog.Any("error", err))
		return
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "the revocation store can be written again")
}

// checkFiles reports the first watched file that is gone or is no longer
// the file that was opened.
func (g *integrity) checkFiles() error {
	for _, f := range g.files {
		dev, ino, err := fileID(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s (%s) was deleted while Provost was running: %w", f.name, f.path, ErrStoreFile)
		case err != nil:
			return fmt.Errorf("%s (%s): %w", f.name, f.path, err)
		case dev != f.dev || ino != f.ino:
			return fmt.Errorf("%s (%s) was replaced by another file while Provost was running: %w", f.name, f.path, ErrStoreFile)
		}
	}
	return nil
}

// fail records err when it says the stores are not the ones opened (a file
// deleted or replaced, rows changed under the seal); any other error (a
// busy database, a stat that failed) is logged and checked again on the
// next tick, rather than deny every decision until a restart.
func (g *integrity) fail(ctx context.Context, err error) {
	if err == nil {
		return
	}
	if !errors.Is(err, ErrStoreFile) && !errors.Is(err, revocation.ErrTampered) {
		g.log.LogAttrs(ctx, slog.LevelWarn, "data directory check failed; trying again", slog.Any("error", err))
		return
	}
	if !g.broken.CompareAndSwap(nil, &err) {
		return
	}
	g.log.LogAttrs(ctx, slog.LevelError, "data directory integrity lost: every decision is denied and /readyz fails until Provost restarts with the data directory restored",
		slog.Any("error", err))
}

// guardedRevocations refuses writes once the data directory's integrity
// is lost: a revocation written into a deleted file would be lost on
// restart while its caller believed it in force.
type guardedRevocations struct {
	revocation.Store
	g *integrity
}

func (r guardedRevocations) Add(ctx context.Context, rev revocation.Revocation) (revocation.Revocation, error) {
	if err := r.g.Err(); err != nil {
		return revocation.Revocation{}, fmt.Errorf("revocation not written: %w", err)
	}
	return r.Store.Add(ctx, rev)
}

func (r guardedRevocations) Remove(ctx context.Context, id string) error {
	if err := r.g.Err(); err != nil {
		return fmt.Errorf("revocation not removed: %w", err)
	}
	return r.Store.Remove(ctx, id)
}
