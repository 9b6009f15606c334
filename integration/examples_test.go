//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

const flowSlow = "5a5a5a5a-0000-4000-8000-5a5a5a5a5a5a"

func exampleConfig() map[string]any {
	c := emulatorConfig()
	c["flows"].(map[string]any)[flowSlow] = map[string]any{"duration": "1h"}
	return c
}

// noSecrets fails the test if any secret value appears in the worker's output.
func noSecrets(t *testing.T, w *worker, secrets ...string) {
	t.Helper()
	log := w.Log()
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the worker's log contains the secret %q", s[:4]+"…")
		}
	}
}

func baseVars(dv *emulator) map[string]any {
	return map[string]any{
		"organizationUri": dv.URL,
		"authentication":  bearer(),
		"connectionName":  "shared-uiflow-conn",
		"runMode":         "unattended",
		"runInputs":       map[string]any{"Name": "Ada"},
		"pollInterval":    "PT1S",
	}
}

func TestRunDesktopFlowEndToEnd(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	deploy(t, "examples/run-desktop-flow.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowOK
	out := runProcess(t, "run-desktop-flow", vars, 60*time.Second)
	outputs, _ := out["flowOutputs"].(map[string]any)
	if outputs["Greeting"] != "Ada" || outputs["Done"] != true {
		t.Fatalf("flowOutputs = %v, want Greeting derived from the input", out["flowOutputs"])
	}
	if out["statusCode"] != float64(4) || out["statusName"] != "Succeeded" {
		t.Fatalf("statusCode/statusName = %v/%v", out["statusCode"], out["statusName"])
	}
	c := dv.counts(t)
	if c["RunDesktopFlow"] != 1 || c["GetFlowSession"] < 1 || c["GetOutputs"] != 1 {
		t.Fatalf("emulator calls = %v, want one trigger, at least one status read, one outputs read", c)
	}
	noSecrets(t, w, dvToken)
}

func TestFailedFlowBecomesBPMNErrorCaughtByBoundaryEvent(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	deploy(t, "examples/run-desktop-flow.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowFails
	out := runProcess(t, "run-desktop-flow", vars, 60*time.Second)
	if _, ok := out["flowOutputs"]; ok {
		t.Fatalf("a failed run must not reach the outputs task: %v", out)
	}
	key := int64(out["__key"].(float64))
	if !elementCompleted(t, key, "EndFailed", 10*time.Second) {
		t.Fatalf("the instance did not end in EndFailed (the boundary event's path)")
	}
	noSecrets(t, w, dvToken)
}

func TestIncidentForPermanentFailure(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	deploy(t, "examples/incident.bpmn")
	vars := baseVars(dv)
	vars["flowSessionId"] = "not-a-guid"
	key := createInstance(t, "incident-on-bad-input", vars)
	msg := waitIncident(t, key, 30*time.Second)
	if !strings.Contains(msg, "flowSessionId") || !strings.Contains(msg, "GUID") {
		t.Fatalf("incident message %q should name the field and what is wrong", msg)
	}
	if n := dv.counts(t)["GetFlowSession"]; n != 0 {
		t.Fatalf("%d status requests for bad input, want 0", n)
	}
	noSecrets(t, w, dvToken)
}

func TestCancelDesktopFlow(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)
	deploy(t, "examples/cancel-desktop-flow.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowSlow
	out := runProcess(t, "cancel-desktop-flow", vars, 60*time.Second)
	if out["statusCode"] != float64(7) {
		t.Fatalf("statusCode = %v, want 7 (Cancelled)", out["statusCode"])
	}
	if n := dv.counts(t)["CancelDesktopFlowRun"]; n != 1 {
		t.Fatalf("%d cancel calls, want 1", n)
	}
}

func TestClientCredentialsAgainstTokenEndpoint(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, "SECRET_DV_CLIENT_SECRET="+clientSec)
	deploy(t, "examples/oauth.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowOK
	vars["tokenEndpoint"] = dv.URL + "/00000000-0000-4000-8000-00000000e1d0/oauth2/v2.0/token"
	vars["clientId"] = clientID
	for i := 0; i < 3; i++ {
		out := runProcess(t, "trigger-with-oauth", vars, 30*time.Second)
		if id, _ := out["flowSessionId"].(string); len(id) != 36 {
			t.Fatalf("flowSessionId = %v", out["flowSessionId"])
		}
	}
	if n := dv.counts(t)["Token"]; n != 1 {
		t.Fatalf("%d token requests for 3 jobs, want 1 (cached)", n)
	}
	noSecrets(t, w, clientSec)
}

func TestCamundaTemplateCompatibility(t *testing.T) {
	dv := startEmulator(t, exampleConfig())
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_HTTP_JSON_COMPAT=true")
	deploy(t, "examples/run-desktop-flow-camunda-template.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowOK
	out := runProcess(t, "run-desktop-flow-camunda-template", vars, 60*time.Second)
	outputs, _ := out["flowOutputs"].(map[string]any)
	if outputs["Greeting"] != "Ada" {
		t.Fatalf("flowOutputs = %v (variables %v)", out["flowOutputs"], keys(out))
	}
	if !strings.Contains(w.Log(), `"job_type":"io.camunda:http-json:1"`) {
		t.Fatal("the jobs did not run as io.camunda:http-json:1")
	}
	noSecrets(t, w, dvToken)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
