package operations_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	invoiceFlow = "f091ffab-58bb-4630-a115-659453d56f59"
	echoFlow    = "eafba1a2-e8d4-4efa-b549-11d4dfd9a3d1"
	draftFlow   = "7d1f3a52-2b8e-4c47-8a61-5e9c2d0b6a02"
	cloudFlow   = "c10d0000-0000-4000-8000-000000000001"
)

// flowsOn starts an emulator with three desktop flows (one a draft, one without a schema) and
// a cloud flow, and returns a client on it.
func flowsOn(t *testing.T) (*operations.Client, *dataversetest.Server) {
	t.Helper()
	srv := dataversetest.NewServer(dataversetest.Options{Tokens: []string{"t"},
		Flows: map[string]dataversetest.Flow{
			invoiceFlow: {Name: "Invoice bot", Description: "Books invoices", InputSchema: []dataversetest.FlowVariable{
				{Name: "Name", Type: "string", Description: "The customer", Required: true},
				{Name: "Amount", Type: "number", Default: 10.0},
				{Name: "Count", Type: "integer"},
			}, OutputSchema: []dataversetest.FlowVariable{{Name: "Total", Type: "number"}}},
			echoFlow:  {Name: "Echo's flow"},
			draftFlow: {Name: "Archive bot", Draft: true},
		},
		CloudFlows: map[string]dataversetest.CloudFlow{cloudFlow: {Name: "Invoice notifier"}},
	})
	t.Cleanup(srv.Close)
	return &operations.Client{HTTP: bearer{srv.Client()}}, srv
}

func flowNames(t *testing.T, res map[string]any) []string {
	t.Helper()
	var out []string
	for _, f := range res["flows"].([]any) {
		out = append(out, f.(map[string]any)["name"].(string))
	}
	return out
}

// TestListDesktopFlows: the listing is the category-6 rows by name with their id, description
// and state; filter keeps names containing it (quotes escaped); includeDrafts adds drafts.
func TestListDesktopFlows(t *testing.T) {
	t.Parallel()
	c, srv := flowsOn(t)
	ctx := context.Background()
	res, err := operations.ListDesktopFlows(ctx, c, srv.URL(), operations.ListDesktopFlowsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := flowNames(t, res); !reflect.DeepEqual(got, []string{"Echo's flow", "Invoice bot"}) {
		t.Errorf("flows = %v, want the published desktop flows by name (no draft, no cloud flow)", got)
	}
	want := map[string]any{"name": "Invoice bot", "workflowId": invoiceFlow, "description": "Books invoices", "state": "Activated"}
	if got := res["flows"].([]any)[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("a flow = %v, want %v", got, want)
	}
	res, err = operations.ListDesktopFlows(ctx, c, srv.URL(), operations.ListDesktopFlowsRequest{IncludeDrafts: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := flowNames(t, res); !reflect.DeepEqual(got, []string{"Archive bot", "Echo's flow", "Invoice bot"}) {
		t.Errorf("with drafts = %v", got)
	}
	if d := res["flows"].([]any)[0].(map[string]any); d["state"] != "Draft" {
		t.Errorf("the draft's state = %v", d["state"])
	}
	for filter, want := range map[string][]string{"invoice": {"Invoice bot"}, "o's f": {"Echo's flow"}, "nothing like it": nil} {
		res, err = operations.ListDesktopFlows(ctx, c, srv.URL(), operations.ListDesktopFlowsRequest{Filter: filter})
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		if got := flowNames(t, res); !reflect.DeepEqual(got, want) {
			t.Errorf("filter %q = %v, want %v", filter, got, want)
		}
	}
	if srv.Count(dataversetest.OpListRows) != 5 {
		t.Errorf("%d listing requests, want one per listing", srv.Count(dataversetest.OpListRows))
	}
}

// TestGetDesktopFlowSchema: {name, workflowId, inputs, outputs} as JSON Schemas; a flow
// without a schema has null; a cloud flow is refused naming workflowId; an unknown id is 404.
func TestGetDesktopFlowSchema(t *testing.T) {
	t.Parallel()
	c, srv := flowsOn(t)
	ctx := context.Background()
	res, err := operations.GetDesktopFlowSchema(ctx, c, srv.URL(), invoiceFlow)
	if err != nil {
		t.Fatal(err)
	}
	wantInputs := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"Name"}, "properties": map[string]any{
		"Name":   map[string]any{"type": "string", "title": "Name", "description": "The customer"},
		"Amount": map[string]any{"type": "number", "title": "Amount", "default": int64(10)},
		"Count":  map[string]any{"type": "integer", "title": "Count"},
	}}
	if !reflect.DeepEqual(res["inputs"], wantInputs) {
		t.Errorf("inputs = %#v\nwant %#v", res["inputs"], wantInputs)
	}
	wantOutputs := map[string]any{"type": "object", "properties": map[string]any{"Total": map[string]any{"type": "number", "title": "Total"}}}
	if !reflect.DeepEqual(res["outputs"], wantOutputs) || res["name"] != "Invoice bot" || res["workflowId"] != invoiceFlow {
		t.Errorf("answer = %v", res)
	}
	res, err = operations.GetDesktopFlowSchema(ctx, c, srv.URL(), echoFlow)
	if err != nil || res["inputs"] != nil || res["outputs"] != nil {
		t.Errorf("a flow without a schema: %v %v", res, err)
	}
	_, err = operations.GetDesktopFlowSchema(ctx, c, srv.URL(), cloudFlow)
	if ie := inputError(t, err, "workflowId"); !strings.Contains(ie.Msg, "not a desktop flow") {
		t.Errorf("a cloud flow: %v", ie)
	}
	_, err = operations.GetDesktopFlowSchema(ctx, c, srv.URL(), "00000000-0000-4000-8000-000000000009")
	httpError(t, err, http.StatusNotFound, "0x80040217")
}

// TestJSONSchemaReadsTheDocumentedSample: Dataverse's documented answer (defaults "", a
// number's value "0", format null) becomes a JSON Schema with typed defaults.
func TestJSONSchemaReadsTheDocumentedSample(t *testing.T) {
	t.Parallel()
	doc := operations.ParseBody("application/json", []byte(`{"schema": {"properties": {
		"inputText": {"default": "", "description": "", "format": null, "title": "inputText", "type": "string", "value": ""},
		"inputInteger": {"default": "", "description": "", "format": null, "title": "inputInteger", "type": "number", "value": "0"},
		"inputFlag": {"default": "true", "description": "A flag", "format": null, "title": "Flag", "type": "boolean", "value": null}
	}, "type": "object"}}`))
	got := operations.JSONSchema(doc, true)
	want := map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
		"inputText":    map[string]any{"type": "string", "title": "inputText"},
		"inputInteger": map[string]any{"type": "number", "title": "inputInteger", "default": int64(0)},
		"inputFlag":    map[string]any{"type": "boolean", "title": "Flag", "description": "A flag", "default": true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSONSchema = %#v\nwant %#v", got, want)
	}
}

// TestInputSchemaCheck: an unknown name, a wrong type and a missing required input are input
// errors on runInputs.<name> saying the expected type; no message carries a value.
func TestInputSchemaCheck(t *testing.T) {
	t.Parallel()
	s := &operations.InputSchema{WorkflowID: invoiceFlow, Vars: []operations.Variable{
		{Name: "Amount", Type: "number"}, {Name: "Count", Type: "integer"}, {Name: "Lines", Type: "array"},
		{Name: "Name", Type: "string", Required: true}, {Name: "Table", Type: "datatable"},
	}}
	tests := []struct {
		name, inputs, field, msg string
	}{
		{"right", `{"Name": "Ada", "Amount": 1.5, "Count": 2, "Lines": [], "Table": {"x": 1}}`, "", ""},
		{"unknown name", `{"Name": "Ada", "Nmae": "hunter2-secret"}`, "runInputs.Nmae", "desktop flow " + invoiceFlow + " has no input of that name; its inputs are Amount (number), Count (integer), Lines (array), Name (string, required), Table (datatable)"},
		{"missing required", `{"Amount": 3}`, "runInputs.Name", "is required by desktop flow " + invoiceFlow + ": a string"},
		{"wrong type", `{"Name": 4242424242}`, "runInputs.Name", "must be a string (desktop flow " + invoiceFlow + "'s input schema), got a number"},
		{"a fraction for an integer", `{"Name": "A", "Count": 2.5}`, "runInputs.Count", "must be an integer (desktop flow " + invoiceFlow + "'s input schema), got a number"},
		{"text for a number", `{"Name": "A", "Amount": "hunter2-secret"}`, "runInputs.Amount", "must be a number (desktop flow " + invoiceFlow + "'s input schema), got a string"},
		{"null", `{"Name": null}`, "runInputs.Name", "must be a string (desktop flow " + invoiceFlow + "'s input schema), got null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := operations.DecodeInputs(tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(in)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *operations.InputError
			if !errors.As(err, &ie) || ie.Field != tc.field || ie.Msg != tc.msg {
				t.Fatalf("error = %v\nwant %s: %s", err, tc.field, tc.msg)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "4242") {
				t.Errorf("the message quotes a value: %v", err)
			}
		})
	}
	var none *operations.InputSchema
	if err := none.Check(map[string]any{"Anything": 1}); err != nil {
		t.Errorf("a flow without a schema refuses inputs: %v", err)
	}
}
