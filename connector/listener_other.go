//go:build !unix

package connector

// openFileLimit is unknown outside Unix.
func openFileLimit() uint64 { return 0 }
