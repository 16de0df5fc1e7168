//go:build !unix

package evidencelog

import "time"

// processCPU is not available without getrusage.
func processCPU() (d time.Duration, ok bool) { return 0, false }
