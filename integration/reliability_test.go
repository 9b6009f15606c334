//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"
)

func triggerVars(dv *emulator, workflow string) map[string]any {
	return map[string]any{
		"operationType": "triggerFlowRun", "organizationUri": dv.URL, "authentication": bearer(),
		"workflowId": workflow, "connectionName": "conn", "runMode": "unattended",
	}
}

// shortHold gives the job a 5 s connection timeout. A trigger extends the job's lease to its
// connection timeout + 4 s (Lease.Hold), so after a worker is killed the next one gets the job
// 9 s after the trigger instead of 24 s with the default 20 s: the tests that kill a worker
// mid-job wait that much less, and nothing they check depends on the timeout's length.
func shortHold(v map[string]any) map[string]any {
	v["connectionTimeoutInSeconds"] = 5
	return v
}

// The worker dies (kill -9) after Dataverse started the run and before the job completed; the
// job times out and another worker takes it: exactly one run is started.
func TestCrashBetweenTriggerAndCompletionTriggersOnce(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	a := startWorkerBin(t, failpointBin, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_FAILPOINT=after-record", "PA_CONNECTOR_JOB_TIMEOUT=3s", workerKeyEnv)
	result := make(chan map[string]any, 1)
	go func() {
		result <- runProcessNoFatal(t, "single-task", shortHold(triggerVars(dv, flowOK)), 90*time.Second)
	}()
	a.waitLine(t, "failpoint after-record reached", 30*time.Second)
	a.cmd.Process.Kill()
	<-a.done
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, workerKeyEnv)
	out := <-result
	if out == nil {
		t.Fatal("the instance did not complete after the crash")
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 1 {
		t.Fatalf("%d RunDesktopFlow calls, want exactly 1", n)
	}
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", out["flowSessionId"])
	}
}

func waitVars(dv *emulator, workflow string) map[string]any {
	v := triggerVars(dv, workflow)
	delete(v, "operationType") // the task's input mapping sets runFlowAndWait
	v["runInputs"] = map[string]any{"Name": "Grace"}
	v["pollInterval"] = "PT1S"
	return v
}

func TestRunFlowAndWaitOnBroker(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	deploy(t, "integration/testdata/wait.bpmn")

	out := runProcess(t, "wait-single", waitVars(dv, flowOK), 60*time.Second)
	outputs, _ := out["flowOutputs"].(map[string]any)
	if out["statusName"] != "Succeeded" || outputs["Greeting"] != "Grace" {
		t.Fatalf("variables = %v", out)
	}
	out = runProcess(t, "wait-single", waitVars(dv, flowFails), 60*time.Second)
	if !elementCompleted(t, int64(out["__key"].(float64)), "EndFailed", 10*time.Second) {
		t.Fatal("a failed run should end through the DESKTOP_FLOW_FAILED boundary event")
	}
	if out["errorCode"] != "NoCandidateMachine" {
		t.Fatalf("the BPMN error's variables should reach the process: %v", out)
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 2 {
		t.Fatalf("%d RunDesktopFlow calls, want 2", n)
	}
}

// A worker killed while waiting: the next worker resumes the recorded run, never triggering again.
func TestWorkerRestartDuringWaitResumesTheRun(t *testing.T) {
	cfg := exampleConfig()
	cfg["flows"].(map[string]any)[flowOK] = map[string]any{"duration": "5s", "outputs": map[string]any{"Greeting": "${inputs.Name}"}}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/wait.bpmn")
	a := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_JOB_TIMEOUT=3s", workerKeyEnv)
	result := make(chan map[string]any, 1)
	go func() { result <- runProcessNoFatal(t, "wait-single", shortHold(waitVars(dv, flowOK)), 90*time.Second) }()
	waitFor(t, 30*time.Second, func() bool { return dv.counts(t)["GetFlowSession"] >= 1 })
	a.cmd.Process.Kill()
	<-a.done
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_JOB_TIMEOUT=3s", workerKeyEnv)
	out := <-result
	if out == nil || out["statusName"] != "Succeeded" {
		t.Fatalf("instance result = %v", out)
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 1 {
		t.Fatalf("%d RunDesktopFlow calls, want 1: the restarted worker must resume the recorded run", n)
	}
}

// SIGTERM with jobs in flight: they are handed back at once with their retries unchanged, the
// worker exits 0 within the grace period, and no incident is raised.
func TestGracefulShutdownHandsJobsBack(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	deploy(t, "integration/testdata/wait.bpmn")
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_SHUTDOWN_GRACE=1s")
	var keys []int64
	for i := 0; i < 4; i++ {
		keys = append(keys, createInstance(t, "wait-single", waitVars(dv, flowSlow)))
	}
	t.Cleanup(func() {
		for _, k := range keys {
			zeebe.NewCancelInstanceCommand().ProcessInstanceKey(k).Send(context.Background())
		}
	})
	waitFor(t, 30*time.Second, func() bool { return dv.counts(t)["GetFlowSession"] >= 4 })
	stopAt := time.Now()
	w.cmd.Process.Signal(interrupt)
	<-w.done
	if took := time.Since(stopAt); took > 6*time.Second {
		t.Fatalf("the worker took %s to stop with a 1 s grace period", took)
	}
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	handedBack := map[int64]bool{}
	waitFor(t, 10*time.Second, func() bool {
		for _, r := range records(recordsLog) {
			if r.ValueType == "JOB" && r.Intent == "FAILED" && r.RecordType == "EVENT" && contains(keys, r.Value.ProcessInstanceKey) {
				if r.Value.Retries != 3 {
					t.Fatalf("a handed-back job has %d retries, want 3 (unchanged)", r.Value.Retries)
				}
				handedBack[r.Value.ProcessInstanceKey] = true
			}
		}
		return len(handedBack) == len(keys)
	})
	for _, k := range keys {
		if _, ok := findIncident(recordsLog, k); ok {
			t.Fatalf("instance %d got an incident from a shutdown", k)
		}
	}
	if !strings.Contains(w.Log(), "stopped") {
		t.Fatal("the worker did not log its drain")
	}
}

func contains(keys []int64, k int64) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
