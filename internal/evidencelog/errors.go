package evidencelog

import (
	"errors"
	"fmt"
)

// What can be wrong with a log, a checkpoint or a receipt. Every error this
// package returns for such a problem is an *Error wrapping one of these, so
// callers branch with errors.Is and find the index with errors.As.
var (
	// ErrOutOfRange: an index or tree size outside the committed log.
	ErrOutOfRange = errors.New("out of range")
	// ErrRecordTooLarge: a record longer than Options.MaxRecordSize.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("log closed")
	// ErrReadOnly: the log was opened with Options.ReadOnly.
	ErrReadOnly = errors.New("log opened read-only")
	// ErrWriteFailed: a batch could not be committed; the log refuses
	// further appends until it can write again (Log.Err).
	ErrWriteFailed = errors.New("evidence write failed")

	// ErrMalformedReceipt: a receipt that does not parse or is out of bounds.
	ErrMalformedReceipt = errors.New("malformed receipt")
	// ErrMalformedCheckpoint: a signed note or checkpoint body that does not parse.
	ErrMalformedCheckpoint = errors.New("malformed checkpoint")
	// ErrBadVerifierKey: a verifier key string that does not parse.
	ErrBadVerifierKey = errors.New("malformed verifier key")
	// ErrUnknownKey: a checkpoint not signed by the expected key (signed
	// by another key, or by none), or a log key that is not the one the
	// log was created with.
	ErrUnknownKey = errors.New("not signed by the log's key")
	// ErrBadSignature: a signature that names the log's key but does not verify.
	ErrBadSignature = errors.New("bad checkpoint signature")
	// ErrOriginMismatch: a checkpoint whose origin line is not the key's log name.
	ErrOriginMismatch = errors.New("checkpoint origin is not the key's log")
	// ErrNotIncluded: the record is not at the index in the checkpoint's tree.
	ErrNotIncluded = errors.New("record not included in the checkpoint's tree")

	// ErrRecordChanged: a stored record no longer hashes to its leaf.
	ErrRecordChanged = errors.New("record changed")
	// ErrRecordMissing: a record was removed.
	ErrRecordMissing = errors.New("record missing")
	// ErrRecordsReordered: two records swapped places.
	ErrRecordsReordered = errors.New("records reordered")
	// ErrTreeCorrupt: stored tree hashes that do not match the records.
	ErrTreeCorrupt = errors.New("stored tree hashes corrupt")
	// ErrRolledBack: the log is smaller than a checkpoint it issued.
	ErrRolledBack = errors.New("log rolled back")
	// ErrInconsistent: a checkpoint whose tree is not a prefix of the log.
	ErrInconsistent = errors.New("log inconsistent with a checkpoint")
)

// Error is a problem with a log, checkpoint or receipt.
type Error struct {
	Problem error  // one of the Err values of this package
	Index   int64  // the record index or tree size concerned, -1 when none
	Detail  string // what exactly is wrong, in words
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "evidencelog: " + e.Problem.Error()
	}
	return "evidencelog: " + e.Problem.Error() + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Problem }

func problem(p error, index int64, format string, args ...any) *Error {
	return &Error{Problem: p, Index: index, Detail: fmt.Sprintf(format, args...)}
}
