//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Malformed variables and headers as modelers get them wrong: each ends in an incident at once
// (retries 0: no retry can fix input) whose message names the field and says what is wrong,
// and no request reaches Dataverse.
func TestBadInputEndsInClearIncidents(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	deploy(t, "integration/testdata/bad-header.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info")

	cases := []struct {
		name    string
		process string
		change  map[string]any // variables replaced (nil value: removed)
		want    []string       // in the incident message
	}{
		{"authentication is a string", "single-task", map[string]any{"authentication": "Bearer abc"}, []string{"authentication: must be a context (map), got a string"}},
		{"unknown authentication type", "single-task", map[string]any{"authentication": map[string]any{"type": "basic", "token": "x"}}, []string{"authentication.type", `unknown type "basic"`}},
		{"scopes is a number", "single-task", map[string]any{"authentication": map[string]any{"type": "oauth-client-credentials-flow",
			"oauthTokenEndpoint": dv.URL + "/t/oauth2/v2.0/token", "clientId": clientID, "clientSecret": "x", "scopes": 42}}, []string{"authentication.scopes", "got a number"}},
		{"runInputs is a list", "single-task", map[string]any{"runInputs": []any{"a", "b"}}, []string{"runInputs", "got a list"}},
		{"runInputs is not JSON", "single-task", map[string]any{"runInputs": "{Name: Ada"}, []string{"runInputs", "must be a JSON object"}},
		{"connectionType is a word", "single-task", map[string]any{"connectionType": "two"}, []string{"connectionType", "whole number", `"two"`}},
		{"runTimeout out of range", "single-task", map[string]any{"runTimeout": 100000}, []string{"runTimeout", "between 1 and 86400", "100000"}},
		{"workflowId is a number", "single-task", map[string]any{"workflowId": 12345}, []string{"workflowId", "must be a string, got a number"}},
		{"workflowId is not a GUID", "single-task", map[string]any{"workflowId": "my-flow"}, []string{"workflowId", "GUID", `"my-flow"`}},
		{"organizationUri has a path", "single-task", map[string]any{"organizationUri": dv.URL + "/api/data/v9.2"}, []string{"organizationUri", "root URL"}},
		{"runMode unknown", "single-task", map[string]any{"runMode": "sometimes"}, []string{"runMode", "attended or unattended", `"sometimes"`}},
		{"operationType missing", "single-task", map[string]any{"operationType": nil}, []string{"operationType: is required"}},
		{"operationType unknown", "single-task", map[string]any{"operationType": "runFlowTwice"}, []string{"operationType", `"runFlowTwice"`}},
		{"connection timeout negative", "single-task", map[string]any{"connectionTimeoutInSeconds": -5}, []string{"connectionTimeoutInSeconds", "between 0 and 3600"}},
		{"pollInterval not ISO-8601", "single-task", map[string]any{"operationType": "runFlowAndWait", "pollInterval": "5 seconds"}, []string{"pollInterval", `"5 seconds"`, "ISO-8601"}},
		{"retryBackoff header not ISO-8601", "rel-bad-header", nil, []string{"task header retryBackoff", `"30 seconds"`, "ISO-8601"}},
	}
	keys := make([]int64, len(cases))
	for i, c := range cases {
		v := triggerVars(dv, flowOK)
		for k, x := range c.change {
			if x == nil {
				delete(v, k)
			} else {
				v[k] = x
			}
		}
		keys[i] = createInstance(t, c.process, v)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })
	if !led.until(60*time.Second, func() bool { _, n := led.ended(keys); return n == len(keys) }) {
		_, n := led.ended(keys)
		t.Fatalf("%d of %d bad inputs ended in an incident", n, len(keys))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := led.incidents[keys[i]]
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("incident %q should contain %q", msg, w)
				}
			}
			if f := led.failures[keys[i]]; len(f) != 1 || f[0].Retries != 0 {
				t.Errorf("JOB FAILED retries %v, want one failure with retries 0", retriesOf(f))
			}
			t.Logf("incident: %s", msg)
		})
	}
	if c := dv.counts(t); c["RunDesktopFlow"]+c["GetFlowSession"]+c["Token"] != 0 {
		t.Errorf("bad input reached Dataverse: %v", c)
	}
}

// Output variables over PA_CONNECTOR_MAX_OUTPUT_BYTES: an incident that gives the size, the
// limit and what to do; a result expression that narrows the outputs completes.
func TestOutputOverLimitIsAClearIncident(t *testing.T) {
	const bigFlow = "b16b16b1-0000-4000-8000-b16b16b16b16"
	cfg := emulatorConfig()
	cfg["flows"].(map[string]any)[bigFlow] = map[string]any{"duration": "300ms",
		"outputs": map[string]any{"Report": strings.Repeat("0123456789", 500), "Rows": 500}}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/wait.bpmn")
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_MAX_OUTPUT_BYTES=2048", "PA_CONNECTOR_LOG_LEVEL=info")

	// runFlowAndWait without a result expression returns the outputs: 5 KB, over 2 KB.
	big := createInstance(t, "wait-single", waitVars(dv, bigFlow))
	t.Cleanup(func() { cancelInstances(zeebe, []int64{big}) })
	led.waitEnded(t, []int64{big}, 60*time.Second)
	msg := led.incidents[big]
	for _, want := range []string{"output variables are", "over the limit of 2048 bytes", "result expression"} {
		if !strings.Contains(msg, want) {
			t.Errorf("incident %q should contain %q", msg, want)
		}
	}
	// The same outputs read by a task whose result expression keeps only what it needs.
	v := triggerVars(dv, bigFlow)
	v["operationType"] = "getFlowOutputs"
	var runID string
	for _, s := range dv.state(t).Calls {
		if s.Op == "GetOutputs" {
			runID = s.Path[strings.Index(s.Path, "(")+1 : strings.Index(s.Path, ")")]
		}
	}
	v["flowSessionId"] = runID
	out := runProcess(t, "single-task", v, 30*time.Second)
	t.Logf("5 KB of outputs with a 2 KB limit: incident %q; narrowed by a result expression: completed with %v", msg, out["flowSessionId"])
	if _, ok := out["__key"]; !ok {
		t.Fatal("the narrowed task did not complete")
	}
}

// workerKeyEnv gives a worker the key that signs the runs triggers record; every replica of a
// test that kills or restarts workers has it, so a redelivered job resumes its run.
const workerKeyEnv = "PA_CONNECTOR_CALLBACK_KEY=" + callbackKey

// deepContext is a context nested depth levels deep.
func deepContext(depth int) map[string]any {
	v := map[string]any{}
	for i := 1; i < depth; i++ {
		v = map[string]any{"a": v}
	}
	return v
}

// Issue 11 item 7 through the real binary: absurd values a job can carry end in an incident at
// once (retries 0) that names the field and its bound; none of them starts a run.
func TestAbsurdValuesAreBounded(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	deploy(t, "integration/testdata/absurd-headers.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info")

	status := triggerVars(dv, flowOK)
	status["operationType"] = "getStatusOfFlowRun" // an unknown run: 404, then the error expression
	status["flowSessionId"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	cases := []struct {
		name    string
		process string
		vars    map[string]any
		change  map[string]any
		want    []string
	}{
		{"jobTimeout header of 100000 days", "abs-job-timeout", triggerVars(dv, flowOK), nil,
			[]string{"task header jobTimeout", "between PT1S and P1D", "P100000D"}},
		{"retryBackoff header of 100000 days and hours", "abs-retry-backoff", triggerVars(dv, flowOK), nil,
			[]string{"task header retryBackoff", "between PT0S and P1D", "P100000DT100000H"}},
		{"jobError with a billion retries", "abs-job-error", status, nil,
			[]string{"error expression: jobError retries", "between 0 and 100", "1000000000"}},
		{"runInputs null", "single-task", triggerVars(dv, flowOK), map[string]any{"runInputs": "null"},
			[]string{"runInputs", "must be a JSON object", "got null"}},
		{"runInputs nested 9,999 deep", "single-task", triggerVars(dv, flowOK), map[string]any{"runInputs": deepContext(9999)},
			[]string{"runInputs", "nested more than 128 levels deep"}},
		{"a number beyond float64 in runInputs", "single-task", triggerVars(dv, flowOK),
			map[string]any{"runInputs": map[string]any{"Order": map[string]any{"Amount": json.Number("1e400")}}},
			[]string{"runInputs.Order.Amount", "1e400", "out of range"}},
	}
	keys := make([]int64, len(cases))
	for i, c := range cases {
		for k, x := range c.change {
			c.vars[k] = x
		}
		keys[i] = createInstance(t, c.process, c.vars)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })
	if !led.until(60*time.Second, func() bool { _, n := led.ended(keys); return n == len(keys) }) {
		_, n := led.ended(keys)
		t.Fatalf("%d of %d absurd values ended in an incident", n, len(keys))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := led.incidents[keys[i]]
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("incident %q should contain %q", short(msg), w)
				}
			}
			// Retries 0 at once; a hand-back before (retries unchanged, e.g. a job push the
			// engine could not deliver on a loaded machine) spends nothing.
			f := led.failures[keys[i]]
			if len(f) == 0 || f[len(f)-1].Retries != 0 {
				t.Errorf("JOB FAILED retries %v, want it to end with retries 0", retriesOf(f))
			}
			for _, x := range f[:max(len(f)-1, 0)] {
				if x.Retries != 3 {
					t.Errorf("JOB FAILED retries %v: a retry was spent before the incident", retriesOf(f))
				}
				t.Logf("handed back first: %q", x.Message)
			}
			t.Logf("incident: %s", short(msg))
		})
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 0 {
		t.Errorf("%d runs started, want none", n)
	}
}

// Issue 11 item 1d through the real binary: a process-scope paConnectorRun (not written by the
// worker for this element instance) neither passes for the run nor triggers a second one: it
// is an incident saying a run may have started.
func TestForgedRecordedRunIsAnIncident(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info", workerKeyEnv)
	v := triggerVars(dv, flowOK)
	v["paConnectorRun"] = map[string]any{"status": 200, "body": map[string]any{"flowsessionId": "00000000-0000-4000-8000-000000000001"}}
	k := createInstance(t, "single-task", v)
	t.Cleanup(func() { cancelInstances(zeebe, []int64{k}) })
	led.waitEnded(t, []int64{k}, 60*time.Second)
	msg := led.incidents[k]
	for _, w := range []string{"paConnectorRun", "cannot verify", "no signature", "a run may have started"} {
		if !strings.Contains(msg, w) {
			t.Errorf("incident %q should contain %q", msg, w)
		}
	}
	if f := led.failures[k]; len(f) != 1 || f[0].Retries != 0 {
		t.Errorf("JOB FAILED retries %v, want one failure with retries 0", retriesOf(f))
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 0 {
		t.Errorf("%d runs started, want none", n)
	}
}

// A worker killed after recording the run, and a next worker without PA_CONNECTOR_CALLBACK_KEY
// (a random key of its own): the record cannot be verified, so the job ends in an incident
// saying a run may have started — never a second run. TestCrashBetweenTriggerAndCompletionTriggersOnce
// is the same crash with the key set on both workers: the run is resumed.
func TestRestartWithoutTheKeyIsAnIncidentNotASecondRun(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	a := startWorkerBin(t, failpointBin, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_FAILPOINT=after-record", "PA_CONNECTOR_JOB_TIMEOUT=3s")
	k := createInstance(t, "single-task", shortHold(triggerVars(dv, flowOK)))
	t.Cleanup(func() { cancelInstances(zeebe, []int64{k}) })
	a.waitLine(t, "failpoint after-record reached", 30*time.Second)
	a.cmd.Process.Kill()
	<-a.done
	b := startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	if !strings.Contains(b.Log(), "PA_CONNECTOR_CALLBACK_KEY is not set") {
		t.Error("a worker without the key should say so at start")
	}
	led.waitEnded(t, []int64{k}, 60*time.Second)
	msg := led.incidents[k]
	for _, w := range []string{"paConnectorRun", "cannot verify", "signature does not match", "a run may have started", "PA_CONNECTOR_CALLBACK_KEY"} {
		if !strings.Contains(msg, w) {
			t.Errorf("incident %q should contain %q", msg, w)
		}
	}
	if n := dv.counts(t)["RunDesktopFlow"]; n != 1 {
		t.Errorf("%d runs started, want 1", n)
	}
}

// short cuts a long incident message for the test log.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
