// Package evidencelog is Provost's evidence log: an append-only Merkle tree
// of records with RFC 6962 / RFC 9162 hashing (leaf = SHA-256(0x00 ||
// record), node = SHA-256(0x01 || left || right)), signed checkpoints in
// the C2SP tlog-checkpoint format (a C2SP signed note, Ed25519), and
// inclusion and consistency proofs, so that anyone holding the log's
// verifier key can check, with an independent implementation, that a
// record is in the log and that the log was never rewritten.
//
// The tree and note formats come from golang.org/x/mod/sumdb/tlog and
// golang.org/x/mod/sumdb/note. The log lives in an SQLite database
// (evidence.db) in its directory, beside its signing key (log.key, mode
// 0600, created on first start) and its latest checkpoint (checkpoint):
//
//	l, err := evidencelog.Open(ctx, dir, evidencelog.Options{})
//	if err != nil { ... }
//	defer l.Close()
//	e, err := l.Append(ctx, record) // durable: returns once fsynced
//	r, err := l.Receipt(ctx, e.Index)
//	err = evidencelog.VerifyReceipt(r, l.VerifierKey()) // needs only the key
//
// Durability: by default Append returns only after its record is committed
// and the database's write-ahead log fsynced. Concurrent Appends are
// batched by one writer goroutine into one transaction (multi-row INSERTs,
// prepared once) and made durable by one fsync (group commit). A record
// and the tree hashes it adds are written in the same transaction, and
// checkpoints are computed only from fsynced state, so a crash at any
// instant leaves a log that verifies and holds every record whose Append
// returned. Options.Async trades that for latency: Append returns once the
// record is queued, never waiting for an fsync (a background goroutine
// syncs), and a crash loses the queue; Flush waits for it, and Durable
// reports the mode.
// NewMemory returns a log held in memory only, for tests and embedders.
//
// Verify checks a whole log against its stored tree and every checkpoint
// it issued; errors are *Error values wrapping a sentinel (ErrRecordChanged,
// ErrRecordMissing, ErrRecordsReordered, ErrRolledBack, ErrUnknownKey, ...)
// that name what is wrong.
package evidencelog
