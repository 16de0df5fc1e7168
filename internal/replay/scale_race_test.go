//go:build race

package replay_test

// Under the race detector TestReplayScale runs a quarter of the default
// scaled-down keys, with the same ratio of keys to cap.
const (
	scaleCap  = 1 << 14
	scaleKeys = 10 * scaleCap
)
