//go:build !unix

package load

import (
	"errors"
	"time"
)

// selfCPU is not available here: `provost bench` needs getrusage.
func selfCPU() (user, system time.Duration, err error) {
	return 0, 0, errors.New("load: the CPU time of a process is read with getrusage, which this system lacks")
}
