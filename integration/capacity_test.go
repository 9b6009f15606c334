//go:build integration

package integration

import (
	"context"
	"testing"
	"time"
)

// Issue 11, item 6: a runFlowAndWait job waiting for its run does not hold a
// PA_CONNECTOR_MAX_JOBS_ACTIVE slot. With one slot and a desktop flow that runs for an hour,
// other tasks still run. It used to hold the slot for the whole run, stopping all activation.
func TestWaitingJobsDoNotStarveTheWorker(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	deploy(t, "integration/testdata/wait.bpmn")
	deploy(t, "integration/testdata/single-task.bpmn")
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_MAX_JOBS_ACTIVE=1")
	waiting := createInstance(t, "wait-single", waitVars(dv, flowSlow))
	t.Cleanup(func() { zeebe.NewCancelInstanceCommand().ProcessInstanceKey(waiting).Send(context.Background()) })
	waitFor(t, 30*time.Second, func() bool { return dv.counts(t)["GetFlowSession"] >= 1 })
	out := runProcess(t, "single-task", triggerVars(dv, flowOK), 30*time.Second)
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", out["flowSessionId"])
	}
}
