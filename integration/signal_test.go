//go:build integration

package integration

import "syscall"

var interrupt = syscall.SIGTERM
