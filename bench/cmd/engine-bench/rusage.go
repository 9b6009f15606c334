package main

import (
	"syscall"
	"time"
)

// selfCPU is the benchmark process's own user+system CPU so far (getrusage(RUSAGE_SELF)): the
// load generator's cost, measured apart from the engine's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
