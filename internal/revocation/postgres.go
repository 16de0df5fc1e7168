package revocation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provost-dev/provost/internal/pgdb"
)

// pgSchema is the PostgreSQL revocation schema's migration steps; append,
// never edit. Times are timestamptz, which keeps microseconds, as the SQLite
// store does; NULL means unset. IDs collate as bytes ("C"), so List's order
// (created_at, then id) is the order compareRevocations gives.
var pgSchema = []string{
	`CREATE TABLE revocation (
		id            text COLLATE "C" PRIMARY KEY,
		kind          text NOT NULL,
		value         text NOT NULL,
		issuer        text NOT NULL DEFAULT '',
		issued_before timestamptz,
		reason        text NOT NULL DEFAULT '',
		created_at    timestamptz NOT NULL,
		expires_at    timestamptz
	)`,
	`CREATE INDEX revocation_created ON revocation (created_at, id)`,
	`CREATE INDEX revocation_expires ON revocation (expires_at) WHERE expires_at IS NOT NULL`,
}

const pgColumns = `id, kind, value, issuer, issued_before, reason, created_at, expires_at`

// Postgres is a Store in a PostgreSQL database, for the scale-out
// deployment where several replicas share the revocations. As in the SQLite
// store, Match is answered from an in-memory index loaded at open, and this
// store's own Add and Remove update it before they return. Revocations
// written by other replicas reach the index when Refresh reloads it from the
// table (a revocation fan-out calls Refresh when another replica writes).
//
// The pool belongs to the caller, who closes it after the store.
type Postgres struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// writeMu serialises Add, Remove, purges and Refresh: database then
	// index. Refresh holding it means the rows it reads include every write
	// of this store that has updated the index, so swapping in the reloaded
	// index never drops one of this store's own writes.
	writeMu   sync.Mutex
	lastPurge time.Time // guarded by writeMu

	live liveIndex
}

var _ Store = (*Postgres)(nil)

// OpenPostgres opens the revocation store in the database pool connects to:
// it migrates the schema (pgdb.Migrate, so replicas starting together do
// not race), deletes expired revocations and loads the rest into memory.
// now is the clock; time.Now when nil.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, now func() time.Time) (*Postgres, error) {
	if pool == nil {
		return nil, errors.New("revocation: open postgres: nil pool")
	}
	if now == nil {
		now = time.Now
	}
	if err := pgdb.Migrate(ctx, pool, "revocation", pgSchema); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	p := &Postgres{pool: pool, now: now, live: newLiveIndex()}
	if _, err := p.purge(ctx); err != nil {
		return nil, err
	}
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Close releases what the store holds, which is nothing today: the pool is
// the caller's. It is safe to call more than once. Match keeps answering
// from memory after Close.
func (p *Postgres) Close() error { return nil }

// Refresh reloads the index from the table, so Match sees what other
// replicas added and removed since open or the last Refresh. On error the
// index is left as it was.
func (p *Postgres) Refresh(ctx context.Context) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	all, err := p.query(ctx, `SELECT `+pgColumns+` FROM revocation
		WHERE expires_at IS NULL OR expires_at > $1`, micro(p.now()))
	if err != nil {
		return fmt.Errorf("revocation: refresh: %w", err)
	}
	p.live.replace(all)
	return nil
}

// Add implements Store.
func (p *Postgres) Add(ctx context.Context, r Revocation) (Revocation, error) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	now := p.now()
	id, err := newID()
	if err != nil {
		return Revocation{}, err
	}
	r.ID = id
	r.CreatedAt = micro(now)
	r.IssuedBefore = micro(r.IssuedBefore)
	r.ExpiresAt = micro(r.ExpiresAt)
	if err := r.Validate(); err != nil {
		return Revocation{}, fmt.Errorf("revocation: %w", err)
	}
	if now.Sub(p.lastPurge) >= purgeInterval {
		if _, err := p.purgeLocked(ctx, now); err != nil {
			return Revocation{}, err
		}
	}
	// The row and its announcement are one statement: PostgreSQL delivers
	// the notification when, and only when, the row commits.
	_, err = p.pool.Exec(ctx, `WITH ins AS (INSERT INTO revocation (`+pgColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)
		SELECT pg_notify($9, id) FROM ins`,
		r.ID, string(r.Kind), r.Value, r.Issuer, toPG(r.IssuedBefore), r.Reason, r.CreatedAt, toPG(r.ExpiresAt), Channel)
	if err != nil {
		return Revocation{}, fmt.Errorf("revocation: add: %w", err)
	}
	p.live.add(r)
	return r, nil
}

// Channel is the PostgreSQL notification channel on which every change of
// the revocation table is announced to the other replicas (Follow).
const Channel = "provost_revocations"

// Follow keeps this replica's index in step with the table: it listens on
// Channel and refreshes on every notification, and refreshes anyway every
// reconcile interval so a missed notification heals. It returns when ctx
// ends; connection failures are retried (onErr, when set, hears of each).
func (p *Postgres) Follow(ctx context.Context, reconcile time.Duration, onErr func(error)) {
	report := func(err error) {
		if onErr != nil && err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
	for ctx.Err() == nil {
		report(p.follow(ctx, reconcile, report))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (p *Postgres) follow(ctx context.Context, reconcile time.Duration, report func(error)) error {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("revocation: follow: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("revocation: follow: %w", err)
	}
	// Changes made before LISTEN took effect are read now.
	report(p.refreshWithin(ctx))
	for {
		wctx, cancel := context.WithTimeout(ctx, reconcile)
		_, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && wctx.Err() == nil:
			return fmt.Errorf("revocation: follow: %w", err)
		}
		report(p.refreshWithin(ctx))
	}
}

// refreshTimeout bounds one Refresh of Follow: it holds the write lock, so
// a PostgreSQL that stops answering must not hold Add and Remove with it.
const refreshTimeout = 5 * time.Second

func (p *Postgres) refreshWithin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	return p.Refresh(ctx)
}

// Remove implements Store. A revocation another replica added is removed
// too, even before Refresh has loaded it.
func (p *Postgres) Remove(ctx context.Context, id string) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	// The delete and its announcement are one statement, so the other
	// replicas hear of it exactly when it commits.
	var n int64
	err := p.pool.QueryRow(ctx, `WITH del AS (DELETE FROM revocation WHERE id = $1 RETURNING id)
		SELECT (SELECT count(*) FROM del) FROM (SELECT pg_notify($2, $1)) AS announced`, id, Channel).Scan(&n)
	if err != nil {
		return fmt.Errorf("revocation: remove %s: %w", id, err)
	}
	// Gone from the table either way: if another replica removed it first,
	// forget it here too.
	p.live.remove(id)
	if n == 0 {
		return fmt.Errorf("revocation: remove %q: %w", id, ErrNotFound)
	}
	return nil
}

// List implements Store. It reads the database, not the index, so it shows
// every replica's revocations.
func (p *Postgres) List(ctx context.Context) ([]Revocation, error) {
	list, err := p.query(ctx, `SELECT `+pgColumns+` FROM revocation
		WHERE expires_at IS NULL OR expires_at > $1
		ORDER BY created_at, id`, micro(p.now()))
	if err != nil {
		return nil, fmt.Errorf("revocation: list: %w", err)
	}
	return list, nil
}

// Match implements Store. It does no I/O and allocates only for a match.
func (p *Postgres) Match(_ context.Context, q Query) (*Revocation, error) {
	return p.live.match(q, p.now()), nil
}

// PurgeExpired deletes expired revocations now, and returns how many. Add
// also purges, at most once a minute.
func (p *Postgres) PurgeExpired(ctx context.Context) (int, error) {
	return p.purge(ctx)
}

func (p *Postgres) purge(ctx context.Context) (int, error) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return p.purgeLocked(ctx, p.now())
}

func (p *Postgres) purgeLocked(ctx context.Context, now time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM revocation WHERE expires_at IS NOT NULL AND expires_at <= $1`, micro(now))
	if err != nil {
		return 0, fmt.Errorf("revocation: purge expired: %w", err)
	}
	p.live.dropExpired(now)
	p.lastPurge = now
	return int(tag.RowsAffected()), nil
}

func (p *Postgres) query(ctx context.Context, q string, args ...any) ([]Revocation, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []Revocation
	for rows.Next() {
		var (
			r                     Revocation
			kind                  string
			issuedBefore, expires pgtype.Timestamptz
			created               time.Time
		)
		if err := rows.Scan(&r.ID, &kind, &r.Value, &r.Issuer, &issuedBefore, &r.Reason, &created, &expires); err != nil {
			return nil, err
		}
		r.Kind = Kind(kind)
		r.IssuedBefore = fromPG(issuedBefore)
		r.CreatedAt = micro(created)
		r.ExpiresAt = fromPG(expires)
		list = append(list, r)
	}
	return list, rows.Err()
}

func toPG(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromPG(v pgtype.Timestamptz) time.Time {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		return time.Time{}
	}
	return micro(v.Time)
}
