//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 11, item 1: a trigger whose request may have reached Dataverse is answered, before its
// lease ends, with the run or with an incident that says a run may have started; nothing is
// handed back for a blind retry.

// The job's lease (2 s) ends while Dataverse is still answering the trigger (4 s): the worker
// extends the lease while the call lasts and completes the job with the one run. It used to
// drop the job at its deadline, and the redelivered job started a second run.
func TestTriggerOutlivesAShortLease(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "delay": "4s"})
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_JOB_TIMEOUT=2s")
	out := runProcess(t, "single-task", triggerVars(dv, flowOK), 60*time.Second)
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", out["flowSessionId"])
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 1 {
		t.Fatalf("%d RunDesktopFlow calls, want exactly 1", n)
	}
	led.poll()
	if n := led.timedOut[int64(out["__key"].(float64))]; n != 0 {
		t.Fatalf("the job timed out %d times while its trigger was in flight", n)
	}
}

// SIGTERM while Dataverse is answering a trigger (slower than the grace period): the job is
// not handed back with its retries for the next worker to trigger again; it raises an incident
// that says a run may have started, and the worker still exits within the grace period.
func TestShutdownDuringASlowTriggerRaisesAnIncident(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "delay": "30s"})
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_SHUTDOWN_GRACE=1s")
	key := createInstance(t, "single-task", triggerVars(dv, flowOK))
	t.Cleanup(func() { led.cancelUnfinished(zeebe, []int64{key}) })
	// The job is activated; within the 1 s grace its trigger is sent and held by the fault.
	if !led.until(30*time.Second, func() bool { return activatedFor(led, key) }) {
		t.Fatal("the job was not activated")
	}
	stopAt := time.Now()
	w.cmd.Process.Signal(interrupt)
	<-w.done
	if took := time.Since(stopAt); took > 6*time.Second {
		t.Fatalf("the worker took %s to stop with a 1 s grace period", took)
	}
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if !led.until(10*time.Second, func() bool { return len(led.failures[key]) > 0 }) {
		t.Fatal("the job was not answered")
	}
	f := led.failures[key]
	if len(f) != 1 || f[0].Retries != 0 || !strings.Contains(f[0].Message, "a run may have started") {
		t.Fatalf("JOB FAILED events %+v: want one, with retries 0, saying a run may have started (not handed back)", f)
	}
	if msg := waitIncident(t, key, 10*time.Second); !strings.Contains(msg, "a run may have started") {
		t.Fatalf("incident %q", msg)
	}
}

// A backlog of streamed jobs with MAX_JOBS_ACTIVE 2, leases of 3 s and triggers taking 1.5 s:
// the worker reserves no more jobs than it can start, so no lease runs out in a queue and no
// run starts twice. It used to take every pushed job and start those whose leases had run out.
func TestStreamedBacklogStartsEachRunOnce(t *testing.T) {
	const n = 8
	dv := startEmulator(t, exampleConfig())
	dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": n, "delay": "1500ms"})
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_STREAMING=true", "PA_CONNECTOR_MAX_JOBS_ACTIVE=2",
		"PA_CONNECTOR_JOB_TIMEOUT=3s", "PA_CONNECTOR_LOG_LEVEL=info")
	keys := createInstances(t, zeebe, "single-task", n, n, func(i int) map[string]any {
		v := triggerVars(dv, flowOK)
		v["connectionName"] = fmt.Sprintf("backlog-conn-%d", i)
		return v
	})
	t.Cleanup(func() { led.cancelUnfinished(zeebe, keys) })
	led.waitEnded(t, keys, 90*time.Second)
	completed, incidents := led.ended(keys)
	timedOut := 0
	for _, k := range keys {
		timedOut += led.timedOut[k]
	}
	runs := tally(dv.state(t).Calls, "RunDesktopFlow")[200]
	t.Logf("streamed backlog: %d instances, MAX_JOBS_ACTIVE 2: completed %d, incidents %d, jobs timed out %d, runs started %d",
		n, completed, incidents, timedOut, runs)
	if completed != n || runs != n {
		t.Fatalf("completed %d of %d with %d runs started: want every instance completed with one run each", completed, n, runs)
	}
	if timedOut != 0 {
		t.Fatalf("%d jobs timed out: the worker reserved jobs it could not start", timedOut)
	}
}

// activatedFor reports whether the engine activated a job of the process instance.
func activatedFor(l *ledger, processInstanceKey int64) bool {
	want := fmt.Sprintf(`"processInstanceKey":%d`, processInstanceKey)
	for _, line := range strings.Split(l.raw(), "\n") {
		if strings.Contains(line, `"valueType":"JOB_BATCH"`) && strings.Contains(line, `"intent":"ACTIVATED"`) && strings.Contains(line, want) {
			return true
		}
	}
	return false
}
