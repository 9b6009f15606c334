package dataversetest

import (
	"net/http"
	"testing"
)

var testActions = []Action{
	{Name: "new_Score", Inputs: []Parameter{{Name: "Name", Type: "Edm.String"}, {Name: "Weight", Type: "Edm.Int32", Optional: true}},
		Outputs: map[string]any{"Echo": "${inputs.Name}", "Score": 7}},
	{Name: "new_Escalate", BoundTable: "incident", Inputs: []Parameter{{Name: "Reason", Type: "Edm.String"}},
		Outputs: map[string]any{"CaseId": "${row.id}", "Reason": "${inputs.Reason}"}},
	{Name: "new_Ping"},
	{Name: "new_Broken", Fail: "The plug-in refused: budget exceeded."},
}

func TestCustomActions(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Actions: testActions})
	a := send(t, s, http.MethodPost, api+"new_Score", map[string]any{"Name": "Ada", "Weight": 2})
	m := a.json(t)
	if a.status != 200 || m["Echo"] != "Ada" || m["Score"] != 7.0 || m["@odata.context"] != s.URL()+api+"$metadata#Microsoft.Dynamics.CRM.new_ScoreResponse" {
		t.Fatalf("unbound: %d %s", a.status, a.body)
	}
	if a := send(t, s, http.MethodPost, api+"new_Ping", nil); a.status != http.StatusNoContent {
		t.Fatalf("no outputs: %d %s", a.status, a.body)
	}
	id := create(t, s, "incidents", map[string]any{"title": "Broken"})["incidentid"].(string)
	a = send(t, s, http.MethodPost, api+"incidents("+id+")/Microsoft.Dynamics.CRM.new_Escalate", map[string]any{"Reason": "late"})
	if m := a.json(t); a.status != 200 || m["CaseId"] != id || m["Reason"] != "late" {
		t.Fatalf("bound: %d %s", a.status, a.body)
	}
	calls := s.ActionCalls()
	if len(calls) != 3 || calls[2].Table != "incident" || calls[2].RowID != id || calls[0].Inputs["Weight"] != int64(2) {
		t.Fatalf("calls %+v", calls)
	}
	cases := []struct {
		name, path string
		body       any
		status     int
		code, msg  string
	}{
		{"unknown parameter", "new_Score", map[string]any{"Name": "a", "name": "b"}, 400, CodePayloadError, "The parameter 'name' in the request payload is not a valid parameter for the operation 'new_Score'."},
		{"missing parameter", "new_Score", map[string]any{"Weight": 1}, 400, CodePayloadError, "The missing parameters are: Name."},
		{"wrong type", "new_Score", map[string]any{"Name": "a", "Weight": "1"}, 400, CodePayloadError, "Cannot convert the literal '1' to the expected type 'Edm.Int32'."},
		{"plug-in failure", "new_Broken", nil, 400, CodeActionFailed, "budget exceeded"},
		{"bound action called unbound", "new_Escalate", map[string]any{"Reason": "x"}, 404, CodeResourceNotFound, "Resource not found for the segment 'new_Escalate'."},
		{"bound action on another table", "accounts(" + id + ")/Microsoft.Dynamics.CRM.new_Escalate", map[string]any{"Reason": "x"}, 404, CodeResourceNotFound, "Microsoft.Dynamics.CRM.new_Escalate"},
		{"bound action on a missing row", "incidents(00000000-0000-4000-8000-0000000000e1)/Microsoft.Dynamics.CRM.new_Escalate", map[string]any{"Reason": "x"}, 404, CodeObjectDoesNotExist, "incident With Id"},
		{"unknown action", "new_Nope", nil, 404, CodeResourceNotFound, "Resource not found for the segment 'new_Nope'."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, send(t, s, http.MethodPost, api+c.path, c.body), c.status, c.code, c.msg)
		})
	}
	if n := len(s.ActionCalls()); n != 3 {
		t.Fatalf("refused calls were recorded: %d", n)
	}
}

func TestAdminInspectsRowsActionsAndFlows(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Actions: testActions, CloudFlows: map[string]CloudFlow{syncFlow: {Name: "N"}},
		Tables: []Table{{LogicalName: "account", Rows: []map[string]any{{"name": "Seeded", "accountcategorycode": 1}}}}})
	adminGet := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(s.URL() + "/_emulator/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if err := jsonDecode(resp.Body, v); err != nil {
			t.Fatal(err)
		}
	}
	var rows []map[string]any
	adminGet("tables/account/rows", &rows)
	if len(rows) != 1 || rows[0]["name"] != "Seeded" || rows[0]["accountcategorycode@"+annFormatted] != "Preferred Customer" || rows[0]["_ownerid_value@"+annLookupTable] != "systemuser" {
		t.Fatalf("rows %v", rows)
	}
	send(t, s, http.MethodPost, api+"new_Ping", nil)
	var calls []ActionCall
	adminGet("actions", &calls)
	if len(calls) != 1 || calls[0].Name != "new_Ping" {
		t.Fatalf("actions %v", calls)
	}
	var flows []struct{ ID, Auth, URL string }
	adminGet("cloudflows", &flows)
	if len(flows) != 1 || flows[0].URL != s.FlowURL(syncFlow) || flows[0].Auth != FlowAuthSAS {
		t.Fatalf("cloudflows %v (want %s)", flows, s.FlowURL(syncFlow))
	}
	post(t, flows[0].URL, "", map[string]any{"recordId": "r"})
	var runs []FlowRun
	adminGet("flowruns", &runs)
	if len(runs) != 1 || runs[0].Body["recordId"] != "r" {
		t.Fatalf("flowruns %v", runs)
	}
	resp, err := http.Get(s.URL() + "/_emulator/tables/nope/rows")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown table: %d", resp.StatusCode)
	}
}
