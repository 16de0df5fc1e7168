//go:build !race

package replay_test

// The scaled-down TestReplayScale: ten keys per entry of the cap, as the
// full run (10,000,000 through 1,048,576).
const (
	scaleCap  = 1 << 16
	scaleKeys = 10 * scaleCap
)
