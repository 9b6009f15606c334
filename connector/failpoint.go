package connector

// failpoint marks a place where a crash test stops the worker; it does nothing unless the
// binary is built with -tags failpoints (failpoint_on.go), which only the crash tests do.
var failpoint = func(name string) {}
