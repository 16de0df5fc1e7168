package ssf

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/provost-dev/provost/revocation"
)

// Why a SET ended in the dead-letter record.
const (
	DeadPermanent = "permanent_failure" // the receiver refused it; sending it again would not help
	DeadExhausted = "retries_exhausted" // every attempt failed
	DeadQueueFull = "queue_full"        // the stream's queue was full when it was notified
	DeadClosed    = "closed"            // the transmitter closed before it was delivered
)

// DeadLetter records one SET that was not delivered: to which stream, what
// it announced, and why it failed. It never holds a raw credential (a
// revocation names a credential by its fingerprint), nor the signed SET, nor
// the stream's authorization header.
type DeadLetter struct {
	Time         time.Time       `json:"time"`
	Stream       string          `json:"stream"`   // the stream id
	Endpoint     string          `json:"endpoint"` // scheme, host and path of the receiver
	JTI          string          `json:"jti"`
	Txn          string          `json:"txn,omitempty"`
	Event        string          `json:"event"` // the event type URI
	RevocationID string          `json:"revocation_id,omitempty"`
	Kind         revocation.Kind `json:"kind,omitempty"`
	Value        string          `json:"value,omitempty"`  // fingerprint / jti / subject / issuer
	Issuer       string          `json:"issuer,omitempty"` // scope of a jti or subject revocation
	Why          string          `json:"why"`              // DeadPermanent, DeadExhausted, DeadQueueFull or DeadClosed
	Attempts     int             `json:"attempts"`
	LastStatus   int             `json:"last_status,omitempty"` // the last HTTP status, 0 when none came
	LastError    string          `json:"last_error,omitempty"`  // the receiver's err and description, or the transport error
}

// DeadLetters keeps the dead-letter record.
type DeadLetters interface {
	Record(ctx context.Context, d DeadLetter) error
}

// MemoryDeadLetters is an in-memory DeadLetters that keeps the newest Max
// records.
type MemoryDeadLetters struct {
	mu      sync.Mutex
	max     int
	records []DeadLetter
	dropped uint64
}

// NewMemoryDeadLetters returns a MemoryDeadLetters keeping at most max
// records (1000 when max <= 0).
func NewMemoryDeadLetters(max int) *MemoryDeadLetters {
	if max <= 0 {
		max = 1000
	}
	return &MemoryDeadLetters{max: max}
}

// Record keeps d, forgetting the oldest record when full.
func (m *MemoryDeadLetters) Record(_ context.Context, d DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, d)
	if over := len(m.records) - m.max; over > 0 {
		m.records = append(m.records[:0:0], m.records[over:]...)
		m.dropped += uint64(over)
	}
	return nil
}

// List returns the records kept, oldest first, and how many older ones were
// forgotten.
func (m *MemoryDeadLetters) List() ([]DeadLetter, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]DeadLetter(nil), m.records...), m.dropped
}

// FileDeadLetters appends dead letters to a file as JSON lines (created with
// mode 0600), synced after each record.
type FileDeadLetters struct {
	mu   sync.Mutex
	path string
}

// NewFileDeadLetters returns a FileDeadLetters writing to path.
func NewFileDeadLetters(path string) *FileDeadLetters {
	return &FileDeadLetters{path: path}
}

// Record appends d as one JSON line.
func (f *FileDeadLetters) Record(_ context.Context, d DeadLetter) error {
	line, err := json.Marshal(d)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ssf dead letters: %w", err)
	}
	_, werr := file.Write(append(line, '\n'))
	serr := file.Sync()
	cerr := file.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("ssf dead letters: %w", err)
	}
	return nil
}

// List reads every record in the file, oldest first. A missing file has
// none.
func (f *FileDeadLetters) List() ([]DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssf dead letters: %w", err)
	}
	defer file.Close()
	var out []DeadLetter
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var d DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return out, fmt.Errorf("ssf dead letters: line %d: %w", n, err)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}
