//go:build race

package replay

// Under the race detector the memory test runs a tenth of the keys; the
// default run covers the full 3 million.
const (
	flatTotal = 300_000
	flatFirst = 100_000
)
