package evidencelog

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MemoryName is the name of every Memory log: the origin line of its
// checkpoints and the name of its key. Each Memory log has its own key, so
// its verifier key tells it apart.
const MemoryName = "provost.evidence/memory"

// Memory is an evidence log held in memory only, for tests, examples and
// embedders that want no disk: its records, its tree and its signing key
// (a new Ed25519 key, made by NewMemory) are gone when the process exits.
// It hashes, signs and proves exactly as Log does, so its checkpoints,
// proofs and records verify with the same code. Append returns once the
// record is in the tree: Memory is always Durable, in the only sense it
// can be. All methods are safe for concurrent use.
//
// A record is at most DefaultMaxRecordSize bytes; a longer one is refused
// with ErrRecordTooLarge. The log is append-only, so it only grows: each
// record costs its own length plus about 100 bytes of tree hashes and
// bookkeeping, for as long as the log is kept.
type Memory struct {
	l *memoryLog

	closed bool // guarded by l.mu: Close refuses further Appends
}

// memoryLog is the state that Memory handles made by Reopen share.
type memoryLog struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	maxSize  int

	mu      sync.RWMutex
	records [][]byte    // by index; never changed once appended
	hashes  []tlog.Hash // tlog's stored hashes, by tlog.StoredHashIndex; append-only

	ckMu   sync.Mutex // serialises Checkpoint
	latest storedCheckpoint
}

// NewMemory returns an empty Memory log with a new signing key.
func NewMemory() *Memory {
	skey, vkey, err := note.GenerateKey(rand.Reader, MemoryName)
	if err != nil {
		panic("evidencelog: generate key: " + err.Error()) // crypto/rand does not fail
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		panic("evidencelog: " + err.Error())
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		panic("evidencelog: " + err.Error())
	}
	return &Memory{l: &memoryLog{signer: signer, verifier: verifier, vkey: vkey, maxSize: DefaultMaxRecordSize}}
}

// Reopen returns a new, open Memory over the same records, tree, key and
// checkpoints: what opening the directory of a closed Log again gives.
// Closing one of them does not close the other.
func (m *Memory) Reopen() *Memory { return &Memory{l: m.l} }

// Close refuses every further Append on m with ErrClosed; every record
// appended before is kept, and the read methods go on answering. It is
// safe to call more than once.
func (m *Memory) Close() error {
	m.l.mu.Lock()
	m.closed = true
	m.l.mu.Unlock()
	return nil
}

// Append adds record to the log and returns its index and leaf hash. The
// record is copied: the caller may reuse its buffer. The context is not
// used: Memory does no I/O.
func (m *Memory) Append(_ context.Context, record []byte) (Entry, error) {
	l := m.l
	if len(record) > l.maxSize {
		return Entry{}, problem(ErrRecordTooLarge, -1, "%d bytes, at most %d", len(record), l.maxSize)
	}
	rec := bytes.Clone(record)
	if rec == nil {
		rec = []byte{}
	}
	h := tlog.RecordHash(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.closed {
		return Entry{}, problem(ErrClosed, -1, "append")
	}
	n := int64(len(l.records))
	hs, err := tlog.StoredHashesForRecordHash(n, h, memoryHashes(l.hashes))
	if err != nil {
		return Entry{}, fmt.Errorf("evidencelog: append of record %d: %w", n, err)
	}
	l.hashes = append(l.hashes, hs...)
	l.records = append(l.records, rec)
	return Entry{Index: n, LeafHash: h}, nil
}

// Flush implements what Log.Flush does; Memory has nothing queued.
func (m *Memory) Flush(context.Context) error { return nil }

// Durable reports true: a record is in the log when Append returns.
func (m *Memory) Durable() bool { return true }

// Size is the number of records in the log.
func (m *Memory) Size() int64 {
	m.l.mu.RLock()
	defer m.l.mu.RUnlock()
	return int64(len(m.l.records))
}

// Name is the log's origin line and key name, MemoryName.
func (m *Memory) Name() string { return m.l.verifier.Name() }

// VerifierKey is the log's public key as a note verifier key.
func (m *Memory) VerifierKey() string { return m.l.vkey }

// snapshot returns the records and stored hashes of the log as it is now.
// Both only grow and their elements never change, so the slices stay valid
// to read without the lock.
func (l *memoryLog) snapshot() ([][]byte, memoryHashes) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.records, l.hashes
}

// Checkpoint returns a signed checkpoint of the log as Log.Checkpoint does:
// a new one is signed only when the log grew since the last one.
func (m *Memory) Checkpoint(context.Context) ([]byte, error) {
	l := m.l
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	recs, hashes := l.snapshot()
	size := int64(len(recs))
	if l.latest.note != nil && l.latest.size == size {
		return bytes.Clone(l.latest.note), nil
	}
	root, err := tlog.TreeHash(size, hashes)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: tree hash: %w", err)
	}
	body := formatCheckpoint(Checkpoint{Origin: l.verifier.Name(), Size: size, Root: root})
	signed, err := note.Sign(&note.Note{Text: body}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: sign checkpoint: %w", err)
	}
	l.latest = storedCheckpoint{size: size, root: root, note: signed}
	return bytes.Clone(signed), nil
}

// InclusionProof proves that the record at index is in the tree of the
// given size: 0 <= index < size <= Size().
func (m *Memory) InclusionProof(_ context.Context, index, size int64) ([]tlog.Hash, error) {
	recs, hashes := m.l.snapshot()
	n := int64(len(recs))
	if index < 0 || index >= size || size > n {
		return nil, problem(ErrOutOfRange, index, "inclusion of record %d in a tree of size %d (log size %d)", index, size, n)
	}
	p, err := tlog.ProveRecord(size, index, hashes)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: inclusion proof: %w", err)
	}
	return p, nil
}

// ConsistencyProof proves that the tree of size old is a prefix of the tree
// of size new: 0 <= old <= new <= Size(). It is empty when old is 0 or
// old == new.
func (m *Memory) ConsistencyProof(_ context.Context, old, new int64) ([]tlog.Hash, error) {
	recs, hashes := m.l.snapshot()
	n := int64(len(recs))
	if old < 0 || old > new || new > n {
		return nil, problem(ErrOutOfRange, old, "consistency of size %d with size %d (log size %d)", old, new, n)
	}
	if old == 0 {
		return []tlog.Hash{}, nil
	}
	p, err := tlog.ProveTree(new, old, hashes)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: consistency proof: %w", err)
	}
	return p, nil
}

// Entries returns copies of the records with indexes in [start, end), at
// most MaxEntries of them and none past Size(), as Log.Entries does.
func (m *Memory) Entries(_ context.Context, start, end int64) ([][]byte, error) {
	if start < 0 || end < start {
		return nil, problem(ErrOutOfRange, start, "entries [%d, %d)", start, end)
	}
	recs, _ := m.l.snapshot()
	end = min(end, start+MaxEntries, int64(len(recs)))
	out := make([][]byte, 0, max(end-start, 0))
	for i := start; i < end; i++ {
		out = append(out, bytes.Clone(recs[i]))
	}
	return out, nil
}

// memoryHashes is a tlog.HashReader over a log's stored hashes.
type memoryHashes []tlog.Hash

func (h memoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("evidencelog: stored hash %d is not in a tree of %d stored hashes", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}
