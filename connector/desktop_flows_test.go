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
