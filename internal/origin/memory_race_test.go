//go:build race

package origin_test

// The SQLite store is about twenty times slower under the race detector,
// and TestMemoryMatchesSQLite runs in one goroutine: under it, fewer uses,
// and MaxLearned eviction is left to TestMemoryLearnedCap and the default
// run.
const (
	diffUses       = 300
	diffLearnedCap = false
)
