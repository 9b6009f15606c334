//go:build integration

package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// Two replicas' static tokens: the emulator names each its own caller (static-token-1 is
// replica A, static-token-2 replica B), so its call log tells which replica sent a request.
const (
	tokReplicaA = "it-replica-a-token-Qx81"
	tokReplicaB = "it-replica-b-token-Rm27"
)

// N instances of trigger → status run through two worker replicas; replica A is killed with
// SIGKILL and restarted twice while they run. Every instance must complete, within a bound,
// with its own run; runs started twice are counted and must each lie in the window the
// idempotent trigger cannot close: Dataverse answered the trigger to the replica that was
// killed moments later, before the run was recorded on the element instance. N is
// PA_RELIABILITY_INSTANCES (150 by default; make reliability runs 1,000).
func TestCrashAndRestartUnderLoad(t *testing.T) {
	n := envInt("PA_RELIABILITY_INSTANCES", 150)
	cfg := emulatorConfig()
	cfg["tokens"] = []string{tokReplicaA, tokReplicaB}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/trigger-status.bpmn")
	led := newLedger(t, recordsLog)

	var replicas []*worker
	replica := func(name, token string) *worker {
		w := startWorker(t, "SECRET_DV_TOKEN="+token, "PA_CONNECTOR_WORKER_NAME="+name,
			"PA_CONNECTOR_JOB_TIMEOUT=5s", "PA_CONNECTOR_LOG_LEVEL=info", workerKeyEnv)
		replicas = append(replicas, w)
		return w
	}
	a := replica("replica-a", tokReplicaA)
	replica("replica-b", tokReplicaB)
	// Dataverse's own latency: every request is answered after 250 ms, so each replica has jobs
	// in flight when it is killed (a killed request's run is still created, as Dataverse does).
	dv.fault(t, map[string]any{"count": 3 * n, "delay": "250ms"})

	began := time.Now()
	type creation struct {
		keys []int64
		err  error
	}
	created := make(chan creation, 1)
	go func() {
		keys, err := startInstances(zeebe, "rel-trigger-status", n, 8, func(i int) map[string]any {
			return map[string]any{
				"organizationUri": dv.URL, "authentication": bearer(), "workflowId": flowOK,
				// One connection per instance: the per-connection trigger limit is not under test here.
				"connectionName": fmt.Sprintf("load-conn-%d", i), "runMode": "unattended",
				"runInputs": map[string]any{"Name": fmt.Sprintf("instance-%d", i)},
			}
		})
		created <- creation{keys, err}
	}()

	// Kill replica A when a third and when two thirds of the runs have been started, while
	// triggers are in flight, and start it again at once.
	type kill struct {
		at       time.Time
		inFlight string
	}
	var kills []kill
	var done *creation
	creationFailed := func() bool {
		if done == nil {
			select {
			case c := <-created:
				done = &c
			default:
			}
		}
		return done != nil && done.err != nil
	}
	for _, frac := range []int{1, 2} {
		goal := n * frac / 3
		deadline := time.Now().Add(time.Duration(n)*200*time.Millisecond + 60*time.Second)
		for dv.counts(t)["RunDesktopFlow"] < goal {
			if creationFailed() {
				t.Fatal(done.err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d runs started before kill %d", dv.counts(t)["RunDesktopFlow"], n, frac)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Kill it while it is busy (a restarted replica takes a moment to get jobs).
		inFlight := "0"
		for busy := time.Now().Add(15 * time.Second); time.Now().Before(busy); time.Sleep(20 * time.Millisecond) {
			_, metrics := getBody(a.HTTP + "/metrics")
			if inFlight = metricValue(metrics, "pa_connector_jobs_in_flight"); inFlight != "0" && inFlight != "?" {
				break
			}
		}
		k := kill{at: time.Now(), inFlight: inFlight}
		a.cmd.Process.Kill()
		<-a.done
		kills = append(kills, k)
		t.Logf("kill %d: replica A killed after %d triggers, with %s jobs in flight", frac, dv.counts(t)["RunDesktopFlow"], k.inFlight)
		a = replica("replica-a", tokReplicaA)
	}
	if done == nil {
		c := <-created
		done = &c
	}
	if done.err != nil {
		t.Fatal(done.err)
	}
	keys := done.keys
	t.Cleanup(func() { led.cancelUnfinished(zeebe, keys) })

	bound := 90*time.Second + time.Duration(n)*100*time.Millisecond
	led.waitEnded(t, keys, bound)
	completed, incidents := led.ended(keys)
	var last time.Time
	sessions := map[string]int64{}
	timedOut, recordedTwice := 0, 0
	for _, k := range keys {
		if at := led.completed[k]; at.After(last) {
			last = at
		}
		id, _ := led.variable(k, "flowSessionId").(string)
		if len(id) != 36 {
			t.Errorf("instance %d: flowSessionId = %q", k, id)
		} else if other, dup := sessions[id]; dup {
			t.Errorf("instances %d and %d got the same run %s", k, other, id)
		}
		sessions[id] = k
		if s := led.variable(k, "statusName"); s == nil {
			t.Errorf("instance %d: no statusName", k)
		}
		timedOut += led.timedOut[k]
		if led.recorded[k] > 1 {
			recordedTwice++
		}
	}
	used, failures := led.retriesUsed(keys, 3)

	st := dv.state(t)
	triggers := tally(st.Calls, "RunDesktopFlow")
	started := triggers[200]
	surplus := started - n
	// Triggers of replica A in flight when it was killed: answered after the kill (the run
	// started, the answer lost), or at most 500 ms before it (on a loaded machine the answer may
	// not have been recorded on the element instance yet). Only these may start a second run.
	lost, late := 0, 0
	for _, c := range st.Calls {
		if c.Op != "RunDesktopFlow" || c.Status != 200 || c.Caller != "static-token-1" {
			continue
		}
		answered := c.Time.Add(c.Duration)
		for _, k := range kills {
			if c.Time.Before(k.at) && answered.After(k.at) {
				lost++
				break
			}
			if c.Time.Before(k.at) && answered.After(k.at.Add(-500*time.Millisecond)) {
				late++
				break
			}
		}
	}
	inWindow := lost + late
	// What the replicas said: runs they could not record, jobs whose lease ran out while they
	// worked on them, commands the engine refused.
	notRecorded, leaseLost, cmdErrors := 0, 0, 0
	for _, w := range replicas {
		for _, line := range strings.Split(w.Log(), "\n") {
			switch {
			case strings.Contains(line, "could not record the started run"):
				notRecorded++
			case strings.Contains(line, `"outcome":"timed-out"`):
				leaseLost++
			}
			if strings.Contains(line, `"command_error"`) {
				cmdErrors++
			}
		}
	}
	t.Logf("replica logs: runs not recorded on the element instance (SetVariables refused) %d, jobs timed out while running %d, job answers refused %d", notRecorded, leaseLost, cmdErrors)
	t.Logf("instances %d: completed %d, incidents %d, in %s (bound %s); runs started %d (surplus %d; replica A's triggers answered after a kill %d, in the 500 ms before one %d); "+
		"trigger statuses %v, all statuses %v; job timeouts %d, JOB FAILED %d, retries used %d; paConnectorRun recorded twice: %d",
		n, completed, incidents, last.Sub(began).Round(100*time.Millisecond), bound, started, surplus, lost, late,
		triggers, statuses(st.Calls), timedOut, failures, used, recordedTwice)
	if completed != n {
		t.Fatalf("%d of %d instances completed, %d incidents", completed, n, incidents)
	}
	if len(sessions) != n {
		t.Fatalf("%d distinct runs for %d instances", len(sessions), n)
	}
	if surplus < 0 {
		t.Fatalf("%d runs started for %d instances", started, n)
	}
	// A second run needs a redelivered trigger job that finds no recorded run: the replica was
	// killed before recording it (inWindow), or the engine refused to record it
	// (notRecorded; see TestStartedRunsAreRecordedUnderBackpressure). Anything beyond is a bug.
	if surplus > inWindow+notRecorded {
		t.Fatalf("%d runs started twice, but only %d triggers of replica A were in flight when it was killed and %d runs went unrecorded: a run was started twice outside the known window", surplus, inWindow, notRecorded)
	}
	// Crashes cost no retries: a killed replica's jobs time out and go to another.
	if used != 0 {
		t.Errorf("%d retries spent (JOB FAILED %d): a crash should cost none", used, failures)
	}
}

// Under load a Zeebe gateway sheds requests: RESOURCE_EXHAUSTED, "Reached maximum capacity of
// requests handled" (backpressure; the Zeebe 8.5.8 test broker used before pa-engine did it to
// 77 of 150 and up to 402 of 1,000 SetVariables in a burst with its default adaptive limit).
// The SetVariables that records a started run on the element instance must survive that, or
// a redelivered job starts the run again; so must the job's answer, or the job waits out its
// timeout. An engine of the test's own with a small backpressure limit (--backpressure-limit 5)
// makes the shedding certain.
func TestStartedRunsAreRecordedUnderBackpressure(t *testing.T) {
	n := envInt("PA_RELIABILITY_INSTANCES", 150)
	b := startPrivateEngine(t, "--backpressure-limit", "5")
	b.deploy(t, "integration/testdata/single-task.bpmn")
	dv := startEmulator(t, emulatorConfig())
	led := newLedger(t, b.Records)
	w := startWorker(t, "ZEEBE_ADDRESS="+b.Addr, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_MAX_JOBS_ACTIVE=200", "PA_CONNECTOR_LOG_LEVEL=info")
	keys := createInstances(t, b.Client, "single-task", n, 16, func(i int) map[string]any {
		v := triggerVars(dv, flowOK)
		v["connectionName"] = fmt.Sprintf("bp-conn-%d", i)
		return v
	})
	// Bounded well below the 5 min job timeout: a job whose answer the engine refused waits that long.
	ended := led.until(30*time.Second+time.Duration(n)*60*time.Millisecond, func() bool { c, i := led.ended(keys); return c+i == n })
	completed, incidents := led.ended(keys)
	unrecorded := 0
	for _, k := range keys {
		if led.recorded[k] == 0 {
			unrecorded++
		}
	}
	log := w.Log()
	refused := strings.Count(log, "could not record the started run")
	refusedAnswers, sample := 0, ""
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"command_error"`) {
			refusedAnswers++
			if sample == "" {
				sample = line
			}
		}
	}
	t.Logf("%d instances: completed %d, incidents %d, %d runs started; %d runs not recorded on their element instance (worker warnings: %d); %d job answers (complete/fail) refused by the broker, e.g. %s",
		n, completed, incidents, dv.counts(t)["RunDesktopFlow"], unrecorded, refused, refusedAnswers, sample)
	if unrecorded > 0 || refusedAnswers > 0 || !ended {
		t.Errorf("under broker backpressure (RESOURCE_EXHAUSTED): %d of %d started runs were not recorded on their element instance (a redelivered job starts them again) and %d answers were lost (the job waits out its timeout, 5 min by default; %d instances still running)",
			unrecorded, n, refusedAnswers, n-completed-incidents)
	}
}

// metricValue returns the value of an unlabelled metric in Prometheus text, or "?".
func metricValue(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return "?"
}

// statuses summarises calls by operation and status, e.g. "GetFlowSession:200=150".
func statuses(calls []call) string {
	m := map[string]int{}
	for _, c := range calls {
		m[fmt.Sprintf("%s:%d", c.Op, c.Status)]++
	}
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
