//go:build integration

package integration

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// childProcAttr makes an engine the tests start die with the test binary (SIGKILL when the
// test process ends, even by a panic or a timeout), so no engine outlives a run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// limitOpenFiles sets the RLIMIT_NOFILE of the running process pid (soft and hard) to n.
func limitOpenFiles(pid, n int) error {
	lim := syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_NOFILE),
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// openFiles counts the descriptors process pid has open.
func openFiles(pid int) int {
	entries, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(entries)
}
