package spec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
)

const typedFlowID = "d0c5f10e-0000-4000-8000-0000000000d1"

func typedFlow() DesktopFlow {
	return DesktopFlow{
		WorkflowID: typedFlowID, Name: "Typed invoice", Description: "Enters an invoice",
		HasInputs: true, HasOutputs: true,
		Inputs: []operations.Variable{
			{Name: "Amount", Type: "number", Default: 12.5},
			{Name: "Count", Type: "integer", Default: float64(3)},
			{Name: "Customer", Type: "string", Title: "Customer name", Description: "Who pays", Required: true},
			{Name: "Formula", Type: "string", Default: "=1+1"},
			{Name: "Lines", Type: "array", Default: []any{"a", float64(2)}},
			{Name: "Meta", Type: "object", Required: true, Default: map[string]any{"k": "v \"quoted\"", "n": nil}},
			{Name: "Urgent", Type: "boolean", Default: true},
			{Name: "Whatever", Type: ""},
		},
		Outputs: []operations.Variable{{Name: "Total", Type: "number"}, {Name: "not", Type: "boolean"}, {Name: "Invoice no", Type: "string"}},
	}
}

// decoded is the template as Modeler reads it.
type decoded struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Version    int              `json:"version"`
	Groups     []map[string]any `json:"groups"`
	Properties []map[string]any `json:"properties"`
}

func flowTemplate(t *testing.T, f DesktopFlow) decoded {
	t.Helper()
	raw, err := FlowTemplate(f)
	if err != nil {
		t.Fatal(err)
	}
	var d decoded
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// byBinding returns the properties bound to a zeebe:input name or a header key.
func byBinding(d decoded, name string) []map[string]any {
	var out []map[string]any
	for _, p := range d.Properties {
		b, _ := p["binding"].(map[string]any)
		if b["name"] == name || b["key"] == name {
			out = append(out, p)
		}
	}
	return out
}

// Each input is one field of the Modeler type that makes Zeebe pass the schema's JSON type
// (Number and Boolean fields are written as FEEL), bound to runInputs.<name>, required or
// optional as the schema says, with its title, description and default.
func TestFlowTemplateTypesEachInput(t *testing.T) {
	d := flowTemplate(t, typedFlow())
	cases := []struct {
		input, typ, feel string
		value            any // nil: none
		optional         bool
		label            string
	}{
		{"Amount", "Number", "optional", 12.5, true, "Amount"},
		{"Count", "Number", "optional", float64(3), true, "Count"},
		{"Customer", "String", "optional", nil, false, "Customer name (Customer)"},
		{"Formula", "String", "optional", `="=1+1"`, true, "Formula"},
		{"Lines", "String", "required", `=["a",2]`, true, "Lines"},
		{"Meta", "String", "required", `={"k":"v \"quoted\"","n":null}`, false, "Meta"},
		{"Urgent", "Boolean", "optional", true, false, "Urgent"},
		{"Whatever", "String", "optional", nil, true, "Whatever"},
	}
	for _, c := range cases {
		t.Run(c.input, func(t *testing.T) {
			ps := byBinding(d, "runInputs."+c.input)
			if len(ps) != 1 {
				t.Fatalf("%d properties bound to runInputs.%s, want 1", len(ps), c.input)
			}
			p := ps[0]
			if p["type"] != c.typ || p["feel"] != c.feel || p["group"] != flowInputsGroup || p["label"] != c.label {
				t.Errorf("type %v feel %v group %v label %v, want %s %s %s %s", p["type"], p["feel"], p["group"], p["label"], c.typ, c.feel, flowInputsGroup, c.label)
			}
			if !reflect.DeepEqual(p["value"], c.value) {
				t.Errorf("value %#v, want %#v", p["value"], c.value)
			}
			if opt, _ := p["optional"].(bool); opt != c.optional {
				t.Errorf("optional %v, want %v", opt, c.optional)
			}
			cons, _ := p["constraints"].(map[string]any)
			if required := !c.optional && c.typ != "Boolean"; (cons["notEmpty"] == true) != required {
				t.Errorf("constraints %v, want notEmpty %v", cons, required)
			}
			if !strings.Contains(p["tooltip"].(string), c.input) {
				t.Errorf("tooltip %q does not name the input", p["tooltip"])
			}
		})
	}
	if p := byBinding(d, "runInputs.Customer")[0]; p["description"] != "Who pays" {
		t.Errorf("Customer's description %v, want the schema's", p["description"])
	}
}

// The defaults Modeler writes evaluate, as FEEL, to the schema's typed default: a string that
// starts with = stays that text, a list and a context stay that JSON.
func TestFlowTemplateDefaultsEvaluateToTheSchemaDefault(t *testing.T) {
	d := flowTemplate(t, typedFlow())
	for _, v := range typedFlow().Inputs {
		if v.Type != "object" && v.Type != "array" && !strings.HasPrefix(s(v.Default), "=") {
			continue
		}
		src := byBinding(d, "runInputs."+v.Name)[0]["value"].(string)
		p, err := expr.Compile(src)
		if err != nil {
			t.Fatalf("%s: %q: %v", v.Name, src, err)
		}
		got, err := p.Eval(map[string]any{})
		if err != nil {
			t.Fatalf("%s: %q: %v", v.Name, src, err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(v.Default)
		if !bytes.Equal(g, w) {
			t.Errorf("%s: %q evaluates to %s, want %s", v.Name, src, g, w)
		}
	}
}

func s(v any) string { x, _ := v.(string); return x }

// The workflow id is fixed (Hidden), runInputs is not a field of its own when the flow has an
// input schema, and the run-and-wait operation is preselected.
func TestFlowTemplateFixesTheFlow(t *testing.T) {
	d := flowTemplate(t, typedFlow())
	if d.ID != "io.pa-connector.desktop-flow."+typedFlowID || d.Version != FlowTemplateVersion || d.Name != "Desktop flow: Typed invoice" {
		t.Errorf("id %s version %d name %q", d.ID, d.Version, d.Name)
	}
	wf := byBinding(d, "workflowId")
	if len(wf) != 1 || wf[0]["type"] != "Hidden" || wf[0]["value"] != typedFlowID {
		t.Errorf("workflowId properties %v, want one Hidden with the flow's id", wf)
	}
	if rs := byBinding(d, "runInputs"); len(rs) != 0 {
		t.Errorf("a runInputs field besides the typed inputs: %v", rs)
	}
	op := byBinding(d, "operationType")[0]
	var choices []string
	for _, c := range op["choices"].([]any) {
		choices = append(choices, c.(map[string]any)["value"].(string))
	}
	if op["value"] != OpRunFlowAndWait || !reflect.DeepEqual(choices, []string{OpRunFlowAndWait, OpTrigger}) {
		t.Errorf("operation %v of %v, want runFlowAndWait of [runFlowAndWait triggerFlowRun]", op["value"], choices)
	}
	// a flow without an input schema takes any inputs: the generic field stays
	f := typedFlow()
	f.Inputs, f.HasInputs = nil, false
	if rs := byBinding(flowTemplate(t, f), "runInputs"); len(rs) != 1 || rs[0]["feel"] != "required" {
		t.Errorf("no input schema: runInputs properties %v, want the generic FEEL field", rs)
	}
}

// The wait's result expression maps each output to a variable of its name (quoted when it is
// no FEEL name) and keeps flowSessionId; evaluated on a run's summary it gives the outputs.
func TestFlowTemplateResultExpressionMapsTheOutputs(t *testing.T) {
	d := flowTemplate(t, typedFlow())
	var src string
	for _, p := range byBinding(d, "resultExpression") {
		if p["id"] == "resultExpressionWait" {
			src = p["value"].(string)
		}
	}
	p, err := expr.Compile(src)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	response := map[string]any{"body": map[string]any{"flowSessionId": "s-1", "statusCode": int64(4),
		"outputs": map[string]any{"Total": int64(42), "not": true, "Invoice no": "INV-7", "Extra": "x"}}}
	got, err := p.Eval(map[string]any{"response": response})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"flowSessionId": "s-1", "Total": int64(42), "not": true, "Invoice no": "INV-7"}
	if g, w := js(got), js(want); g != w {
		t.Errorf("result expression %q gives %s, want %s", src, g, w)
	}
	// an output named flowSessionId wins over the run's id
	f := typedFlow()
	f.Outputs = []operations.Variable{{Name: "flowSessionId", Type: "string"}}
	if got := waitResult(f.Outputs); got != "={flowSessionId: response.body.outputs.flowSessionId}" {
		t.Errorf("output flowSessionId: %s", got)
	}
	// no output schema: the worker's default variables
	f.HasOutputs = false
	for _, p := range byBinding(flowTemplate(t, f), "resultExpression") {
		if p["id"] == "resultExpressionWait" && p["value"] != nil {
			t.Errorf("no output schema: result expression %v, want none", p["value"])
		}
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// An input whose name cannot be a mapping target is refused, naming the flow and the input.
func TestFlowTemplateRefusesAnInputNameZeebeCannotTarget(t *testing.T) {
	for _, name := range []string{"my input", "1st", "a.b", "ä"} {
		f := typedFlow()
		f.Inputs = []operations.Variable{{Name: name, Type: "string"}}
		_, err := FlowTemplate(f)
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), "Typed invoice") {
			t.Errorf("input %q: %v, want an error naming the flow and the input", name, err)
		}
	}
}

// The same flow gives the same bytes, and the id and file follow the workflow id only.
func TestFlowTemplateIsStable(t *testing.T) {
	a, err := FlowTemplate(typedFlow())
	if err != nil {
		t.Fatal(err)
	}
	f := typedFlow()
	f.WorkflowID = strings.ToUpper(f.WorkflowID)
	b, err := FlowTemplate(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the same flow gave different templates: %s", firstDiff(a, b))
	}
	if FlowTemplateFile(f.WorkflowID) != "desktop-flow-"+typedFlowID+".json" {
		t.Errorf("file %s", FlowTemplateFile(f.WorkflowID))
	}
}
