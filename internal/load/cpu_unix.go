//go:build unix

package load

import (
	"syscall"
	"time"
)

// selfCPU is the CPU time this process has used, user and system, every
// thread included (getrusage RUSAGE_SELF).
func selfCPU() (user, system time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}
