package connector

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	typedFlow = "d0c5f10e-0000-4000-8000-000000000001"
	draftFlow = "d0c5f10e-0000-4000-8000-000000000002"
)

// typedFlows adds a desktop flow with an input schema and a draft to the fixture's flows.
func typedFlows(o *dataversetest.Options) {
	o.Flows[typedFlow] = dataversetest.Flow{Name: "Typed invoice", Description: "Books an invoice",
		InputSchema: []dataversetest.FlowVariable{
			{Name: "Customer", Type: "string", Required: true},
			{Name: "Amount", Type: "number"},
			{Name: "Pin", Type: "string"},
		},
		OutputSchema: []dataversetest.FlowVariable{{Name: "Total", Type: "number"}},
		Outputs:      map[string]any{"Total": 42}}
	o.Flows[draftFlow] = dataversetest.Flow{Name: "Typed draft", Draft: true}
}

// TestListDesktopFlowsOperation: listDesktopFlows answers {flows: [{name, workflowId,
// description, state}]} through the handler; filter narrows by name, includeDrafts adds drafts;
// the template's default result expression maps them to desktopFlows.
func TestListDesktopFlowsOperation(t *testing.T) {
	f := newFixture(t, typedFlows)
	res, err := f.run(f.base("listDesktopFlows"), map[string]string{"resultExpression": "={desktopFlows: response.body.flows}"})
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := res.Variables["desktopFlows"].([]any)
	if len(flows) != 4 || res.Operation != "listDesktopFlows" {
		t.Fatalf("desktopFlows = %v (operation %q), want the 4 published flows", res.Variables, res.Operation)
	}
	v := f.base("listDesktopFlows")
	v["filter"], v["includeDrafts"] = "typed", true
	res, err = f.run(v, bodyAsR)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"name": "Typed draft", "workflowId": draftFlow, "description": nil, "state": "Draft"},
		map[string]any{"name": "Typed invoice", "workflowId": typedFlow, "description": "Books an invoice", "state": "Activated"},
	}
	if got := res.Variables["r"].(map[string]any)["flows"]; !reflect.DeepEqual(got, want) {
		t.Errorf("filtered with drafts = %v\nwant %v", got, want)
	}
	v["includeDrafts"] = "maybe"
	if _, err := f.run(v, nil); err == nil || !strings.Contains(err.Error(), "includeDrafts") {
		t.Errorf("a bad includeDrafts: %v", err)
	}
}

// TestGetDesktopFlowSchemaOperation: getDesktopFlowSchema answers {name, workflowId, inputs,
// outputs} as JSON Schemas; a missing workflowId or a cloud flow's id is an incident naming
// workflowId; an unknown flow is a 404 an error expression can catch.
func TestGetDesktopFlowSchemaOperation(t *testing.T) {
	f := newFixture(t, typedFlows)
	v := f.base("getDesktopFlowSchema")
	v["workflowId"] = "{" + strings.ToUpper(typedFlow) + "}"
	res, err := f.run(v, map[string]string{"resultExpression": "={flowSchema: response.body}"})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := res.Variables["flowSchema"].(map[string]any)
	in, _ := s["inputs"].(map[string]any)
	props, _ := in["properties"].(map[string]any)
	if s["name"] != "Typed invoice" || len(props) != 3 || !reflect.DeepEqual(in["required"], []any{"Customer"}) || in["additionalProperties"] != false {
		t.Fatalf("flowSchema = %v", s)
	}
	if out, _ := s["outputs"].(map[string]any); out["properties"].(map[string]any)["Total"].(map[string]any)["type"] != "number" {
		t.Errorf("outputs = %v", s["outputs"])
	}
	delete(v, "workflowId")
	var perm *PermanentError
	if _, err := f.run(v, nil); !errors.As(err, &perm) || !strings.Contains(err.Error(), "workflowId: is required") {
		t.Errorf("no workflowId: %v", err)
	}
	v["workflowId"] = "00000000-0000-4000-8000-00000000dead"
	res, err = f.run(v, map[string]string{"errorExpression": `=if error.code = "404" then bpmnError("NO_FLOW", error.message) else null`})
	var be *BPMNError
	if !errors.As(err, &be) || be.Code != "NO_FLOW" {
		t.Errorf("an unknown flow: %v %v", res, err)
	}
}

// TestTriggerChecksInputsAgainstTheSchema: a runInputs with an unknown name, without a required
// input or with a value of another type is an incident naming the input and the expected type,
// never the value, and no run starts; right inputs run; validateInputs false sends them as they
// are; runFlowAndWait checks too. A flow without a schema takes any inputs.
func TestTriggerChecksInputsAgainstTheSchema(t *testing.T) {
	f := newFixture(t, typedFlows)
	const secretValue = "pin-4711-never-shown"
	for _, op := range []string{"triggerFlowRun", "runFlowAndWait"} {
		for _, tc := range []struct {
			name   string
			inputs any
			want   string
		}{
			{"unknown name", map[string]any{"Customer": "Ada", "Amuont": secretValue}, "invalid input: runInputs.Amuont: desktop flow " + typedFlow + " has no input of that name; its inputs are Amount (number), Customer (string, required), Pin (string)"},
			{"missing required", map[string]any{"Pin": secretValue}, "invalid input: runInputs.Customer: is required by desktop flow " + typedFlow + ": a string"},
			{"no inputs", nil, "invalid input: runInputs.Customer: is required"},
			{"wrong type", map[string]any{"Customer": "Ada", "Amount": secretValue}, "invalid input: runInputs.Amount: must be a number (desktop flow " + typedFlow + "'s input schema), got a string"},
			{"wrong type as JSON text", `{"Customer": 4711}`, "invalid input: runInputs.Customer: must be a string"},
		} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				v := f.trigger(map[string]any{"operationType": op, "workflowId": typedFlow, "waitMode": "poll"})
				if tc.inputs != nil {
					v["runInputs"] = tc.inputs
				}
				_, err := f.run(v, triggerHeaders)
				var perm *PermanentError
				if !errors.As(err, &perm) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v\nwant an incident containing %q", err, tc.want)
				}
				if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), "4711") {
					t.Errorf("the incident quotes a value: %v", err)
				}
			})
		}
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Fatalf("%d runs started for refused inputs, want 0", n)
	}
	right := f.trigger(map[string]any{"workflowId": typedFlow, "runInputs": map[string]any{"Customer": "Ada", "Amount": 12.5, "Pin": secretValue}})
	if res, err := f.run(right, triggerHeaders); err != nil || res.Variables["flowSessionId"] == nil {
		t.Fatalf("right inputs: %v %v", res, err)
	}
	off := f.trigger(map[string]any{"workflowId": typedFlow, "runInputs": map[string]any{"Amuont": 1}, "validateInputs": false})
	if _, err := f.run(off, triggerHeaders); err != nil {
		t.Fatalf("validateInputs false: %v", err)
	}
	free := f.trigger(map[string]any{"runInputs": map[string]any{"Anything": []any{1}}})
	if _, err := f.run(free, triggerHeaders); err != nil {
		t.Fatalf("a flow without a schema: %v", err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 3 {
		t.Errorf("%d runs, want 3 (right inputs, validateInputs false, no schema)", n)
	}
	if n := f.srv.Count(dataversetest.OpGetWorkflowInputs); n != 2 {
		t.Errorf("%d schema reads, want 2: one per flow for all these jobs (cached)", n)
	}
}

// TestSchemaReadsUnderLoad: 30 concurrent triggers of one flow on a cold cache read its schema
// once; a schema that cannot be read (403) is an incident saying so and how to skip the check,
// and no run starts.
func TestSchemaReadsUnderLoad(t *testing.T) {
	f := newFixture(t, typedFlows)
	const n = 30
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.run(f.trigger(map[string]any{"workflowId": typedFlow, "runInputs": map[string]any{"Customer": "Ada"}}), triggerHeaders)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if reads, runs := f.srv.Count(dataversetest.OpGetWorkflowInputs), f.srv.Count(dataversetest.OpRunDesktopFlow); reads != 1 || runs != n {
		t.Fatalf("%d schema reads and %d runs for %d concurrent triggers, want 1 read and %d runs", reads, runs, n, n)
	}

	g := newFixture(t, typedFlows)
	g.srv.Inject(dataversetest.Fault{Op: dataversetest.OpGetWorkflowInputs, Status: 403, Code: "0x80040220", Message: "Principal user is missing prvReadworkflow privilege"})
	_, err := g.run(g.trigger(map[string]any{"workflowId": typedFlow, "runInputs": map[string]any{"Customer": "Ada"}}), triggerHeaders)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "reading the input schema of desktop flow "+typedFlow) ||
		!strings.Contains(err.Error(), "prvReadworkflow") || !strings.Contains(err.Error(), "validateInputs: false") {
		t.Fatalf("a schema read refused: %v", err)
	}
	if n := g.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Errorf("%d runs started without a schema", n)
	}
}
