package dataversetest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// A test gets a token with client credentials, triggers a desktop flow,
// polls the run until it ends and downloads its outputs.
func ExampleNewServer() {
	const workflowID = "f091ffab-58bb-4630-a115-659453d56f59"
	srv := dataversetest.NewServer(dataversetest.Options{
		Clients: map[string]string{"my-app": "my-secret"},
		Flows: map[string]dataversetest.Flow{workflowID: {
			Duration: 30 * time.Millisecond,
			Outputs:  map[string]any{"Greeting": "${inputs.Name}"},
		}},
	})
	defer srv.Close()

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"my-app"}, "client_secret": {"my-secret"}, "scope": {srv.Scope()}}
	resp, _ := http.PostForm(srv.TokenURL(), form)
	var token struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()

	send := func(method, path, body string) []byte {
		req, _ := http.NewRequest(method, srv.URL()+"/api/data/v9.2/"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}

	var run struct{ FlowsessionID string }
	_ = json.Unmarshal(send("POST", "workflows("+workflowID+")/Microsoft.Dynamics.CRM.RunDesktopFlow",
		`{"runMode":"unattended","connectionName":"my-connection","inputs":"{\"Name\":\"Ada\"}"}`), &run)

	var row struct{ StatusCode int }
	for {
		_ = json.Unmarshal(send("GET", "flowsessions("+run.FlowsessionID+")?$select=statuscode", ""), &row)
		if dataversetest.Terminal(row.StatusCode) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("statuscode:", row.StatusCode)
	fmt.Println("outputs:", string(send("GET", "flowsessions("+run.FlowsessionID+")/outputs/$value", "")))
	fmt.Println("runs triggered:", srv.Count(dataversetest.OpRunDesktopFlow))
	// Output:
	// statuscode: 4
	// outputs: {"Greeting":"Ada"}
	// runs triggered: 1
}

// A test seeds a lead, creates a follow-up task bound to it, lists the
// open tasks ordered by due date with the lookup's table annotated, and runs
// a cloud flow that answers 202 + Location until its third poll.
func ExampleServer_FlowURL() {
	const leadID = "1ead0000-0000-4000-8000-000000000001"
	const flowID = "c10d0000-0000-4000-8000-000000000002"
	srv := dataversetest.NewServer(dataversetest.Options{
		Tokens:     []string{"t"},
		Tables:     []dataversetest.Table{{LogicalName: "lead", Rows: []map[string]any{{"leadid": leadID, "lastname": "Hopper"}}}},
		CloudFlows: map[string]dataversetest.CloudFlow{flowID: {Polls: 3, Body: map[string]any{"notified": "${inputs.recordId}"}}},
	})
	defer srv.Close()
	do := func(method, url, body string, header ...string) *http.Response {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, _ := http.DefaultClient.Do(req)
		return resp
	}
	api := srv.URL() + "/api/data/v9.2/"
	resp := do("POST", api+"tasks", `{"subject": "Call back", "scheduledend": "2024-07-01",
		"regardingobjectid_lead_task@odata.bind": "/leads(`+leadID+`)"}`)
	fmt.Println("create:", resp.StatusCode)

	resp = do("GET", api+"tasks?$select=subject,scheduledend,_regardingobjectid_value&$filter=statecode%20eq%200&$orderby=scheduledend", "",
		"Prefer", `odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`)
	var list struct{ Value []map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	task := list.Value[0]
	fmt.Println("task:", task["subject"], task["scheduledend"], task["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"])

	resp, _ = http.Post(srv.FlowURL(flowID), "application/json", strings.NewReader(`{"entityLogicalName": "lead", "recordId": "`+leadID+`"}`))
	loc := resp.Header.Get("Location")
	fmt.Println("trigger:", resp.StatusCode, "Retry-After", resp.Header.Get("Retry-After"))
	for polls := 0; polls < 10; polls++ { // the Location answers 202 until the flow is done
		resp, _ = http.Get(loc)
		if resp.StatusCode != http.StatusAccepted {
			break
		}
		resp.Body.Close()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("final:", resp.StatusCode, string(b))
	// Output:
	// create: 204
	// task: Call back 2024-07-01T00:00:00Z lead
	// trigger: 202 Retry-After 1
	// final: 200 {"notified":"1ead0000-0000-4000-8000-000000000001"}
}
