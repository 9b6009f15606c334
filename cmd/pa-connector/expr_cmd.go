package main

import (
	"fmt"
	"io"
)

// runExpr is the modeler tool `pa-connector expr eval|lint`; filled in by the FEEL work.
func runExpr(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pa-connector expr: not implemented yet")
	return 2
}
