//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

// A result expression that doubles a string 30 times (36 GiB were it built) used to end the
// worker with a fatal out-of-memory error, losing every job in flight. It now runs under the
// expression budget: the job ends in an incident that names the result expression and the
// limit, and the same worker process serves the next job.
func TestHostileResultExpressionIsAnIncidentAndTheWorkerServesOn(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/expr-budget.bpmn")
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info")

	hostile := createInstance(t, "expr-budget", triggerVars(dv, flowOK))
	t.Cleanup(func() { cancelInstances(zeebe, []int64{hostile}) })
	led.waitEnded(t, []int64{hostile}, 60*time.Second)
	msg := led.incidents[hostile]
	for _, want := range []string{"result expression", "expression budget exceeded (bytes limit)", "16777216 bytes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("incident %q should contain %q", msg, want)
		}
	}
	if f := led.failures[hostile]; len(f) != 1 || f[0].Retries != 0 {
		t.Errorf("JOB FAILED retries %v, want one failure with retries 0", retriesOf(f))
	}

	out := runProcess(t, "single-task", triggerVars(dv, flowOK), 30*time.Second)
	if out["flowSessionId"] == nil {
		t.Fatalf("the next job did not complete with its result: %v", out)
	}
	select {
	case <-w.done:
		t.Fatalf("the worker exited:\n%s", w.Log())
	default:
	}
	t.Logf("incident: %s; next job completed with flowSessionId %v", msg, out["flowSessionId"])
}
