package dataversetest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStatusProgression(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		flow      Flow
		timeout   int
		steps     []time.Duration // clock moves; a status is checked after each
		statuses  []int
		errorcode string
	}{
		{"succeeds", Flow{QueueDelay: 10 * time.Second, Duration: time.Minute}, 0,
			[]time.Duration{0, 10 * time.Second, 59 * time.Second, time.Second}, []int{3, 2, 2, 4}, ""},
		{"fails", Flow{Duration: time.Minute, FinalStatus: StatusFailed, ErrorCode: "NoListenerConnected", ErrorMessage: "no listener"}, 0,
			[]time.Duration{0, time.Minute}, []int{2, 8}, "NoListenerConnected"},
		{"times out before its duration", Flow{QueueDelay: 5 * time.Second, Duration: 2 * time.Hour}, 60,
			[]time.Duration{5 * time.Second, 59 * time.Second, time.Second}, []int{2, 2, 10}, "DesktopFlowsActionTimeout"},
		{"no machine within 6 hours", Flow{QueueDelay: 7 * time.Hour}, 0,
			[]time.Duration{5 * time.Hour, time.Hour}, []int{3, 8}, "NoCandidateMachine"},
		{"faulted with a default error", Flow{FinalStatus: StatusFaulted}, 0,
			[]time.Duration{0}, []int{9}, "DesktopFlowRunFailed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: tc.flow}})
			body := map[string]any{"runMode": "unattended", "connectionName": "c"}
			if tc.timeout > 0 {
				body["timeout"] = tc.timeout
			}
			t0 := clock.Now()
			id := trigger(t, s, body)
			lastTag := ""
			for i, step := range tc.steps {
				clock.Add(step)
				row := getSession(t, s, id, "")
				if got := int(row["statuscode"].(float64)); got != tc.statuses[i] {
					t.Fatalf("step %d: statuscode = %d, want %d", i, got, tc.statuses[i])
				}
				if row["statecode"].(float64) != 0 {
					t.Errorf("statecode = %v", row["statecode"])
				}
				tag := row["@odata.etag"].(string)
				if i > 0 && tc.statuses[i] != tc.statuses[i-1] && tag == lastTag {
					t.Errorf("step %d: etag %s did not change with the status", i, tag)
				}
				if i > 0 && tc.statuses[i] == tc.statuses[i-1] && tag != lastTag {
					t.Errorf("step %d: etag changed from %s to %s without a change", i, lastTag, tag)
				}
				lastTag = tag
			}
			row := getSession(t, s, id, "")
			if row["completedon"] == nil {
				t.Errorf("completedon not set: %v", row)
			}
			if tc.errorcode != "" && row["errorcode"] != tc.errorcode {
				t.Errorf("errorcode = %v, want %s", row["errorcode"], tc.errorcode)
			}
			if tc.errorcode == "" && row["errorcode"] != nil {
				t.Errorf("errorcode = %v on success", row["errorcode"])
			}
			if tc.flow.QueueDelay < NoCandidateMachineAfter {
				want := t0.Add(tc.flow.QueueDelay).Format("2006-01-02T15:04:05Z")
				if row["startedon"] != want {
					t.Errorf("startedon = %v, want %s", row["startedon"], want)
				}
			} else if row["startedon"] != nil {
				t.Errorf("startedon = %v for a run no machine picked up", row["startedon"])
			}
		})
	}
}

func TestFlowSessionRow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {Name: "Invoice bot", Duration: 90 * time.Second}}})
	id := trigger(t, s, map[string]any{"runMode": "attended", "connectionName": "shared-uiflow-1", "runPriority": "high", "timeout": 600})
	clock.Add(90 * time.Second)
	row := getSession(t, s, id, "")
	want := map[string]any{
		"@odata.context":           s.URL() + "/api/data/v9.2/$metadata#flowsessions/$entity",
		"flowsessionid":            id,
		"name":                     "Invoice bot",
		"statuscode":               4.0,
		"statecode":                0.0,
		"startedon":                "2024-06-16T12:54:40Z",
		"completedon":              "2024-06-16T12:56:10Z",
		"runduration":              90.0,
		"runmode":                  1.0,
		"triggertype":              3.0,
		"_regardingobjectid_value": wfID,
		"errorcode":                nil,
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %#v, want %#v", k, row[k], v)
		}
	}
	for _, c := range flowSessionColumns {
		if _, ok := row[c]; !ok {
			t.Errorf("column %s missing without $select", c)
		}
	}
	var ctx map[string]any
	if err := json.Unmarshal([]byte(row["context"].(string)), &ctx); err != nil || ctx["connectionName"] != "shared-uiflow-1" || ctx["timeout"] != 600.0 {
		t.Errorf("context = %v (%v)", row["context"], err)
	}
	if _, ok := parseGUID(row["correlationid"].(string)); !ok {
		t.Errorf("correlationid = %v", row["correlationid"])
	}
}

func TestFlowSessionSelect(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := trigger(t, s, nil)
	a := call(t, s, "GET", sessionPath(id)+"?$select=statuscode,statecode,startedon,completedon", staticToken, nil)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(a.body)))
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	wantKeys := []string{"@odata.context", "@odata.etag", "statuscode", "statecode", "startedon", "completedon", "flowsessionid"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("keys = %v, want %v", keys, wantKeys)
	}
	row := a.json(t)
	if row["@odata.context"] != s.URL()+"/api/data/v9.2/$metadata#flowsessions(statuscode,statecode,startedon,completedon)/$entity" {
		t.Errorf("@odata.context = %v", row["@odata.context"])
	}
	if tag := row["@odata.etag"].(string); !strings.HasPrefix(tag, `W/"`) || a.header.Get("ETag") != tag {
		t.Errorf("etag = %q, ETag header %q", tag, a.header.Get("ETag"))
	}
	notModified := call(t, s, "GET", sessionPath(id)+"?$select=statuscode", staticToken, nil)
	req, _ := http.NewRequest("GET", s.URL()+sessionPath(id), nil)
	req.Header.Set("Authorization", "Bearer "+staticToken)
	req.Header.Set("If-None-Match", notModified.header.Get("ETag"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current etag: %d, want 304", resp.StatusCode)
	}

	errs := []struct {
		name, query, code, message string
	}{
		{"unknown column", "?$select=statuscode,Name", CodeQuerySyntax, "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.flowsession'."},
		{"lookup without _value", "?$select=regardingobjectid", CodeQuerySyntax, "Could not find a property named 'regardingobjectid' on type 'Microsoft.Dynamics.CRM.flowsession'."},
		{"empty item", "?$select=statuscode,,statecode", CodeQuerySyntax, "Bad Request - Error in query syntax."},
		{"unsupported option", "?$top=1", CodeQuerySyntax, "The query parameter '$top' is not supported by the emulator."},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, "GET", sessionPath(id)+tc.query, staticToken, nil)
			if a.status != 400 {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if code, msg := a.odata(t); code != tc.code || msg != tc.message {
				t.Errorf("error = %q %q", code, msg)
			}
		})
	}
}

func TestFlowSessionNotFound(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, path := range []string{sessionPath(otherWFID), sessionPath(otherWFID) + "/outputs/$value", sessionPath(otherWFID) + "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun"} {
		method := "GET"
		if strings.HasSuffix(path, "Run") {
			method = "POST"
		}
		a := call(t, s, method, path, staticToken, nil)
		if a.status != 404 {
			t.Fatalf("%s: status %d", path, a.status)
		}
		if code, msg := a.odata(t); code != CodeObjectDoesNotExist || msg != "flowsession With Id = "+otherWFID+" Does Not Exist" {
			t.Errorf("%s: %q %q", path, code, msg)
		}
	}
	if a := call(t, s, "GET", sessionPath("123"), staticToken, nil); a.status != 400 {
		t.Errorf("malformed id: %d", a.status)
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	const echoID = "0c9ab6b1-2f7e-4a63-9a4e-2b7b0c9f5e11"
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{
		wfID:   {Duration: time.Minute, Outputs: map[string]any{"Greeting": "${inputs.Name}", "Fixed": 7, "Nested": map[string]any{"List": []any{"${inputs.Count}", "${inputs.Missing}"}}}},
		echoID: {EchoInputs: true},
	}})
	inputs := `{"Name":"Ada","Count":3}`
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": inputs})
	before := call(t, s, "GET", sessionPath(id)+"/outputs/$value", staticToken, nil)
	if before.status != 404 {
		t.Fatalf("outputs before completion: %d %s", before.status, before.body)
	}
	if code, msg := before.odata(t); code != CodeObjectDoesNotExist || msg != "No file attachment found for attribute: outputs EntityId: "+id+"." {
		t.Errorf("before completion: %q %q", code, msg)
	}
	clock.Add(time.Minute)
	a := call(t, s, "GET", sessionPath(id)+"/outputs/$value", staticToken, nil)
	if a.status != 200 {
		t.Fatalf("outputs: %d %s", a.status, a.body)
	}
	want := `{"Fixed":7,"Greeting":"Ada","Nested":{"List":[3,null]}}`
	if string(a.body) != want {
		t.Errorf("outputs = %s, want %s", a.body, want)
	}
	for h, v := range map[string]string{"x-ms-file-name": "outputs.json", "x-ms-file-size": "55", "mimetype": "application/json", "Content-Type": "application/octet-stream", "OData-Version": "4.0"} {
		if got := a.header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if a.header.Get("Content-Length") != "" {
		t.Errorf("Content-Length = %q, want none (streamed)", a.header.Get("Content-Length"))
	}
	if row := getSession(t, s, id, "?$select=outputs_name"); row["outputs_name"] != "outputs.json" {
		t.Errorf("outputs_name = %v", row["outputs_name"])
	}

	a = call(t, s, "POST", runPath(echoID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": `{"b":[1,2],"a":"x"}`})
	echoRun := a.json(t)["flowsessionId"].(string)
	a = call(t, s, "GET", sessionPath(echoRun)+"/outputs/$value", staticToken, nil)
	if a.status != 200 || string(a.body) != `{"a":"x","b":[1,2]}` {
		t.Errorf("echo outputs: %d %s", a.status, a.body)
	}
}

func TestOutputsOnlyForSucceededRuns(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{wfID: {FinalStatus: StatusFailed, EchoInputs: true}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": `{"a":1}`})
	if a := call(t, s, "GET", sessionPath(id)+"/outputs/$value", staticToken, nil); a.status != 404 {
		t.Errorf("outputs of a failed run: %d", a.status)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {Duration: time.Minute}}})
	cancel := func(id string, body any) answer {
		return call(t, s, "POST", sessionPath(id)+"/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", staticToken, body)
	}

	running := trigger(t, s, nil)
	clock.Add(10 * time.Second)
	if a := cancel(running, nil); a.status != 204 || len(a.body) != 0 || a.header.Get("OData-Version") != "4.0" {
		t.Fatalf("cancel: %d %q", a.status, a.body)
	}
	clock.Add(time.Hour)
	row := getSession(t, s, running, "")
	if row["statuscode"] != 7.0 || row["completedon"] != "2024-06-16T12:54:52Z" {
		t.Errorf("after cancel: statuscode %v completedon %v, want 7 at the cancel + DefaultCancelDelay", row["statuscode"], row["completedon"])
	}

	done := trigger(t, s, nil)
	clock.Add(time.Minute)
	tag := getSession(t, s, done, "")["@odata.etag"]
	if a := cancel(done, map[string]any{}); a.status != 204 {
		t.Fatalf("cancel of a finished run: %d %s", a.status, a.body)
	}
	row = getSession(t, s, done, "")
	if row["statuscode"] != 4.0 || row["@odata.etag"] != tag {
		t.Errorf("cancel changed a finished run: %v %v", row["statuscode"], row["@odata.etag"])
	}

	if a := cancel(done, map[string]any{"reason": "x"}); a.status != 400 {
		t.Errorf("cancel with a parameter: %d", a.status)
	} else if _, msg := a.odata(t); !strings.HasSuffix(msg, "The parameter 'reason' in the request payload is not a valid parameter for the operation 'CancelDesktopFlowRun'.") {
		t.Errorf("message %q", msg)
	}
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{wfID: {Duration: time.Hour, EchoInputs: true}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": `{"a":1}`})
	if err := s.SetStatus(id, StatusRunning); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Session(id); f.StatusCode != StatusRunning || f.StartedOn == nil {
		t.Errorf("after SetStatus(2): %+v", f)
	}
	if err := s.SetStatus(strings.ToUpper(id), StatusSucceeded); err != nil {
		t.Fatal(err)
	}
	f, ok := s.Session(id)
	if !ok || f.StatusCode != 4 || f.CompletedOn == nil || string(f.Outputs) != `{"a":1}` {
		t.Errorf("after SetStatus(4): %+v", f)
	}
	if err := s.SetStatus(otherWFID, 4); err == nil {
		t.Error("SetStatus of an unknown run succeeded")
	}
	if err := s.SetStatus(id, 15); err == nil {
		t.Error("SetStatus(15) succeeded")
	}
}
