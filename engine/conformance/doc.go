// Package conformance is the conformance suite of pa-engine: one test per item of §K of
// /work/shared/reference/zeebe-engine-semantics.md (Zeebe 8.5.8 gateway semantics), run through
// the official Go client against a pa-engine binary built from ./cmd/pa-engine.
//
// The tests carry the build tag "integration":
//
//	go test -tags integration -count=1 -timeout 10m ./engine/conformance/
//
// TestMain builds the engine once, starts one shared engine (fresh data directory) for the tests
// that can share it, and runs them in parallel (-test.parallel defaults to 128 here, so the slow
// items overlap); tests that need a fresh key space, a restart or a backpressure limit start a
// private engine. Rejections are asserted with their gRPC code and full message
// ("Command '<INTENT>' rejected with code '<TYPE>': <reason>"), and effects with the records the
// engine exports to its --records file.
package conformance
