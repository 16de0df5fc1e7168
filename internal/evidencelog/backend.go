package evidencelog

import (
	"context"

	"golang.org/x/mod/sumdb/tlog"
)

// Reader is what the /v1/log API and the trail index read from an evidence
// log, whichever backend holds it: the SQLite Log of one data directory or
// the Postgres log every replica shares.
type Reader interface {
	// Checkpoint returns a signed checkpoint of the log.
	Checkpoint(ctx context.Context) ([]byte, error)
	// Name is the log's origin line and key name.
	Name() string
	// VerifierKey is the log's note verifier key.
	VerifierKey() string
	// Size is the number of records in the log.
	Size() int64
	// Entries returns the records with indexes in [start, end).
	Entries(ctx context.Context, start, end int64) ([][]byte, error)
	// InclusionProof proves that the record at index is in the tree of
	// the given size.
	InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error)
	// ConsistencyProof proves that the tree of size old is a prefix of
	// the tree of size new.
	ConsistencyProof(ctx context.Context, old, new int64) ([]tlog.Hash, error)
	// Receipt returns the proof that the record at index is in the log.
	Receipt(ctx context.Context, index int64) (Receipt, error)
}

// Store is an evidence log a running Provost appends its decisions to and
// serves: Reader, plus Append, Close and Durable. Backend-specific methods
// (Log.Verify and Log.Stats, Postgres.Stats) are reached with a type
// switch on the concrete type.
type Store interface {
	Reader
	// Append adds record to the log and returns its index and leaf hash.
	Append(ctx context.Context, record []byte) (Entry, error)
	// Durable reports whether Append returns only once its record is
	// committed.
	Durable() bool
	// Close stops the log's writer.
	Close() error
}

var (
	_ Store = (*Log)(nil)
	_ Store = (*Postgres)(nil)
)
