//go:build integration

package integration

import "syscall"

// childProcAttr makes an engine the tests start die with the test binary (SIGKILL when the
// test process ends, even by a panic or a timeout), so no engine outlives a run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
