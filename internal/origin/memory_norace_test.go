//go:build !race

package origin_test

const (
	diffUses       = 800
	diffLearnedCap = true
)
