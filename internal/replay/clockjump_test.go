package replay

import (
	"context"
	"testing"
	"time"
)

// A clock set hours ahead and then corrected: while it was ahead the cache
// swept a key as expired; once corrected, that key's until is ahead again,
// and Seen must report it as seen (it may be a replay) rather than record
// it afresh. Keys whose until is past everything swept are recorded as
// usual.
func TestMemoryClockForwardThenBack(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryConfig{Now: clock.Now})
	ctx := context.Background()
	window := 65 * time.Second
	t0 := clock.Now()
	if seen, err := m.Seen(ctx, "proof", t0.Add(window)); seen || err != nil {
		t.Fatalf("first Seen: %v %v", seen, err)
	}

	clock.Advance(2 * time.Hour)
	m.sweepAll(nanos(clock.Now())) // what other keys' Seen calls do, shard by shard
	if m.Len() != 0 {
		t.Fatalf("Len %d after the sweep 2h ahead, want 0", m.Len())
	}

	clock.Advance(-2*time.Hour + 10*time.Second)
	if seen, err := m.Seen(ctx, "proof", t0.Add(window)); !seen || err != nil {
		t.Fatalf("the swept key after the clock came back: seen %v (%v), want true", seen, err)
	}
	if seen, err := m.Seen(ctx, "fresh", clock.Now().Add(2*time.Hour+window)); seen || err != nil {
		t.Fatalf("a key whose until is past all swept: seen %v (%v), want false", seen, err)
	}
	if seen, _ := m.Seen(ctx, "fresh", clock.Now().Add(2*time.Hour+window)); !seen {
		t.Fatal("the fresh key's replay was not caught")
	}
}

// On a clock that only moves forward, sweeping never makes Seen report a
// key it never recorded.
func TestMemoryForgottenNeverOnForwardClock(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(MemoryConfig{Now: clock.Now, MaxEntries: 4})
	ctx := context.Background()
	for i := range 1000 {
		clock.Advance(time.Second)
		key := string(rune('a'+i%26)) + time.Duration(i).String()
		if seen, err := m.Seen(ctx, key, clock.Now().Add(3*time.Second)); seen || err != nil {
			t.Fatalf("key %d: seen %v (%v), want a first sighting", i, seen, err)
		}
	}
}
