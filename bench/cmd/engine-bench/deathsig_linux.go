package main

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the engine die with the benchmark (Ctrl-C, a crash): no stray engines.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
