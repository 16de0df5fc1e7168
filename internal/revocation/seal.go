package revocation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTampered means the rows of a revocation database do not match its
// seal: rows were added, removed or changed by something other than the
// store (an edit, corruption). An older copy of the whole file carries
// its own valid seal and is not caught here. The store then
// refuses to open, or stops accepting writes, rather than enforce a
// revocation list it cannot vouch for.
var ErrTampered = errors.New("revocation: the database does not match its seal")

// seal is a set digest of the rows: the XOR of one keyed MAC per row, and
// the row count. Adding or removing a row toggles its MAC, so the seal is
// kept current in the same transaction as the row, without rereading the
// table. Without the key (Options.SealKey) a row's MAC cannot be made, so
// a row added, dropped or edited outside the store shows.
type seal struct {
	sum   [sha256.Size]byte
	count int64
}

func (s *seal) toggle(mac [sha256.Size]byte, add bool) {
	for i := range s.sum {
		s.sum[i] ^= mac[i]
	}
	if add {
		s.count++
	} else {
		s.count--
	}
}

// rowMAC is the keyed MAC of one revocation as stored: every column,
// length-prefixed, in schema order.
func rowMAC(key []byte, r Revocation) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	var n [8]byte
	str := func(v string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		m.Write(n[:])
		m.Write([]byte(v))
	}
	num := func(v sql.NullInt64) {
		if !v.Valid {
			m.Write([]byte{0})
			return
		}
		m.Write([]byte{1})
		binary.BigEndian.PutUint64(n[:], uint64(v.Int64))
		m.Write(n[:])
	}
	str(r.ID)
	str(string(r.Kind))
	str(r.Value)
	str(r.Issuer)
	num(toDB(r.IssuedBefore))
	str(r.Reason)
	num(toDB(r.CreatedAt))
	num(toDB(r.ExpiresAt))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// sealOf computes the seal of rows.
func sealOf(key []byte, rows []Revocation) seal {
	var s seal
	for _, r := range rows {
		s.toggle(rowMAC(key, r), true)
	}
	return s
}

// storedSeal reads the seal row; ok is false when there is none yet.
func storedSeal(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (s seal, ok bool, err error) {
	var sum []byte
	err = q.QueryRowContext(ctx, `SELECT digest, count FROM revocation_seal WHERE id = 1`).Scan(&sum, &s.count)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return seal{}, false, nil
	case err != nil:
		return seal{}, false, fmt.Errorf("revocation: read the seal: %w", err)
	case len(sum) != len(s.sum):
		return seal{}, true, fmt.Errorf("%w: the stored seal is %d bytes, not %d", ErrTampered, len(sum), len(s.sum))
	}
	copy(s.sum[:], sum)
	return s, true, nil
}

func writeSeal(ctx context.Context, tx *sql.Tx, s seal) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocation_seal (id, digest, count) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, count = excluded.count`, s.sum[:], s.count)
	if err != nil {
		return fmt.Errorf("revocation: write the seal: %w", err)
	}
	return nil
}

// sealedSince is the schema version that added the seal: a database that
// was at it before this open must have one.
const sealedSince = 4

// checkSeal compares the rows with the stored seal. A database that never
// had a seal (new, or written by a Provost from before seals: mayAdopt) is
// sealed as it is, and the caller learns that from adopted; one that had
// a seal and lost it is ErrTampered.
func (s *SQLite) checkSeal(ctx context.Context, rows []Revocation, mayAdopt bool) (adopted bool, err error) {
	got := sealOf(s.key, rows)
	want, ok, err := storedSeal(ctx, s.db)
	if err != nil {
		return false, err
	}
	if ok {
		if got.count != want.count || !hmac.Equal(got.sum[:], want.sum[:]) {
			return false, fmt.Errorf("%w: %d rows where the seal counts %d, or a row was changed; restore revocations.db from a backup", ErrTampered, got.count, want.count)
		}
		s.seal = got
		return false, nil
	}
	if !mayAdopt {
		return false, fmt.Errorf("%w: the seal row is gone; restore revocations.db from a backup", ErrTampered)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("revocation: seal: %w", err)
	}
	defer tx.Rollback()
	if err := writeSeal(ctx, tx, got); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("revocation: seal: %w", err)
	}
	s.seal = got
	return len(rows) > 0, nil
}

// Verify rereads every row and checks it against the seal, both the one
// stored and the one the store keeps in memory: it catches rows changed in
// the file while the store is open. After ErrTampered, Add and Remove are
// refused until the store is reopened.
func (s *SQLite) Verify(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	rows, err := s.query(ctx, selectAll)
	if err != nil {
		return fmt.Errorf("revocation: verify: %w", err)
	}
	got := sealOf(s.key, rows)
	stored, ok, err := storedSeal(ctx, s.db)
	switch {
	case err != nil && !errors.Is(err, ErrTampered):
		return err
	case err != nil:
		s.broken = err
	case !ok:
		s.broken = fmt.Errorf("%w: the seal row is gone", ErrTampered)
	case got.count != s.seal.count || !hmac.Equal(got.sum[:], s.seal.sum[:]):
		s.broken = fmt.Errorf("%w: %d rows where %d were written, or a row was changed while Provost was running", ErrTampered, got.count, s.seal.count)
	case stored.count != s.seal.count || !hmac.Equal(stored.sum[:], s.seal.sum[:]):
		s.broken = fmt.Errorf("%w: the stored seal was changed while Provost was running", ErrTampered)
	}
	return s.broken
}
