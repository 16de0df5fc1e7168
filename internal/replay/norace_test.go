//go:build !race

package replay

const (
	flatTotal = 3_000_000
	flatFirst = 1_000_000
)
