package bpmn

import (
	"os"
	"path/filepath"
	"testing"
)

// repoFile reads a file relative to the repository root.
func repoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// repoBPMN lists the repository's .bpmn files (examples, integration test data, bench, tools).
func repoBPMN(t testing.TB) []string {
	var out []string
	for _, dir := range []string{"examples", "integration/testdata", "bench", "tools"} {
		_ = filepath.WalkDir(filepath.Join("..", "..", dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if err == nil && !d.IsDir() && filepath.Ext(p) == ".bpmn" {
				rel, _ := filepath.Rel(filepath.Join("..", ".."), p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	if len(out) < 12 {
		t.Fatalf("found only %d .bpmn files: %v", len(out), out)
	}
	return out
}

func parseOne(t *testing.T, path string) *Definition {
	t.Helper()
	defs, err := Parse(filepath.Base(path), repoFile(t, path))
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	if len(defs) != 1 {
		t.Fatalf("Parse(%s): %d definitions, want 1", path, len(defs))
	}
	checkInvariants(t, defs)
	return defs[0]
}

func TestParseRepositoryFiles(t *testing.T) {
	for _, path := range repoBPMN(t) {
		t.Run(path, func(t *testing.T) {
			// A file may hold several processes (integration/testdata/absurd-headers.bpmn):
			// each must parse and start.
			defs, err := Parse(filepath.Base(path), repoFile(t, path))
			if err != nil {
				t.Fatalf("Parse(%s): %v", path, err)
			}
			if len(defs) == 0 {
				t.Fatalf("Parse(%s): no process", path)
			}
			checkInvariants(t, defs)
			for _, d := range defs {
				if d.Root.NoneStart == nil {
					t.Errorf("%s: no none start event", d.ID)
				}
			}
		})
	}
}

func TestRunDesktopFlowGateway(t *testing.T) {
	d := parseOne(t, "examples/run-desktop-flow.bpmn")
	if d.ID != "run-desktop-flow" || d.Root.Type != Process || d.Elements["run-desktop-flow"] != d.Root {
		t.Fatalf("root: %+v", d.Root)
	}
	gw := d.Elements["RunFinishedGateway"]
	if gw == nil || gw.Type != ExclusiveGateway || gw.EventType != Unspecified {
		t.Fatalf("gateway: %+v", gw)
	}
	if gw.Default == nil || gw.Default.ID != "Flow_StillRunning" {
		t.Fatalf("default: %+v", gw.Default)
	}
	var ids, conds []string
	for _, f := range gw.Outgoing {
		ids = append(ids, f.ID)
		conds = append(conds, f.Condition)
	}
	wantIDs := []string{"Flow_Succeeded", "Flow_EndedOtherwise", "Flow_StillRunning"}
	wantConds := []string{"=statusCode = 4", "=list contains([5, 7, 11, 12, 13, 14], statusCode)", ""}
	for i := range wantIDs {
		if i >= len(ids) || ids[i] != wantIDs[i] || conds[i] != wantConds[i] {
			t.Fatalf("outgoing %v %q, want %v %q", ids, conds, wantIDs, wantConds)
		}
	}
	merge := d.Elements["PollMerge"]
	if len(merge.Incoming) != 2 || merge.Incoming[0].ID != "Flow_Triggered" || merge.Incoming[1].ID != "Flow_PollAgain" {
		t.Errorf("merge incoming: %+v", merge.Incoming)
	}
	timer := d.Elements["WaitPollInterval"]
	if timer.Type != IntermediateCatchEvent || timer.EventType != TimerEvent || timer.TimeDuration != `=if pollInterval = null then "PT10S" else pollInterval` {
		t.Errorf("timer: %+v", timer)
	}
	b := d.Elements["DesktopFlowFailed"]
	gs := d.Elements["GetStatus"]
	if b.AttachedTo != gs || len(gs.Boundaries) != 1 || gs.Boundaries[0] != b || !b.CancelActivity ||
		b.EventType != ErrorEvent || b.ErrorCode != "DESKTOP_FLOW_FAILED" || b.CatchAll || b.Parent != d.Root {
		t.Errorf("boundary: %+v", b)
	}
	if gs.JobType != "power-automate:1" || gs.Retries != "3" || len(gs.Headers) != 3 || gs.Headers[2].Key != "errorExpression" {
		t.Errorf("GetStatus: %+v", gs)
	}
	if len(d.Root.Children) != 11 || d.Root.Children[0].ID != "StartEvent" {
		t.Errorf("children: %d", len(d.Root.Children))
	}
}

func TestWaitErrorBoundaryOutputs(t *testing.T) {
	d := parseOne(t, "integration/testdata/wait.bpmn")
	b := d.Elements["Failed"]
	want := []Mapping{{"=errorCode", "errorCode"}, {"=statusName", "statusName"}}
	if len(b.Outputs) != 2 || b.Outputs[0] != want[0] || b.Outputs[1] != want[1] {
		t.Errorf("outputs: %+v", b.Outputs)
	}
	if b.ErrorCode != "DESKTOP_FLOW_FAILED" || b.AttachedTo.ID != "RunAndWait" {
		t.Errorf("boundary: %+v", b)
	}
	task := d.Elements["RunAndWait"]
	if len(task.Inputs) != 1 || task.Inputs[0] != (Mapping{"runFlowAndWait", "operationType"}) {
		t.Errorf("inputs: %+v", task.Inputs)
	}
}

func TestOAuthInputs(t *testing.T) {
	d := parseOne(t, "examples/oauth.bpmn")
	task := d.Elements["TriggerFlow"]
	got := map[string]string{}
	for _, m := range task.Inputs {
		got[m.Target] = m.Source
	}
	want := map[string]string{
		"authentication.type":         "oauth-client-credentials-flow",
		"authentication.clientSecret": "{{secrets.DV_CLIENT_SECRET}}",
		"authentication.scopes":       `=organizationUri + "/.default"`,
		"connectionType":              "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("input %s = %q, want %q", k, got[k], v)
		}
	}
	if len(task.Inputs) != 14 || task.Inputs[0].Target != "operationType" {
		t.Errorf("inputs: %+v", task.Inputs)
	}
}

func TestCamundaTemplateHeaders(t *testing.T) {
	d := parseOne(t, "examples/run-desktop-flow-camunda-template.bpmn")
	task := d.Elements["TriggerFlow"]
	want := []Header{{"resultExpression", "={flowSessionId: response.body.flowsessionId}"}, {"retryBackoff", "PT30S"}}
	if len(task.Headers) != 2 || task.Headers[0] != want[0] || task.Headers[1] != want[1] {
		t.Errorf("headers: %+v", task.Headers)
	}
	if task.JobType != "io.camunda:http-json:1" {
		t.Errorf("job type %q", task.JobType)
	}
}

func TestCallbackMessageCatch(t *testing.T) {
	d := parseOne(t, "examples/run-desktop-flow-callback.bpmn")
	c := d.Elements["RunCompleted"]
	if c.EventType != MessageEvt || c.MessageName != "desktop-flow-completed" || c.CorrelationKey != "=flowSessionId" {
		t.Errorf("catch: %+v", c)
	}
}
