package evidencelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/pgdb"
)

// pgSchema is the PostgreSQL evidence log's migration steps; append, never
// edit.
//
// evidence_head is one row: the log's size, its RFC 6962 root and its
// frontier (the hashes of the last complete subtree of each level, level 0
// first: all a writer needs to append). Every append transaction locks it
// first (SELECT ... FOR UPDATE), so appends from every replica are
// serialised on it and indexes stay dense; the records, their tree hashes
// and the new head are written in that one transaction. evidence_leaf and
// evidence_hash are the SQLite log's tables (tlog's stored hashes, keyed by
// tlog.StoredHashIndex); evidence_checkpoint keeps every checkpoint any
// replica signed; evidence_meta pins the verifier key. The private key is
// never stored here.
var pgSchema = []string{
	`CREATE TABLE evidence_head (
		id       boolean PRIMARY KEY DEFAULT true CHECK (id),
		size     bigint NOT NULL CHECK (size >= 0),
		root     bytea NOT NULL CHECK (octet_length(root) = 32),
		frontier bytea NOT NULL
	)`,
	// The empty tree: size 0, root SHA-256("").
	`INSERT INTO evidence_head (size, root, frontier)
		VALUES (0, decode('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'), '')`,
	`CREATE TABLE evidence_leaf (
		idx    bigint PRIMARY KEY CHECK (idx >= 0),
		hash   bytea NOT NULL,
		record bytea NOT NULL
	)`,
	`CREATE TABLE evidence_hash (
		id   bigint PRIMARY KEY CHECK (id >= 0),
		hash bytea NOT NULL
	)`,
	`CREATE TABLE evidence_checkpoint (
		size       bigint PRIMARY KEY CHECK (size >= 0),
		root       bytea NOT NULL,
		note       bytea NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now()
	)`,
	`CREATE TABLE evidence_meta (
		key   text PRIMARY KEY,
		value text NOT NULL
	)`,
}

// pgSchemaName is the name pgdb.Migrate records the schema version under.
const pgSchemaName = "evidencelog"

// Defaults of PostgresOptions.
const (
	DefaultPostgresWriteTimeout = 30 * time.Second
	// maxBatchBytes bounds the record bytes of one append transaction
	// (at least one record is always taken).
	maxBatchBytes = 16 << 20
	// pgRetries is how many times a batch is tried again when its
	// transaction failed before COMMIT was sent (so nothing of it is in the
	// log): a pooled connection the server closed, a failover.
	pgRetries = 2
	// sizeTimeout bounds the head read of Size, which takes no context.
	sizeTimeout = 5 * time.Second
)

// PostgresOptions configure a Postgres log.
type PostgresOptions struct {
	// KeyFile is the path of the log's note private key
	// (PRIVATE+KEY+name+hash+key, mode 0600): the format Open keeps as
	// log.key, and CreateKeyFile writes. Every replica must be given the
	// same key; it is never stored in PostgreSQL. Exactly one of KeyFile
	// and Signer is required.
	KeyFile string
	// Signer signs checkpoints instead of a key file (a key held in a KMS,
	// say), with VerifierKey its note verifier key (name+hash+base64).
	Signer      note.Signer
	VerifierKey string
	// ReadOnly opens an existing log to read and verify it (provost trail
	// verify), with no private key: nothing is written, not even the
	// schema; Append fails with ErrReadOnly and Checkpoint and Receipt
	// serve only checkpoints stored by the replicas. The verifier key is
	// VerifierKey when set, else the public half of KeyFile when set, else
	// the one pinned in the database; either of the first two must be the
	// pinned key (ErrUnknownKey). Signer must not be set.
	ReadOnly bool
	// Name, when set, must be the key's name: the log's origin line.
	Name string
	// MaxRecordSize bounds one record, in bytes. Default DefaultMaxRecordSize.
	MaxRecordSize int
	// MaxBatch bounds the records one append transaction commits.
	// Default DefaultMaxBatch.
	MaxBatch int
	// MaxPending bounds the records queued in this replica and not yet
	// committed; Append waits for room. Default DefaultMaxPending.
	MaxPending int
	// CheckpointInterval, when positive, lets Checkpoint serve the newest
	// stored checkpoint (signed by any replica) while it is younger than
	// this, by the database's clock, even if the log grew since: every
	// replica together then signs about once per interval. Receipt still
	// signs a new checkpoint when none covers its record. 0 (the default)
	// signs whenever the log grew, as Log does.
	CheckpointInterval time.Duration
	// WriteTimeout bounds one append transaction. Default
	// DefaultPostgresWriteTimeout.
	WriteTimeout time.Duration
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
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
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultPostgresWriteTimeout
	}
	return o
}

// Postgres is an evidence log in a PostgreSQL database that any number of
// Provost replicas append to at once: one log, one tree, dense indexes, one
// signing key. It hashes, signs and proves exactly as Log does, so its
// checkpoints, proofs and receipts verify with the same code, and a receipt
// made by one replica verifies with the verifier key of any other.
//
// Append is durable: it returns once its record, its tree hashes and the
// new tree head are committed in one transaction, so an answered decision's
// record survives the death of the replica that answered it. Within a
// replica, one writer goroutine commits in one transaction every record
// queued by the time it holds the lock on evidence_head (group commit);
// across replicas, the transactions are serialised by that row lock, so a
// replica that waited for it commits all it queued meanwhile at once. A
// transaction takes two round trips (BEGIN with the lock; the writes with
// COMMIT), so the lock is held for one round trip and the WAL flush.
//
// A transaction that fails before COMMIT is tried again (twice) on another
// connection; if it still fails, the Appends of its batch fail (their
// decisions fail closed) and the next batch tries afresh: all the log's
// state is in the database, so, unlike Log, a replica goes on after a
// failed commit or a database failover. A commit whose outcome is unknown
// (the connection died after COMMIT was sent) fails its Appends, yet may
// have logged their records: the indexes are then taken, and the log stays
// dense and verifiable.
//
// The pool belongs to the caller, who closes it after the log. All methods
// are safe for concurrent use.
type Postgres struct {
	pool     *pgxpool.Pool
	opts     PostgresOptions
	signer   note.Signer
	verifier note.Verifier
	vkey     string

	known    atomic.Int64 // the largest committed size this replica saw
	commits  atomic.Int64 // transactions committed by this replica
	failures atomic.Int64 // batches that failed
	retries  atomic.Int64 // transactions tried again after failing before COMMIT

	mu         sync.Mutex
	queue      []*pgPending
	closed     bool
	enqueued   int64         // records ever queued
	resolved   int64         // records committed or failed, in queue order
	resolvedCh chan struct{} // closed and replaced after each batch

	wake  chan struct{} // cap 1: the queue is not empty
	quit  chan struct{} // closed by Close
	done  chan struct{} // closed when the writer has drained and exited
	slots chan struct{} // one per queued record, bounds the queue

	ckMu   sync.Mutex       // serialises checkpoint signing in this replica
	latest storedCheckpoint // the newest verified checkpoint this replica saw

	closeOnce sync.Once
}

// pgPending is a record queued for the writer.
type pgPending struct {
	record []byte
	hash   tlog.Hash
	done   chan pgResult // cap 1
}

type pgResult struct {
	index int64
	err   error
}

// OpenPostgres opens the evidence log in the database pool connects to,
// creating its tables on first start (pgdb.Migrate: replicas starting
// together do not race). The first replica pins the log's verifier key in
// the database; a replica with another key is refused (ErrUnknownKey). As
// Open does, it refuses a database smaller than, or inconsistent with, the
// newest checkpoint stored in it (ErrRolledBack, ErrInconsistent).
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) (*Postgres, error) {
	if pool == nil {
		return nil, errors.New("evidencelog: open postgres: nil pool")
	}
	opts = opts.withDefaults()
	if opts.ReadOnly {
		return openPostgresReadOnly(ctx, pool, opts)
	}
	signer, vkey, err := pgSigner(opts)
	if err != nil {
		return nil, err
	}
	name := signer.Name()
	if opts.Name != "" && opts.Name != name {
		return nil, fmt.Errorf("evidencelog: log name %q differs from the name %q of its signing key", opts.Name, name)
	}
	if !validName(name) {
		return nil, fmt.Errorf("evidencelog: log name %q: want 1 to %d characters, no spaces or '+'", name, maxNameLen)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, problem(ErrBadVerifierKey, -1, "%q: %v", vkey, err)
	}
	p := &Postgres{
		pool: pool, opts: opts, signer: signer, verifier: verifier, vkey: vkey,
		resolvedCh: make(chan struct{}),
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		slots:      make(chan struct{}, opts.MaxPending),
	}
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// openPostgresReadOnly opens the log for OpenPostgres with opts.ReadOnly.
func openPostgresReadOnly(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) (*Postgres, error) {
	if opts.Signer != nil {
		return nil, errors.New("evidencelog: open postgres read-only: give no Signer")
	}
	v, err := pgdb.Version(ctx, pool, pgSchemaName)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	switch {
	case v == 0:
		return nil, errors.New("evidencelog: open postgres read-only: there is no evidence log in this database (no replica has opened it yet)")
	case v < len(pgSchema):
		return nil, fmt.Errorf("evidencelog: open postgres read-only: the log's schema is at version %d of %d: start a replica of this version first", v, len(pgSchema))
	case v > len(pgSchema):
		return nil, fmt.Errorf("evidencelog: open postgres read-only: the log's schema is at version %d, newer than this build's %d", v, len(pgSchema))
	}
	var pinned string
	if err := pool.QueryRow(ctx, `SELECT value FROM evidence_meta WHERE key = 'verifier_key'`).Scan(&pinned); err != nil {
		return nil, fmt.Errorf("evidencelog: read pinned verifier key: %w", err)
	}
	vkey := pinned
	switch {
	case opts.VerifierKey != "":
		vkey = opts.VerifierKey
	case opts.KeyFile != "":
		skey, err := readKey(opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("evidencelog: signing key: %w", err)
		}
		if vkey, err = verifierKey(skey); err != nil {
			return nil, fmt.Errorf("evidencelog: %s: %w", opts.KeyFile, err)
		}
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, problem(ErrBadVerifierKey, -1, "%q: %v", vkey, err)
	}
	if vkey != pinned {
		return nil, problem(ErrUnknownKey, -1, "the verifier key (%s) is not the key this log was created with (%s)", vkey, pinned)
	}
	if opts.Name != "" && opts.Name != verifier.Name() {
		return nil, fmt.Errorf("evidencelog: log name %q differs from the name %q of its key", opts.Name, verifier.Name())
	}
	p := &Postgres{
		pool: pool, opts: opts, verifier: verifier, vkey: vkey,
		resolvedCh: make(chan struct{}),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	close(p.done) // no writer
	if _, err := p.readSize(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// pgSigner returns the signer the options name and its verifier key.
func pgSigner(opts PostgresOptions) (note.Signer, string, error) {
	switch {
	case opts.KeyFile != "" && opts.Signer != nil:
		return nil, "", errors.New("evidencelog: give KeyFile or Signer, not both")
	case opts.KeyFile != "":
		skey, err := readKey(opts.KeyFile)
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return nil, "", fmt.Errorf("evidencelog: signing key: %w", err)
		}
		if err != nil {
			return nil, "", err
		}
		signer, err := note.NewSigner(skey)
		if err != nil {
			return nil, "", fmt.Errorf("evidencelog: %s is not a note private key (PRIVATE+KEY+name+hash+key)", opts.KeyFile)
		}
		vkey, err := verifierKey(skey)
		if err != nil {
			return nil, "", fmt.Errorf("evidencelog: %s: %w", opts.KeyFile, err)
		}
		return signer, vkey, nil
	case opts.Signer != nil:
		v, err := note.NewVerifier(opts.VerifierKey)
		if err != nil {
			return nil, "", problem(ErrBadVerifierKey, -1, "VerifierKey %q: %v", opts.VerifierKey, err)
		}
		// The verifier must check what the signer signs.
		probe := []byte("provost evidencelog key check\n")
		sig, err := opts.Signer.Sign(probe)
		if err != nil {
			return nil, "", fmt.Errorf("evidencelog: signer: %w", err)
		}
		if v.Name() != opts.Signer.Name() || v.KeyHash() != opts.Signer.KeyHash() || !v.Verify(probe, sig) {
			return nil, "", problem(ErrUnknownKey, -1, "VerifierKey %s does not verify what the signer %s+%08x signs",
				opts.VerifierKey, opts.Signer.Name(), opts.Signer.KeyHash())
		}
		return opts.Signer, opts.VerifierKey, nil
	default:
		return nil, "", errors.New("evidencelog: open postgres: a signing key is required (KeyFile or Signer): " +
			"every replica signs the log's checkpoints with the same key")
	}
}

// CreateKeyFile writes a new note private key named name to path (mode
// 0600), for PostgresOptions.KeyFile, and returns its verifier key. When
// path exists, it reads the key there instead, which must have that name.
// Copy the file to every replica; keep it out of the database.
func CreateKeyFile(path, name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("evidencelog: log name %q: want 1 to %d characters, no spaces or '+'", name, maxNameLen)
	}
	skey, err := createKey(filepath.Dir(path), path, name)
	if err != nil {
		return "", err
	}
	if n := keyName(skey); n != name {
		return "", fmt.Errorf("evidencelog: %s holds the key of log %q, not %q", path, n, name)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return "", fmt.Errorf("evidencelog: %s: %w", path, err)
	}
	return vkey, nil
}

func (p *Postgres) init(ctx context.Context) error {
	if err := pgdb.Migrate(ctx, p.pool, pgSchemaName, pgSchema); err != nil {
		return fmt.Errorf("evidencelog: %w", err)
	}
	// Two statements: the SELECT's snapshot follows the INSERT, which waits
	// for a replica pinning its key at the same moment.
	if _, err := p.pool.Exec(ctx, `INSERT INTO evidence_meta (key, value) VALUES ('verifier_key', $1)
		ON CONFLICT (key) DO NOTHING`, p.vkey); err != nil {
		return fmt.Errorf("evidencelog: pin verifier key: %w", err)
	}
	var pinned string
	if err := p.pool.QueryRow(ctx, `SELECT value FROM evidence_meta WHERE key = 'verifier_key'`).Scan(&pinned); err != nil {
		return fmt.Errorf("evidencelog: read pinned verifier key: %w", err)
	}
	if pinned != p.vkey {
		return problem(ErrUnknownKey, -1, "the signing key (%s) is not the key this log was created with (%s)", p.vkey, pinned)
	}
	// One statement, one snapshot: other replicas may be appending.
	var (
		size, leaves int64
		signed       []byte
	)
	err := p.pool.QueryRow(ctx, `SELECT h.size, (SELECT COALESCE(max(idx) + 1, 0) FROM evidence_leaf),
			(SELECT note FROM evidence_checkpoint ORDER BY size DESC LIMIT 1)
		FROM evidence_head h`).Scan(&size, &leaves, &signed)
	if err != nil {
		return fmt.Errorf("evidencelog: read tree head: %w", err)
	}
	p.sawSize(size)
	if leaves != size {
		return problem(ErrRecordMissing, min(leaves, size), "the tree head says %d records, the records end at %d", size, leaves)
	}
	if signed == nil {
		return nil
	}
	// The newest stored checkpoint must be of this log, no larger than it,
	// and have its root at its size.
	c, err := openCheckpoint(signed, p.verifier)
	if err != nil {
		return fmt.Errorf("evidencelog: refusing to open the log: newest stored checkpoint: %w", err)
	}
	if err := p.checkRoot(ctx, c, size); err != nil {
		return fmt.Errorf("evidencelog: refusing to open the log: %w", err)
	}
	p.latest = storedCheckpoint{size: c.Size, root: c.Root, note: signed}
	return nil
}

// readSize reads the size in the tree head and notes it.
func (p *Postgres) readSize(ctx context.Context) (int64, error) {
	var n int64
	if err := p.pool.QueryRow(ctx, `SELECT size FROM evidence_head`).Scan(&n); err != nil {
		return 0, fmt.Errorf("evidencelog: read tree head: %w", err)
	}
	p.sawSize(n)
	return n, nil
}

// sawSize raises known to n.
func (p *Postgres) sawSize(n int64) {
	for {
		k := p.known.Load()
		if n <= k || p.known.CompareAndSwap(k, n) {
			return
		}
	}
}

// sizeAtLeast returns the committed size, reading the head only when the
// size this replica last saw is below want (other replicas may have grown
// the log since).
func (p *Postgres) sizeAtLeast(ctx context.Context, want int64) (int64, error) {
	if n := p.known.Load(); n >= want {
		return n, nil
	}
	return p.readSize(ctx)
}

// Size is the number of records committed to the log by every replica: it
// reads the tree head (bounded by a few seconds; on failure it returns the
// largest size this replica saw).
func (p *Postgres) Size() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), sizeTimeout)
	defer cancel()
	n, err := p.readSize(ctx)
	if err != nil {
		return p.known.Load()
	}
	return n
}

// Durable reports true: Append returns once its record is committed.
func (p *Postgres) Durable() bool { return true }

// Name is the log's origin line and key name.
func (p *Postgres) Name() string { return p.verifier.Name() }

// VerifierKey is the log's public key as a note verifier key: the same in
// every replica.
func (p *Postgres) VerifierKey() string { return p.vkey }

// PostgresStats are this replica's counters, for metrics.
type PostgresStats struct {
	Size     int64 // the largest committed size this replica saw
	Pending  int64 // records queued here, not yet committed or failed
	Commits  int64 // append transactions this replica committed
	Failures int64 // batches whose transaction failed
	Retries  int64 // transactions tried again after failing before COMMIT
}

// Stats returns this replica's counters.
func (p *Postgres) Stats() PostgresStats {
	p.mu.Lock()
	pending := p.enqueued - p.resolved
	p.mu.Unlock()
	return PostgresStats{Size: p.known.Load(), Pending: pending, Commits: p.commits.Load(),
		Failures: p.failures.Load(), Retries: p.retries.Load()}
}

// Append adds record to the log and returns its index and leaf hash, once
// the record is committed. Concurrent Appends in one replica share a
// transaction. If ctx ends first, Append returns its error and the record
// may or may not be in the log.
func (p *Postgres) Append(ctx context.Context, record []byte) (Entry, error) {
	if p.opts.ReadOnly {
		return Entry{}, problem(ErrReadOnly, -1, "append")
	}
	if len(record) > p.opts.MaxRecordSize {
		return Entry{}, problem(ErrRecordTooLarge, -1, "%d bytes, at most %d", len(record), p.opts.MaxRecordSize)
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("evidencelog: append: waiting for room in the queue: %w", ctx.Err())
	}
	rec := bytes.Clone(record)
	if rec == nil {
		rec = []byte{}
	}
	pd := &pgPending{record: rec, hash: tlog.RecordHash(rec), done: make(chan pgResult, 1)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return Entry{}, problem(ErrClosed, -1, "append")
	}
	p.queue = append(p.queue, pd)
	p.enqueued++
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-pd.done:
		if r.err != nil {
			return Entry{}, r.err
		}
		return Entry{Index: r.index, LeafHash: pd.hash}, nil
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("evidencelog: append: %w (the record may still be committed)", ctx.Err())
	}
}

// Flush waits until every Append called before it has been committed or
// has failed (and returned its error to its caller). Append is durable, so
// there is nothing else to wait for.
func (p *Postgres) Flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.enqueued
	p.mu.Unlock()
	for {
		p.mu.Lock()
		resolved, ch := p.resolved, p.resolvedCh
		p.mu.Unlock()
		if resolved >= target {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close commits the queued records and stops the writer; further Appends
// fail with ErrClosed, the read methods go on answering while the pool is
// open. It is safe to call more than once.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.quit)
		<-p.done
	})
	return nil
}

// run is this replica's single writer.
func (p *Postgres) run() {
	defer close(p.done)
	for {
		select {
		case <-p.wake:
		case <-p.quit:
			p.drain()
			return
		}
		p.drain()
	}
}

// drain commits the queue until it is empty.
func (p *Postgres) drain() {
	for {
		p.mu.Lock()
		empty := len(p.queue) == 0
		p.mu.Unlock()
		if empty {
			return
		}
		batch, first, err := p.commit()
		if err != nil {
			p.failures.Add(1)
			err = problem(ErrWriteFailed, -1, "a batch of %d records: %v", len(batch), err)
		}
		for i, pd := range batch {
			pd.done <- pgResult{index: first + int64(i), err: err}
			<-p.slots
		}
		p.mu.Lock()
		p.resolved += int64(len(batch))
		close(p.resolvedCh)
		p.resolvedCh = make(chan struct{})
		p.mu.Unlock()
	}
}

// take removes the next batch from the queue: at most MaxBatch records and
// maxBatchBytes of them, at least one when the queue is not empty.
func (p *Postgres) take() []*pgPending {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.queue) && n < p.opts.MaxBatch && (n == 0 || size+len(p.queue[n].record) <= maxBatchBytes) {
		size += len(p.queue[n].record)
		n++
	}
	batch := p.queue[:n:n]
	p.queue = p.queue[n:]
	if len(p.queue) == 0 {
		p.queue = nil
	}
	return batch
}

// commit commits the next batch in one transaction and returns it and the
// index of its first record, trying again when a transaction failed before
// COMMIT. The batch is taken from the queue once the tree head is locked,
// so a replica that waited for the lock (another replica was committing)
// commits everything queued meanwhile in one transaction. If the lock
// could not be taken, the next batch is failed, so its Appends fail
// closed rather than wait.
func (p *Postgres) commit() ([]*pgPending, int64, error) {
	var batch []*pgPending
	for attempt := 0; ; attempt++ {
		first, unknown, err := p.tryCommit(&batch)
		if err == nil || unknown || attempt == pgRetries {
			if err != nil && batch == nil {
				batch = p.take() // the lock was never taken: fail the next batch
			}
			return batch, first, err
		}
		p.retries.Add(1)
	}
}

// tryCommit is one append transaction, in two round trips: BEGIN and lock
// the head; then, with the batch taken from the queue (unless *taken holds
// one already: a retry) and appended to the frontier, write the records,
// their stored hashes and the new head, and COMMIT. unknown reports a
// failure whose outcome is unknown (the connection died after COMMIT was
// sent): the batch is not tried again.
func (p *Postgres) tryCommit(taken *[]*pgPending) (first int64, unknown bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.WriteTimeout)
	defer cancel()

	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("acquire a connection: %w", err)
	}
	// A connection left inside a transaction (a failure) is closed, not
	// reused, by the pool: the server then rolls the transaction back.
	defer conn.Release()
	c := conn.Conn()

	// BEGIN and the head lock in one round trip.
	var (
		size  int64
		fbuf  []byte
		begin pgx.Batch
	)
	begin.Queue(`BEGIN`)
	begin.Queue(`SELECT size, frontier FROM evidence_head FOR UPDATE`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&size, &fbuf)
	})
	if err := c.SendBatch(ctx, &begin).Close(); err != nil {
		return 0, false, fmt.Errorf("lock the tree head: %w", err)
	}
	f, err := decodeFrontier(size, fbuf)
	if err != nil {
		return 0, false, err
	}
	if *taken == nil {
		*taken = p.take()
	}
	batch := *taken
	n := len(batch)
	idx := make([]int64, n)
	leaves := make([][]byte, n)
	recs := make([][]byte, n)
	ids := make([]int64, 0, 2*n+8)
	hashes := make([][]byte, 0, 2*n+8)
	for i, pd := range batch {
		hs, err := f.append(pd.hash)
		if err != nil {
			return 0, false, err
		}
		idx[i], leaves[i], recs[i] = size+int64(i), pd.hash[:], pd.record
		id := tlog.StoredHashIndex(0, size+int64(i))
		for j := range hs {
			ids = append(ids, id+int64(j))
			hashes = append(hashes, hs[j][:])
		}
	}
	root, err := f.root()
	if err != nil {
		return 0, false, err
	}
	var writes pgx.Batch
	writes.Queue(`INSERT INTO evidence_leaf (idx, hash, record)
		SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`, idx, leaves, recs)
	writes.Queue(`INSERT INTO evidence_hash (id, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, ids, hashes)
	// The head moves from the size locked: 1/0, an error that makes the
	// server skip COMMIT, should it ever not be there (the row lock and the
	// records' primary key already exclude that).
	writes.Queue(`WITH moved AS (
			UPDATE evidence_head SET size = $1, root = $2, frontier = $3 WHERE size = $4 RETURNING 1)
		SELECT 1 / count(*) FROM moved`, f.size, root[:], encodeFrontier(&f), size)
	// COMMIT in the same round trip: the lock is held for one round trip
	// and the WAL flush after it is granted. If a statement before it fails,
	// the server skips the rest, COMMIT included.
	committed := false
	writes.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("COMMIT answered %q", tag.String())
		}
		committed = true
		return nil
	})
	err = c.SendBatch(ctx, &writes).Close()
	if !committed {
		// A statement's own error means the server skipped what followed
		// (COMMIT) or refused COMMIT, and an error before sending means
		// nothing was sent: nothing of the batch is in the log. Any other
		// failure leaves the outcome unknown.
		var (
			pgErr *pgconn.PgError
			pre   pgx.ErrPreprocessingBatch
		)
		unknown := !errors.As(err, &pgErr) && !errors.As(err, &pre) && !pgconn.SafeToRetry(err)
		if err == nil {
			err = errors.New("the transaction did not end with COMMIT")
		}
		return 0, unknown, fmt.Errorf("write records %d to %d: %w", size, f.size-1, err)
	}
	// Committed: a later error concerns only the connection, which the
	// pool then drops.
	p.commits.Add(1)
	p.sawSize(f.size)
	return size, false, nil
}

// encodeFrontier is the frontier as stored in evidence_head: the hash of
// each level, level 0 first, for the levels a tree of its size has.
func encodeFrontier(f *frontier) []byte {
	levels := bits.Len64(uint64(f.size))
	out := make([]byte, 0, levels*tlog.HashSize)
	for l := range levels {
		out = append(out, f.hashes[l][:]...)
	}
	return out
}

func decodeFrontier(size int64, b []byte) (frontier, error) {
	f := frontier{size: size}
	levels := bits.Len64(uint64(size))
	if size < 0 || len(b) != levels*tlog.HashSize {
		return f, problem(ErrTreeCorrupt, size, "the tree head's frontier has %d bytes, a tree of size %d needs %d",
			len(b), size, levels*tlog.HashSize)
	}
	for l := range levels {
		copy(f.hashes[l][:], b[l*tlog.HashSize:])
	}
	return f, nil
}

// pgHashes is a tlog.HashReader over evidence_hash.
type pgHashes struct {
	ctx  context.Context
	pool pgQuerier
}

// pgQuerier is a pool or a transaction.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (r pgHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := r.pool.Query(r.ctx, `SELECT id, hash FROM evidence_hash WHERE id = ANY($1)`, indexes)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: read tree hashes: %w", err)
	}
	defer rows.Close()
	return scanHashes(rows, indexes)
}

func (p *Postgres) hashReader(ctx context.Context) tlog.HashReader { return pgHashes{ctx, p.pool} }

// Checkpoint returns a signed checkpoint of the log as every replica
// shares it: the newest stored one when it is of the current tree (or,
// with CheckpointInterval, younger than that), else a new one, signed
// here with the log's key and stored for every replica. Before signing, the
// replica recomputes the root from the stored tree hashes and checks that
// the tree extends the newest stored checkpoint (a consistency proof), so
// it never signs a rewritten log. Two replicas that sign the same tree
// sign the same bytes (Ed25519 signatures are deterministic).
func (p *Postgres) Checkpoint(ctx context.Context) ([]byte, error) {
	ck, err := p.checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(ck.note), nil
}

// checkpoint returns a checkpoint of at least need records (see Checkpoint).
func (p *Postgres) checkpoint(ctx context.Context, need int64) (storedCheckpoint, error) {
	p.ckMu.Lock()
	defer p.ckMu.Unlock()
	var (
		size   int64
		hroot  []byte
		signed []byte
		fresh  bool
	)
	err := p.pool.QueryRow(ctx, `SELECT h.size, h.root, c.note, COALESCE(c.created_at > now() - $1 * interval '1 microsecond', false)
		FROM evidence_head h
		LEFT JOIN LATERAL (SELECT note, created_at FROM evidence_checkpoint ORDER BY size DESC LIMIT 1) c ON true`,
		p.opts.CheckpointInterval.Microseconds()).Scan(&size, &hroot, &signed, &fresh)
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: read tree head: %w", err)
	}
	p.sawSize(size)
	headRoot, err := toHash(hroot)
	if err != nil {
		return storedCheckpoint{}, problem(ErrTreeCorrupt, -1, "tree head root: %v", err)
	}
	if need > size {
		return storedCheckpoint{}, problem(ErrOutOfRange, need-1, "no committed record %d (log size %d)", need-1, size)
	}
	var latest storedCheckpoint
	if signed != nil {
		c, err := openCheckpoint(signed, p.verifier)
		if err != nil {
			return storedCheckpoint{}, fmt.Errorf("evidencelog: newest stored checkpoint: %w", err)
		}
		if c.Size > size {
			return storedCheckpoint{}, problem(ErrRolledBack, c.Size, "a checkpoint of size %d was issued, the log has %d records", c.Size, size)
		}
		latest = storedCheckpoint{size: c.Size, root: c.Root, note: signed}
	}
	// What this replica saw must still be there: a database put back from
	// an older copy would otherwise be signed again.
	if p.latest.note != nil && (latest.note == nil || latest.size < p.latest.size) {
		return storedCheckpoint{}, problem(ErrRolledBack, p.latest.size,
			"this replica saw a checkpoint of size %d, the newest stored one has %d records", p.latest.size, latest.size)
	}
	if latest.note != nil && (latest.size == size || fresh && p.opts.CheckpointInterval > 0 && latest.size >= need) {
		p.latest = latest
		return latest, nil
	}
	if p.opts.ReadOnly {
		// No key to sign with: the newest stored checkpoint, if it covers need.
		if latest.note == nil || latest.size < need {
			return storedCheckpoint{}, problem(ErrReadOnly, -1,
				"no stored checkpoint covers %d records, and a read-only log signs none", need)
		}
		p.latest = latest
		return latest, nil
	}
	root, err := tlog.TreeHash(size, p.hashReader(ctx))
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: tree hash at size %d: %w", size, err)
	}
	if root != headRoot {
		return storedCheckpoint{}, problem(ErrTreeCorrupt, size, "the tree head's root %s is not the root of the stored tree hashes, %s", headRoot, root)
	}
	if latest.note != nil && latest.size > 0 {
		pf, err := tlog.ProveTree(size, latest.size, p.hashReader(ctx))
		if err != nil {
			return storedCheckpoint{}, fmt.Errorf("evidencelog: consistency proof: %w", err)
		}
		if err := tlog.CheckTree(pf, size, root, latest.size, latest.root); err != nil {
			return storedCheckpoint{}, problem(ErrInconsistent, latest.size,
				"the tree of size %d does not extend the checkpoint of size %d", size, latest.size)
		}
	}
	body := formatCheckpoint(Checkpoint{Origin: p.verifier.Name(), Size: size, Root: root})
	signed, err = note.Sign(&note.Note{Text: body}, p.signer)
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: sign checkpoint: %w", err)
	}
	if _, err := p.pool.Exec(ctx, `INSERT INTO evidence_checkpoint (size, root, note) VALUES ($1, $2, $3)
		ON CONFLICT (size) DO NOTHING`, size, root[:], signed); err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: store checkpoint: %w", err)
	}
	p.latest = storedCheckpoint{size: size, root: root, note: signed}
	return p.latest, nil
}

// VerifyCheckpoint checks a checkpoint obtained elsewhere (a receipt, a
// client, a witness) against the log, as Log.VerifyCheckpoint does.
func (p *Postgres) VerifyCheckpoint(ctx context.Context, signed []byte) error {
	c, err := openCheckpoint(signed, p.verifier)
	if err != nil {
		return err
	}
	size, err := p.sizeAtLeast(ctx, c.Size)
	if err != nil {
		return err
	}
	return p.checkRoot(ctx, c, size)
}

// checkRoot checks c against the log of size records.
func (p *Postgres) checkRoot(ctx context.Context, c Checkpoint, size int64) error {
	if c.Size > size {
		return problem(ErrRolledBack, c.Size, "a checkpoint of size %d was issued, the log has %d records", c.Size, size)
	}
	root, err := tlog.TreeHash(c.Size, p.hashReader(ctx))
	if err != nil {
		return fmt.Errorf("evidencelog: tree hash at size %d: %w", c.Size, err)
	}
	if root != c.Root {
		return problem(ErrInconsistent, c.Size, "the checkpoint of size %d has root %s, the log's tree at that size has %s",
			c.Size, c.Root, root)
	}
	return nil
}

// InclusionProof proves that the record at index is in the tree of the
// given size (an RFC 6962 audit path): 0 <= index < size <= Size().
func (p *Postgres) InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error) {
	if index < 0 || index >= size {
		return nil, problem(ErrOutOfRange, index, "inclusion of record %d in a tree of size %d", index, size)
	}
	n, err := p.sizeAtLeast(ctx, size)
	if err != nil {
		return nil, err
	}
	if size > n {
		return nil, problem(ErrOutOfRange, index, "inclusion of record %d in a tree of size %d (log size %d)", index, size, n)
	}
	pf, err := tlog.ProveRecord(size, index, p.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("evidencelog: inclusion proof: %w", err)
	}
	return pf, nil
}

// ConsistencyProof proves that the tree of size old is a prefix of the tree
// of size new: 0 <= old <= new <= Size(). It is empty when old is 0 or
// old == new.
func (p *Postgres) ConsistencyProof(ctx context.Context, old, new int64) ([]tlog.Hash, error) {
	if old < 0 || old > new {
		return nil, problem(ErrOutOfRange, old, "consistency of size %d with size %d", old, new)
	}
	n, err := p.sizeAtLeast(ctx, new)
	if err != nil {
		return nil, err
	}
	if new > n {
		return nil, problem(ErrOutOfRange, old, "consistency of size %d with size %d (log size %d)", old, new, n)
	}
	if old == 0 {
		return []tlog.Hash{}, nil
	}
	pf, err := tlog.ProveTree(new, old, p.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("evidencelog: consistency proof: %w", err)
	}
	return pf, nil
}

// Entries returns the records with indexes in [start, end), at most
// MaxEntries of them and none past the committed size: callers check len
// of the result.
func (p *Postgres) Entries(ctx context.Context, start, end int64) ([][]byte, error) {
	if start < 0 || end < start {
		return nil, problem(ErrOutOfRange, start, "entries [%d, %d)", start, end)
	}
	end = min(end, start+MaxEntries)
	out := make([][]byte, 0, min(end-start, 64))
	if start == end {
		return out, nil
	}
	// Records are visible only once committed, with the head that counts them.
	rows, err := p.pool.Query(ctx, `SELECT idx, record FROM evidence_leaf WHERE idx >= $1 AND idx < $2 ORDER BY idx`, start, end)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: read entries: %w", err)
	}
	defer rows.Close()
	if out, err = scanEntries(rows, start, out); err != nil {
		return nil, err
	}
	if got := start + int64(len(out)); got < end {
		// Fewer than asked: the end of the log, or a hole in it.
		n, err := p.sizeAtLeast(ctx, got+1)
		if err != nil {
			return nil, err
		}
		if got < n {
			return nil, problem(ErrRecordMissing, got, "record %d is missing", got)
		}
	}
	p.sawSize(start + int64(len(out)))
	return out, nil
}

// Receipt returns the proof that the record at index is in the log: the
// record, a signed checkpoint that covers it (a new one is signed when none
// does yet) and the inclusion proof in that checkpoint's tree. It verifies
// with VerifyReceipt and the verifier key of any replica.
func (p *Postgres) Receipt(ctx context.Context, index int64) (Receipt, error) {
	if index < 0 {
		return Receipt{}, problem(ErrOutOfRange, index, "no record %d", index)
	}
	p.ckMu.Lock()
	ck := p.latest
	p.ckMu.Unlock()
	return receipt(ctx, p, index, ck)
}
