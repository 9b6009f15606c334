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
