//go:build integration && !linux

package integration

import "syscall"

// childProcAttr: outside Linux, an engine left by a crashed test run must be stopped by hand.
func childProcAttr() *syscall.SysProcAttr { return nil }
