//go:build unix

package evidencelog

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system, every
// thread included (getrusage RUSAGE_SELF); ok is false where it cannot be read.
func processCPU() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
