//go:build !linux

package main

import "os/exec"

// killWithParent: only Linux can tie a child's life to its parent; elsewhere the benchmark's
// own cleanup stops the engine.
func killWithParent(*exec.Cmd) {}
