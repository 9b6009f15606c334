//go:build integration

package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
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

// leadFollowUpConfig is the integration tests' emulator configuration seeded with
// examples/lead-follow-up.emulator.json (the lead, its owner, tasks and the 'Notify owner' flow),
// the file make demo seeds its emulator with.
func leadFollowUpConfig(t *testing.T) map[string]any {
	t.Helper()
	var seed map[string]any
	if err := json.Unmarshal([]byte(readFile(filepath.Join(repoRoot, "examples/lead-follow-up.emulator.json"))), &seed); err != nil {
		t.Fatalf("examples/lead-follow-up.emulator.json: %v", err)
	}
	c := emulatorConfig()
	for k, v := range seed {
		c[k] = v
	}
	return c
}

// emulatorGet reads one of the emulator's /_emulator/ endpoints as JSON.
func emulatorGet(t *testing.T, e *emulator, path string, out any) {
	t.Helper()
	res, err := http.Get(e.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, raw)
	}
}

// TestLeadFollowUpExample runs examples/lead-follow-up.bpmn against the emulator seeded from
// examples/lead-follow-up.emulator.json: a follow-up task bound to the lead by the lookup
// {table: "lead", id}, the 'Notify owner' cloud flow run for the lead through its signed URL (a
// secret), and the owner's open tasks listed by due date, the new one among the seeded ones.
func TestLeadFollowUpExample(t *testing.T) {
	dv := startEmulator(t, leadFollowUpConfig(t))
	var flows []struct{ ID, Name, URL string }
	emulatorGet(t, dv, "/_emulator/cloudflows", &flows)
	if len(flows) != 1 || flows[0].Name != "Notify owner" {
		t.Fatalf("cloud flows = %+v, want the seed's 'Notify owner'", flows)
	}
	sig := regexp.MustCompile(`[?&]sig=([^&]+)`).FindStringSubmatch(flows[0].URL)
	if sig == nil {
		t.Fatalf("flow URL %q has no sig", flows[0].URL)
	}
	// The event that starts the process carries the lead: read it from the seed as it is.
	var leads []map[string]any
	emulatorGet(t, dv, "/_emulator/tables/lead/rows", &leads)
	if len(leads) != 1 {
		t.Fatalf("seeded leads = %v, want one", leads)
	}
	leadID, _ := leads[0]["leadid"].(string)
	ownerID, _ := leads[0]["_ownerid_value"].(string)
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "SECRET_NOTIFY_OWNER_FLOW_URL="+flows[0].URL)
	deploy(t, "examples/lead-follow-up.bpmn")
	day := func() string { return time.Now().UTC().AddDate(0, 0, 2).Format("2006-01-02") + "T17:00:00Z" }
	dueBefore := day()
	out := runProcess(t, "lead-follow-up", map[string]any{
		"organizationUri": dv.URL, "leadId": leadID, "leadName": leads[0]["fullname"], "ownerId": ownerID,
	}, 30*time.Second)
	dueAfter := day()

	taskID, _ := out["taskId"].(string)
	if len(taskID) != 36 {
		t.Fatalf("taskId = %v, want the created task's GUID; variables %v", out["taskId"], out)
	}
	// The task as Dataverse holds it: bound to the lead, owned by the lead's owner, due in 2 days.
	var tasks []map[string]any
	emulatorGet(t, dv, "/_emulator/tables/task/rows", &tasks)
	var task map[string]any
	for _, r := range tasks {
		if r["activityid"] == taskID {
			task = r
		}
	}
	if task == nil {
		t.Fatalf("no task %s among %v", taskID, tasks)
	}
	if task["subject"] != "Follow up with Ada Lovelace" || task["_regardingobjectid_value"] != leadID ||
		task["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "lead" || task["_ownerid_value"] != ownerID ||
		(task["scheduledend"] != dueBefore && task["scheduledend"] != dueAfter) || task["statecode"] != float64(0) {
		t.Errorf("created task = %v, want subject 'Follow up with Ada Lovelace', regarding lead %s, owner %s, due %s, open", task, leadID, ownerID, dueBefore)
	}
	// The flow got the record and the inputs, and its answer is the process's.
	var runs []struct {
		FlowID string         `json:"flowId"`
		Body   map[string]any `json:"body"`
	}
	emulatorGet(t, dv, "/_emulator/flowruns", &runs)
	wantBody := map[string]any{"entityLogicalName": "lead", "recordId": leadID, "taskId": taskID, "ownerId": ownerID}
	if len(runs) != 1 || !strings.EqualFold(runs[0].FlowID, flows[0].ID) || !reflect.DeepEqual(runs[0].Body, wantBody) {
		t.Errorf("flow runs = %+v, want one of %s with body %v", runs, flows[0].ID, wantBody)
	}
	wantNote := map[string]any{"notified": true, "channel": "Teams", "recordId": leadID, "taskId": taskID}
	if !reflect.DeepEqual(out["notification"], wantNote) {
		t.Errorf("notification = %v, want the flow's answer %v", out["notification"], wantNote)
	}
	// The owner's open tasks by due date: the overdue seeded one, the new one, the later seeded
	// one; neither the owner's completed task nor another user's task.
	type openTask struct{ Subject, Regarding, RegardingTable string }
	var got []openTask
	list, _ := out["openTasks"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		got = append(got, openTask{s("subject"), s("regarding"), s("regardingTable")})
	}
	want := []openTask{
		{"Call Contoso back about the renewal", "Contoso", "account"},
		{"Follow up with Ada Lovelace", "Ada Lovelace", "lead"},
		{"Quarterly review with Contoso", "Contoso", "account"},
	}
	if !reflect.DeepEqual(got, want) || out["openTaskCount"] != float64(3) {
		t.Errorf("openTasks = %+v (count %v), want %+v", got, out["openTaskCount"], want)
	}
	noSecrets(t, w, dvToken, sig[1])
}
