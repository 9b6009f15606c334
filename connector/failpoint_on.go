//go:build failpoints

package connector

import (
	"fmt"
	"os"
)

// With -tags failpoints, PA_CONNECTOR_FAILPOINT=NAME makes the worker announce on stderr and
// then block forever at the failpoint NAME, so a test can kill -9 it exactly there.
func init() {
	want := os.Getenv("PA_CONNECTOR_FAILPOINT")
	failpoint = func(name string) {
		if name == want {
			fmt.Fprintf(os.Stderr, "failpoint %s reached\n", name)
			select {}
		}
	}
}
