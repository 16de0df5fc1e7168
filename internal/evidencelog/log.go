package evidencelog

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/sqlitedb"
)

// Defaults and bounds.
const (
	DefaultMaxBatch      = 256
	DefaultMaxPending    = 4096
	DefaultMaxRecordSize = 1 << 20
	// MaxEntries bounds one Entries call.
	MaxEntries = 1000
	// DefaultRetryInterval is how often a durable log whose commit failed
	// tries a probe write to learn whether it may take Appends again
	// (Options.RetryInterval).
	DefaultRetryInterval = time.Second
	// DefaultCheckpointInterval is the least time between two checkpoints
	// a Log signs (Options.CheckpointInterval).
	DefaultCheckpointInterval = 10 * time.Second
)

// Options configure a Log. The zero value is a durable log named after the host.
type Options struct {
	// Name is the log's origin line and the name of its key. Default: the
	// name in an existing key file, else "provost.evidence/<hostname>". It
	// cannot change once the log exists.
	Name string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Async makes Append return once the record is queued, before it is
	// on disk: a crash loses the queued records, which may already have
	// been answered. Flush waits for them. Default: durable.
	Async bool
	// MaxBatch bounds the records committed in one transaction.
	MaxBatch int
	// MaxDelay is how long the writer waits for more records before it
	// commits a batch. 0 (the default) commits at once: records arriving
	// during a commit form the next batch anyway.
	MaxDelay time.Duration
	// MaxPending bounds the records queued and not yet committed; Append
	// waits for room.
	MaxPending int
	// MaxRecordSize bounds one record, in bytes.
	MaxRecordSize int
	// ReadOnly opens an existing log to read and verify it, even while
	// another process writes it: the private key is not needed (the
	// verifier key pinned in the database is used), no head check is made
	// at open, Append is refused and Checkpoint returns the latest stored
	// checkpoint. Size and the proofs see the records committed at Open;
	// Verify reads a fresh snapshot.
	ReadOnly bool
	// CheckpointInterval is the least time between two checkpoints the
	// Log signs, whoever asks (Checkpoint, Receipt, GET /v1/log/...):
	// within it Checkpoint returns the newest stored checkpoint even if
	// the log grew, and Receipt of a record that checkpoint does not cover
	// waits until the interval has passed, then signs one checkpoint that
	// every waiting caller shares. 0 means DefaultCheckpointInterval; a
	// negative value signs on demand, whenever the log grew (for tests and
	// offline tools). It is measured on the monotonic clock, not Now.
	CheckpointInterval time.Duration
	// RetryInterval is how often, after a failed commit, the writer tries
	// a probe write to learn whether the database takes writes again (see
	// Err). 0 means DefaultRetryInterval.
	RetryInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPending < o.MaxBatch {
		o.MaxPending = o.MaxBatch
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	return o
}

// Entry is where Append put a record.
type Entry struct {
	Index    int64     // the record's index in the log, from 0
	LeafHash tlog.Hash // SHA-256(0x00 || record)
}

// Log is an append-only evidence log in an SQLite database. Only one Log
// (one process) may write a directory at a time. All methods are safe for
// concurrent use.
type Log struct {
	dir      string
	db       *sql.DB
	opts     Options
	signer   note.Signer // nil when read-only
	verifier note.Verifier
	vkey     string
	hashes   *sql.Stmt  // readHashesSQL
	store    batchStore // where the writer puts batches; nil when read-only

	mu        sync.Mutex
	queue     []pending
	next      int64         // index the next Append gets
	written   int64         // records committed to the database, synced or not
	wroteRoot tlog.Hash     // tree hash at written
	committed int64         // records durably in the database: written, then fsynced
	root      tlog.Hash     // tree hash at committed
	failed    error         // write failure: Appends refused until recover, or for good after syncErr
	syncErr   error         // sticky fsync failure: nothing more becomes durable
	closed    bool          // set by Close: no more appends
	commitCh  chan struct{} // closed and replaced when committed grows or a write fails

	front    frontier      // writer goroutine only: the frontier at written
	lastSync time.Duration // writer goroutine only: how long its last fsync took
	wake     chan struct{} // cap 1: the queue is not empty
	syncWake chan struct{} // cap 1: written grew (async mode)
	quit     chan struct{} // closed by Close
	done     chan struct{} // closed when the writer and the syncer have drained and exited
	slots    chan struct{} // one per queued record, bounds the queue
	waiting  atomic.Int64  // durable Appends and Flushes between taking their index and returning
	commits  atomic.Int64  // transactions committed, for Stats
	syncs    atomic.Int64  // fsyncs that made records durable, for Stats

	ckMu     sync.Mutex // serialises Checkpoint
	latest   storedCheckpoint
	signedAt time.Time // when this Log last signed a checkpoint (zero: not yet)

	closeOnce sync.Once
	closeErr  error
}

// Open opens the evidence log in dir, creating it, and its signing key
// (log.key, mode 0600), on first start. Unless opts.ReadOnly is set, Open
// refuses a log that is smaller than, or inconsistent with, the last
// checkpoint it issued (the checkpoint file kept beside the database): an
// older copy of the database put back would otherwise be appended to.
func Open(ctx context.Context, dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	path := filepath.Join(dir, dbFile)
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("evidencelog: open read-only: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	l := newLog(dir, db, opts)
	if err := l.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.ReadOnly {
		close(l.done)
		return l, nil
	}
	store, err := openSQLiteStore(ctx, db, path)
	if err != nil {
		l.hashes.Close()
		db.Close()
		return nil, err
	}
	l.start(store)
	return l, nil
}

// newLog is a Log with its channels made, not yet started.
func newLog(dir string, db *sql.DB, opts Options) *Log {
	return &Log{
		dir: dir, db: db, opts: opts,
		commitCh: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		syncWake: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		slots:    make(chan struct{}, opts.MaxPending),
	}
}

// start starts the writer, which puts batches into store.
func (l *Log) start(store batchStore) {
	l.store = store
	go l.run()
}

// logName is the configured name, else the existing key's, else the default.
func logName(dir string, opts Options) (string, error) {
	if opts.Name != "" {
		return opts.Name, nil
	}
	if skey, err := readKey(filepath.Join(dir, keyFile)); err == nil {
		if n := keyName(skey); n != "" {
			return n, nil
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "provost.evidence/" + host, nil
}

func (l *Log) init(ctx context.Context) error {
	if !l.opts.ReadOnly {
		if err := l.initWriter(ctx); err != nil {
			return err
		}
	}
	pinned, err := readMeta(ctx, l.db, "verifier_key")
	if err != nil {
		return err
	}
	switch {
	case l.opts.ReadOnly && pinned == "":
		return fmt.Errorf("evidencelog: %s holds no evidence log", l.dir)
	case l.opts.ReadOnly:
		l.vkey = pinned // a reader needs no private key
	case pinned != l.vkey:
		return problem(ErrUnknownKey, -1, "the key in %s (%s) is not the key this log was created with (%s)",
			filepath.Join(l.dir, keyFile), l.vkey, pinned)
	}
	if l.verifier, err = note.NewVerifier(l.vkey); err != nil {
		return problem(ErrBadVerifierKey, -1, "pinned verifier key %q: %v", l.vkey, err)
	}
	if l.hashes, err = l.db.PrepareContext(ctx, readHashesSQL); err != nil {
		return fmt.Errorf("evidencelog: prepare: %w", err)
	}
	n, err := leafCount(ctx, l.db)
	if err != nil {
		return err
	}
	front, err := loadFrontier(l.hashReader(ctx), n)
	if err != nil {
		return fmt.Errorf("evidencelog: load tree of size %d: %w", n, err)
	}
	root, err := front.root()
	if err != nil {
		return fmt.Errorf("evidencelog: tree hash: %w", err)
	}
	l.front, l.next, l.written, l.wroteRoot, l.committed, l.root = front, n, n, root, n, root
	latest, _, err := latestCheckpoint(ctx, l.db)
	if err != nil {
		return err
	}
	l.latest = latest
	if l.opts.ReadOnly {
		return nil
	}
	return l.checkHead(ctx)
}

// initWriter loads (or creates) the signing key, migrates the schema and
// pins the verifier key on first start.
func (l *Log) initWriter(ctx context.Context) error {
	name, err := logName(l.dir, l.opts)
	if err != nil {
		return err
	}
	if !validName(name) {
		return fmt.Errorf("evidencelog: log name %q: want 1 to %d characters, no spaces or '+'", name, maxNameLen)
	}
	signer, vkey, err := loadKey(l.dir, name)
	if err != nil {
		return err
	}
	if signer.Name() != name {
		return fmt.Errorf("evidencelog: log name %q differs from the name %q of the key in %s",
			name, signer.Name(), filepath.Join(l.dir, keyFile))
	}
	l.signer, l.vkey = signer, vkey
	if err := sqlitedb.Migrate(ctx, l.db, schemaName, schema); err != nil {
		return fmt.Errorf("evidencelog: %w", err)
	}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO evidence_meta (key, value) VALUES ('verifier_key', ?)
		ON CONFLICT (key) DO NOTHING`, vkey); err != nil {
		return fmt.Errorf("evidencelog: pin verifier key: %w", err)
	}
	return nil
}

// maxNameLen bounds the log's name.
const maxNameLen = 255

// validName reports whether name can be a note key name and origin line.
func validName(name string) bool {
	return name != "" && len(name) <= maxNameLen && utf8.ValidString(name) &&
		!strings.ContainsFunc(name, func(r rune) bool { return r == '+' || unicode.IsSpace(r) || unicode.IsControl(r) })
}

// hashReader reads stored hashes from the database.
func (l *Log) hashReader(ctx context.Context) tlog.HashReader { return dbHashes{ctx, l.hashes} }

// checkHead checks the log against the checkpoint file and the latest
// stored checkpoint: neither may be larger than the log, and the log's tree
// at their size must have their root.
func (l *Log) checkHead(ctx context.Context) error {
	file, err := readCheckpointFile(l.dir)
	if err != nil {
		return err
	}
	heads := [][]byte{file, l.latest.note}
	for _, signed := range heads {
		if signed == nil {
			continue
		}
		if err := l.VerifyCheckpoint(ctx, signed); err != nil {
			return fmt.Errorf("evidencelog: refusing to open %s: %w", l.dir, err)
		}
	}
	return nil
}

// Close commits the queued records, stops the writer, signs a last
// checkpoint if the log grew since the newest one (whatever the
// CheckpointInterval) and closes the database. It is safe to call more
// than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.quit)
		<-l.done
		signErr := l.signAtClose()
		if l.store != nil {
			l.store.close()
		}
		l.hashes.Close()
		l.closeErr = l.db.Close()
		l.mu.Lock()
		err := l.failed
		l.mu.Unlock()
		if l.closeErr == nil && err != nil {
			l.closeErr = err
		}
		if l.closeErr == nil && signErr != nil {
			l.closeErr = signErr
		}
	})
	return l.closeErr
}

// Err is the write failure that makes the log refuse every Append (an
// ErrWriteFailed error), or nil while appends are accepted. After a failed
// commit of a durable log it stays until the writer finds the database
// writable again (every RetryInterval it commits a probe write, once no
// Append from before the failure is still waiting); after a failed fsync,
// or in Async mode, it stays until the log is reopened.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Size is the number of records committed to the database and fsynced.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed
}

// Durable reports whether Append waits for its record to be on disk
// (false in Async mode).
func (l *Log) Durable() bool { return !l.opts.Async }

// Name is the log's origin line and key name.
func (l *Log) Name() string { return l.verifier.Name() }

// VerifierKey is the log's public key as a note verifier key
// (name+hash+base64), all a third party needs to check its checkpoints
// and receipts.
func (l *Log) VerifierKey() string { return l.vkey }

// Stats are counters for metrics.
type Stats struct {
	Size    int64 // records committed (written and fsynced)
	Pending int64 // records appended, not yet committed
	Commits int64 // transactions committed since Open
	Syncs   int64 // fsyncs since Open, each making one or more transactions durable
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Size: l.committed, Pending: l.next - l.committed, Commits: l.commits.Load(), Syncs: l.syncs.Load()}
}
