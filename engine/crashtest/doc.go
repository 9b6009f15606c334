// Package crashtest is pa-engine's crash test: a pa-engine binary built from ./cmd/pa-engine
// runs 1,000 process instances (testdata/crash.bpmn: two service tasks, an exclusive gateway,
// a one-second timer on half the instances, a planned JOB_NO_RETRIES incident on one in 50)
// while it is killed with SIGKILL three times at seeded random moments and restarted each time
// on the same data directory and records file. The official Go client creates the instances
// (retrying those refused with UNAVAILABLE) and its JobWorker completes the jobs; both keep a
// ledger of every command they sent and how it was answered.
//
// The verdict comes from the records file the engine exported and from those ledgers, never
// from the engine's word alone: every acknowledged instance completed (or has exactly the
// planned incident), none was lost, no job was completed twice, every acknowledged completion
// is in the records, record positions run 1, 2, 3… without gap or duplicate across the
// restarts, and keys drawn after a restart are higher than every key drawn before it.
//
// The test carries the build tag "integration":
//
//	go test -tags integration -count=1 -v -run TestCrash ./engine/crashtest/
//
// Knobs: PA_CRASH_INSTANCES (default 1000), PA_CRASH_SEED (default: the clock; logged),
// PA_CRASH_CREATE_SECONDS (the creations are spread over this many seconds so that kills
// land among them; default N/100, at least 4), PA_CRASH_STREAM=0 (poll only, no job
// streams), PA_CRASH_ENGINE_BIN (run this pa-engine binary instead of building one),
// PA_CRASH_ENGINE_FLAGS (more engine flags, e.g. "--snapshot-bytes 200000"), PA_CRASH_KEEP=1 (keep the data directory, records and engine log; they are kept
// anyway when the test fails). Results and method: docs/reliability.md, "Engine crash test".
package crashtest
