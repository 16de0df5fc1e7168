package replay

import (
	"context"
	"errors"
	"time"
)

// Cache is a replay cache.
type Cache interface {
	// Seen records key until `until` and reports whether key was already
	// recorded and still live (true means a replay). The check and the
	// record are one atomic step. An error means the answer is unknown and
	// the caller must fail closed.
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// Horizon is implemented by a cache whose memory starts at a point in time
// (one kept in a process's memory starts when the process does). Keys
// recorded before Since were forgotten, so a caller must not trust it to
// catch the replay of anything issued before then.
type Horizon interface {
	Since() time.Time
}

// ErrFull is returned, wrapped in a *reason.Error with code
// reason.ReplayCacheFull, when the cache holds its maximum number of live
// entries and cannot record a new key without forgetting a live one. Callers
// match it with errors.Is and must fail closed.
var ErrFull = errors.New("replay cache is full of live entries")

// ErrEmptyKey is returned for an empty key: there is nothing to record, and a
// caller that passes one has lost the value it meant to check.
var ErrEmptyKey = errors.New("replay cache key is empty")
