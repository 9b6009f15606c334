package dataversetest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	draftID = "7d1f3a52-2b8e-4c47-8a61-5e9c2d0b6a02"
	cloudID = "c10d0000-0000-4000-8000-000000000001"
)

// schemaFlows: an Invoice bot with a schema, an Echo flow without one, a draft, and a cloud flow.
func schemaFlows() Options {
	return Options{
		Flows: map[string]Flow{
			wfID: {Name: "Invoice bot", Description: "Books invoices", InputSchema: []FlowVariable{
				{Name: "Name", Type: "string", Description: "The customer", Required: true},
				{Name: "Amount", Type: "number", Default: 0.0},
				{Name: "Count", Type: "integer"},
				{Name: "Urgent", Type: "boolean"},
				{Name: "Lines", Type: "array"},
				{Name: "Address", Type: "object"},
			}, OutputSchema: []FlowVariable{{Name: "Total", Type: "number"}},
				Outputs: map[string]any{"Total": 42}},
			otherWFID: {Name: "Echo", EchoInputs: true},
			draftID:   {Name: "Archive bot", Draft: true},
		},
		CloudFlows: map[string]CloudFlow{cloudID: {Name: "Notify owner"}},
	}
}

func names(t *testing.T, a answer) []string {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("listing: %d %s", a.status, a.body)
	}
	var out []string
	for _, v := range a.json(t)["value"].([]any) {
		out = append(out, v.(map[string]any)["name"].(string))
	}
	return out
}

// TestDesktopFlowListing: the documented listing request answers the category-6 rows with the
// selected columns in the asked order; drafts come only with MSCRM.IncludeUnpublished: true;
// $filter works on name and cloud flows (category 5) are rows too.
func TestDesktopFlowListing(t *testing.T) {
	t.Parallel()
	s := start(t, schemaFlows())
	get := func(query string, unpublished bool) answer {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/data/v9.2/workflows?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+staticToken)
		if unpublished {
			req.Header.Set("MSCRM.IncludeUnpublished", "true")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&body)
		return answer{status: res.StatusCode, header: res.Header, body: body}
	}
	documented := "$filter=category+eq+6&$select=name,workflowid&$orderby=name"
	a := get(documented, false)
	if got := names(t, a); !reflect.DeepEqual(got, []string{"Echo", "Invoice bot"}) {
		t.Errorf("published desktop flows = %v, want Echo and Invoice bot (no draft, no cloud flow)", got)
	}
	m := a.json(t)
	if ctx, _ := m["@odata.context"].(string); !strings.HasSuffix(ctx, "$metadata#workflows(name,workflowid)") {
		t.Errorf("@odata.context = %q", ctx)
	}
	first := m["value"].([]any)[0].(map[string]any)
	if _, ok := first["description"]; ok || first["workflowid"] != otherWFID || first["@odata.etag"] == nil {
		t.Errorf("a selected row = %v, want @odata.etag, name and workflowid only", first)
	}
	if got := names(t, get(documented, true)); !reflect.DeepEqual(got, []string{"Archive bot", "Echo", "Invoice bot"}) {
		t.Errorf("with MSCRM.IncludeUnpublished: %v", got)
	}
	if got := names(t, get("$filter=category+eq+6+and+contains(name,'INVOICE')&$select=name,description,statecode", false)); !reflect.DeepEqual(got, []string{"Invoice bot"}) {
		t.Errorf("filtered on name: %v", got)
	}
	if got := names(t, get("$filter=category+eq+5", false)); !reflect.DeepEqual(got, []string{"Notify owner"}) {
		t.Errorf("cloud flows: %v", got)
	}
	if got := names(t, get("$filter=category+eq+6&$orderby=name+desc", true)); !reflect.DeepEqual(got, []string{"Invoice bot", "Echo", "Archive bot"}) {
		t.Errorf("ordered by name desc: %v", got)
	}
	row := get("$filter=name+eq+'Invoice+bot'&$select=description,statecode,statuscode", false).json(t)["value"].([]any)[0].(map[string]any)
	if row["description"] != "Books invoices" || row["statecode"] != 1.0 || row["statuscode"] != 2.0 {
		t.Errorf("Invoice bot's row = %v", row)
	}
	if a := get("$select=nope", false); a.status != http.StatusBadRequest {
		t.Errorf("unknown column: %d %s", a.status, a.body)
	}
	if a := call(t, s, http.MethodPatch, "/api/data/v9.2/workflows("+wfID+")", staticToken, map[string]any{"name": "x"}); a.status != http.StatusForbidden {
		t.Errorf("writing a workflow row: %d %s, want 403 (flows come from the configuration)", a.status, a.body)
	}
}

// TestFlowSchemaDownloads: workflows(id)/inputs/$value and /outputs/$value answer the
// documented document; a flow without a schema, a cloud flow and an unknown id are 404s.
func TestFlowSchemaDownloads(t *testing.T) {
	t.Parallel()
	s := start(t, schemaFlows())
	a := call(t, s, http.MethodGet, "/api/data/v9.2/workflows("+strings.ToUpper(wfID)+")/inputs/$value", staticToken, nil)
	if a.status != http.StatusOK || a.header.Get("x-ms-file-name") != "inputs.json" {
		t.Fatalf("inputs: %d %v %s", a.status, a.header, a.body)
	}
	var doc struct {
		Schema struct {
			Type       string
			Required   []string
			Properties map[string]map[string]any
		}
	}
	if err := json.Unmarshal(a.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema.Type != "object" || !reflect.DeepEqual(doc.Schema.Required, []string{"Name"}) || len(doc.Schema.Properties) != 6 {
		t.Fatalf("inputs schema: %s", a.body)
	}
	want := map[string]any{"default": "", "description": "The customer", "format": nil, "title": "Name", "type": "string", "value": ""}
	if got := doc.Schema.Properties["Name"]; !reflect.DeepEqual(got, want) {
		t.Errorf("Name = %v, want %v", got, want)
	}
	if got := doc.Schema.Properties["Amount"]; got["default"] != 0.0 || got["type"] != "number" {
		t.Errorf("Amount = %v", got)
	}
	if strings.Index(string(a.body), `"Name"`) > strings.Index(string(a.body), `"Amount"`) {
		t.Errorf("properties are not in declaration order: %s", a.body)
	}
	out := call(t, s, http.MethodGet, "/api/data/v9.2/workflows("+wfID+")/outputs/$value", staticToken, nil)
	if out.status != http.StatusOK || !strings.Contains(string(out.body), `"Total":{"default":"","description":"","format":null,"title":"Total","type":"number","value":null}`) {
		t.Errorf("outputs: %d %s", out.status, out.body)
	}
	for name, path := range map[string]string{
		"no schema":  "workflows(" + otherWFID + ")/inputs/$value",
		"cloud flow": "workflows(" + cloudID + ")/outputs/$value",
		"unknown":    "workflows(00000000-0000-4000-8000-000000000009)/inputs/$value",
	} {
		a := call(t, s, http.MethodGet, "/api/data/v9.2/"+path, staticToken, nil)
		code, _ := a.odata(t)
		if a.status != http.StatusNotFound || code != CodeObjectDoesNotExist {
			t.Errorf("%s: %d %s", name, a.status, a.body)
		}
	}
	if a := call(t, s, http.MethodPost, "/api/data/v9.2/workflows("+wfID+")/inputs/$value", staticToken, "{}"); a.status != http.StatusNotFound {
		t.Errorf("POST on the schema: %d", a.status)
	}
	if s.Emulator.Count(OpGetWorkflowInputs) != 4 || s.Emulator.Count(OpGetWorkflowOutputs) != 2 {
		t.Errorf("counts: inputs %d outputs %d", s.Emulator.Count(OpGetWorkflowInputs), s.Emulator.Count(OpGetWorkflowOutputs))
	}
}

// TestRunWithInputsAgainstTheSchema: RunDesktopFlow accepts any inputs object (Dataverse does
// not read the flow's schema), and a run whose inputs do not match it fails when it starts,
// errorcode InvalidInputs naming the input and never its value; matching inputs succeed.
func TestRunWithInputsAgainstTheSchema(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	o := schemaFlows()
	f := o.Flows[wfID]
	f.QueueDelay, f.Duration = 10*time.Second, time.Minute
	o.Flows[wfID], o.Clock = f, clock.Now
	s := start(t, o)
	tests := []struct {
		name, inputs, status, message string
	}{
		{"matching", `{"Name":"Ada","Amount":1.5,"Count":3,"Urgent":true,"Lines":[1],"Address":{"City":"X"}}`, "Succeeded", ""},
		{"only the required one", `{"Name":"Ada"}`, "Succeeded", ""},
		{"unknown name", `{"Name":"Ada","Nmae":"secret-value-1"}`, "Failed", "The input 'Nmae' is not an input variable of the desktop flow."},
		{"missing required", `{"Amount":2}`, "Failed", "The required input 'Name' is missing."},
		{"no inputs at all", ``, "Failed", "The required input 'Name' is missing."},
		{"wrong type", `{"Name":12345}`, "Failed", "The input 'Name' must be a string, not a number."},
		{"a fraction for an integer", `{"Name":"Ada","Count":1.5}`, "Failed", "The input 'Count' must be a integer, not a number."},
		{"a string for a number", `{"Name":"Ada","Amount":"secret-value-2"}`, "Failed", "The input 'Amount' must be a number, not a string."},
		{"null", `{"Name":null}`, "Failed", "The input 'Name' must be a string, not a null."},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		body := map[string]any{"runMode": "unattended", "connectionName": "conn1"}
		if tc.inputs != "" {
			body["inputs"] = tc.inputs
		}
		ids[tc.name] = trigger(t, s, body) // every trigger is accepted
	}
	if row := getSession(t, s, ids["unknown name"], ""); row["statuscode"] != 3.0 {
		t.Errorf("a run with bad inputs is Waiting (3) until a machine takes it: %v", row["statuscode"])
	}
	clock.Add(2 * time.Minute)
	s.Emulator.Tick()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := s.Emulator.Session(ids[tc.name])
			if map[int]string{StatusSucceeded: "Succeeded", StatusFailed: "Failed"}[fs.StatusCode] != tc.status {
				t.Fatalf("status %d, want %s", fs.StatusCode, tc.status)
			}
			if tc.message == "" {
				return
			}
			if fs.ErrorCode != ErrorInvalidInputs || fs.ErrorMessage != tc.message {
				t.Errorf("error %s %q, want %s %q", fs.ErrorCode, fs.ErrorMessage, ErrorInvalidInputs, tc.message)
			}
			if !fs.StartedOn.Equal(fs.CompletedOn.UTC()) || fs.StartedOn.Sub(fs.CreatedOn) != 10*time.Second {
				t.Errorf("a bad run fails as it starts, after its queue delay: created %v started %v completed %v", fs.CreatedOn, fs.StartedOn, fs.CompletedOn)
			}
			if strings.Contains(fs.ErrorMessage, "secret-value") || fs.Outputs != nil {
				t.Errorf("message quotes a value or outputs were made: %q %s", fs.ErrorMessage, fs.Outputs)
			}
		})
	}
	// A flow without a schema takes any inputs.
	a := call(t, s, http.MethodPost, runPath(otherWFID), staticToken, map[string]any{"runMode": "attended", "connectionName": "c", "inputs": `{"Anything":1}`})
	id, _ := a.json(t)["flowsessionId"].(string)
	clock.Add(time.Hour)
	if fs, _ := s.Emulator.Session(id); fs.StatusCode != StatusSucceeded {
		t.Errorf("a flow without a schema: status %d", fs.StatusCode)
	}
}

// TestSchemaOptionsValidate: Options.Validate names a bad flow id or variable.
func TestSchemaOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		flows map[string]Flow
		want  string
	}{
		"id":      {map[string]Flow{"not-a-guid": {}}, "flows[not-a-guid]: the workflow id must be a GUID"},
		"type":    {map[string]Flow{wfID: {InputSchema: []FlowVariable{{Name: "A", Type: "Text"}}}}, `flows[` + wfID + `].inputSchema[0].type "Text" is not one of`},
		"default": {map[string]Flow{wfID: {OutputSchema: []FlowVariable{{Name: "A", Type: "integer", Default: 1.5}}}}, `flows[` + wfID + `].outputSchema[0].default is a number, not a integer`},
	} {
		err := Options{Flows: tc.flows}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if err := (Options{Flows: map[string]Flow{"{" + strings.ToUpper(wfID) + "}": {InputSchema: []FlowVariable{{Name: "A", Type: "integer", Default: 2}}}}}).Validate(); err != nil {
		t.Errorf("a braced upper-case id and a whole default: %v", err)
	}
}
