package replay

import (
	"testing"
	"time"
)

// A memory cache's horizon is when it was made, to the second, unless the
// configuration names one.
func TestMemorySince(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 7, 400_000_000, time.UTC)
	var m Horizon = NewMemory(MemoryConfig{Now: func() time.Time { return at }})
	if got, want := m.Since(), at.Truncate(time.Second); !got.Equal(want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
	given := time.Unix(0, 0)
	if got := NewMemory(MemoryConfig{Now: func() time.Time { return at }, Since: given}).Since(); !got.Equal(given) {
		t.Fatalf("Since = %v, want %v", got, given)
	}
}
