package dataversetest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fidelity suite, flowsession (status) section of the audit.

// getWith reads path with extra request headers.
func getWith(t *testing.T, s *Server, path string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+staticToken)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// jsonKeys lists the top-level keys of a JSON object in their order.
func jsonKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// Row 23: GET flowsessions({id})?$select=statuscode,statecode,startedon,completedon
// answers @odata.context …#flowsessions(cols)/$entity, @odata.etag and the
// selected columns (with the primary key, as Dataverse returns it).
func TestFidelity_Row23_StatusRead(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := trigger(t, s, nil)
	a := call(t, s, http.MethodGet, sessionPath(id)+"?$select=statuscode,statecode,startedon,completedon", staticToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	want := []string{"@odata.context", "@odata.etag", "statuscode", "statecode", "startedon", "completedon", "flowsessionid"}
	if keys := jsonKeys(t, a.body); !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	row := a.json(t)
	if row["@odata.context"] != s.URL()+"/api/data/v9.2/$metadata#flowsessions(statuscode,statecode,startedon,completedon)/$entity" {
		t.Errorf("@odata.context = %v", row["@odata.context"])
	}
	if tag, _ := row["@odata.etag"].(string); !strings.HasPrefix(tag, `W/"`) || a.header.Get("ETag") != tag {
		t.Errorf("@odata.etag %q, ETag header %q", tag, a.header.Get("ETag"))
	}
	if row["flowsessionid"] != id {
		t.Errorf("flowsessionid = %v", row["flowsessionid"])
	}
}

// Row 24: statuscode 0-14; statecode 1 (Inactive) for 0, 13 and 14 only, 0
// (Active) for every other, finished runs included.
func TestFidelity_Row24_StatusAndStateCodes(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{wfID: {QueueDelay: time.Hour}}})
	for code := StatusNotSpecified; code <= StatusTerminated; code++ {
		id := trigger(t, s, nil)
		if err := s.SetStatus(id, code); err != nil {
			t.Fatal(err)
		}
		row := getSession(t, s, id, "?$select=statuscode,statecode")
		want := 0.0
		if code == 0 || code == 13 || code == 14 {
			want = 1
		}
		if row["statuscode"] != float64(code) || row["statecode"] != want {
			t.Errorf("statuscode %d: row has statuscode %v statecode %v, want statecode %v", code, row["statuscode"], row["statecode"], want)
		}
	}
	if err := s.SetStatus(trigger(t, s, nil), 15); err == nil {
		t.Error("statuscode 15 accepted")
	}
}

// Row 25: runs queue, run and finish; a failed run keeps statecode 0; a run
// no machine takes within 6 hours fails with NoCandidateMachine.
func TestFidelity_Row25_Lifecycle(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	const failing = "3c0e4c1e-6a0b-4a7e-9a0c-0d0f5b1f0f01"
	const stuck = "5d1b7c55-0000-4a7e-9a0c-0d0f5b1f0f02"
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{
		wfID:    {QueueDelay: time.Minute, Duration: time.Minute},
		failing: {Duration: time.Minute, FinalStatus: StatusFailed, ErrorCode: "NoListenerConnected"},
		stuck:   {QueueDelay: 24 * time.Hour},
	}})
	start := func(flow string) string {
		a := call(t, s, http.MethodPost, runPath(flow), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"})
		id, _ := a.json(t)["flowsessionId"].(string)
		return id
	}
	ok, bad, none := start(wfID), start(failing), start(stuck)
	status := func(id string) (float64, float64) {
		row := getSession(t, s, id, "?$select=statuscode,statecode")
		return row["statuscode"].(float64), row["statecode"].(float64)
	}
	if sc, _ := status(ok); sc != StatusWaiting {
		t.Errorf("queued run: statuscode %v, want 3 Waiting", sc)
	}
	clock.Add(time.Minute)
	if sc, _ := status(ok); sc != StatusRunning {
		t.Errorf("started run: statuscode %v, want 2 Running", sc)
	}
	clock.Add(time.Minute)
	if sc, st := status(ok); sc != StatusSucceeded || st != 0 {
		t.Errorf("finished run: %v/%v, want 4/0", sc, st)
	}
	if sc, st := status(bad); sc != StatusFailed || st != 0 {
		t.Errorf("failed run: %v/%v, want 8/0 as in the documented example", sc, st)
	}
	clock.Add(NoCandidateMachineAfter - time.Minute)
	row := getSession(t, s, none, "?$select=statuscode,errorcode,startedon")
	if row["statuscode"] != 8.0 || row["errorcode"] != "NoCandidateMachine" || row["startedon"] != nil {
		t.Errorf("run without a machine after 6 h: %v", row)
	}
}

// Row 26: an unknown run is 404 0x80040217 for GET, outputs and cancel.
func TestFidelity_Row26_UnknownRow(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for method, path := range map[string]string{
		http.MethodGet + " row":     sessionPath(otherWFID),
		http.MethodGet + " outputs": sessionPath(otherWFID) + "/outputs/$value",
		http.MethodPost + " cancel": sessionPath(otherWFID) + "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun",
	} {
		m := strings.Fields(method)[0]
		wantErr(t, method, call(t, s, m, path, staticToken, nil), http.StatusNotFound, CodeObjectDoesNotExist, "flowsession With Id = "+otherWFID+" Does Not Exist")
	}
}

// Row 27: an unknown $select column is 400 "Could not find a property named
// 'x' on type 'Microsoft.Dynamics.CRM.flowsession'."; names are case-sensitive.
// The code is Dataverse's current 0x80060888 (the documented example, older,
// shows 0x0): see docs/emulator.md.
func TestFidelity_Row27_UnknownSelectColumn(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := trigger(t, s, nil)
	for _, col := range []string{"nosuch", "StatusCode", "statusCode"} {
		wantErr(t, col, call(t, s, http.MethodGet, sessionPath(id)+"?$select=statecode,"+col, staticToken, nil),
			http.StatusBadRequest, CodeQuerySyntax, "Could not find a property named '"+col+"' on type 'Microsoft.Dynamics.CRM.flowsession'.")
	}
}

// Row 30: runmode 1 Attended, 2 Unattended; triggertype 3 RunDesktopFlowDataverseApi.
func TestFidelity_Row30_RunModeAndTriggerType(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for mode, want := range map[string]float64{"attended": 1, "unattended": 2} {
		id := trigger(t, s, map[string]any{"runMode": mode, "connectionName": "c"})
		row := getSession(t, s, id, "?$select=runmode,triggertype")
		if row["runmode"] != want || row["triggertype"] != 3.0 {
			t.Errorf("%s: runmode %v triggertype %v, want %v and 3", mode, row["runmode"], row["triggertype"], want)
		}
	}
}

// Row 32: If-None-Match with the row's current ETag is 304 Not Modified; once
// the row changes it is 200 again.
func TestFidelity_Row32_ConditionalGet(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {QueueDelay: time.Minute, Duration: time.Minute}}})
	id := trigger(t, s, nil)
	tag := call(t, s, http.MethodGet, sessionPath(id), staticToken, nil).header.Get("ETag")
	a := getWith(t, s, sessionPath(id)+"?$select=statuscode", map[string]string{"If-None-Match": tag})
	if a.status != http.StatusNotModified || len(a.body) != 0 {
		t.Errorf("unchanged row: %d %q, want 304 and no body", a.status, a.body)
	}
	clock.Add(time.Minute) // Waiting → Running
	if a := getWith(t, s, sessionPath(id)+"?$select=statuscode", map[string]string{"If-None-Match": tag}); a.status != http.StatusOK || a.header.Get("ETag") == tag {
		t.Errorf("changed row: %d, ETag %q (was %q), want 200 and a new ETag", a.status, a.header.Get("ETag"), tag)
	}
}

// Row 33: If-None-Match: null (recommended on every request) is no condition.
func TestFidelity_Row33_IfNoneMatchNull(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := trigger(t, s, nil)
	if a := getWith(t, s, sessionPath(id), map[string]string{"If-None-Match": "null"}); a.status != http.StatusOK || a.json(t)["flowsessionid"] != id {
		t.Errorf("If-None-Match: null: %d %s, want the row", a.status, a.body)
	}
}

// Row 37: a method a collection does not support (PATCH, DELETE) is 405
// Method Not Allowed.
func TestFidelity_Row37_WrongMethodOnCollection(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, set := range []string{"flowsessions", "workflows", "accounts"} {
		for _, m := range []string{http.MethodPatch, http.MethodDelete, http.MethodPut} {
			wantErr(t, m+" "+set, call(t, s, m, "/api/data/v9.2/"+set, staticToken, nil),
				http.StatusMethodNotAllowed, "", "The requested resource does not support http method '"+m+"'.")
		}
	}
}

// Row 34: Prefer: odata.include-annotations="*" adds the formatted values, e.g.
// statuscode@OData.Community.Display.V1.FormattedValue, before each column;
// without the preference there are none. A request asking for annotations is
// never answered 304.
func TestFidelity_Row34_FormattedValues(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {Name: "Invoice bot", Duration: time.Minute}}})
	id := trigger(t, s, map[string]any{"runMode": "attended", "connectionName": "c"})
	clock.Add(time.Minute)
	cols := "?$select=statuscode,statecode,runmode,triggertype,startedon,_regardingobjectid_value,_ownerid_value,name"
	const fv = "@OData.Community.Display.V1.FormattedValue"
	a := getWith(t, s, sessionPath(id)+cols, map[string]string{"Prefer": `odata.include-annotations="*"`})
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	row := a.json(t)
	for k, want := range map[string]any{
		"statuscode" + fv:               "Succeeded",
		"statecode" + fv:                "Active",
		"runmode" + fv:                  "Attended",
		"triggertype" + fv:              "RunDesktopFlowDataverseApi",
		"startedon" + fv:                "6/16/2024 12:54 PM",
		"_regardingobjectid_value" + fv: "Invoice bot",
		"_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname":            "workflow",
		"_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "regardingobjectid",
		"_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":                      "systemuser",
	} {
		if row[k] != want {
			t.Errorf("%s = %v, want %q", k, row[k], want)
		}
	}
	if _, ok := row["name"+fv]; ok {
		t.Error("a string column has a formatted value")
	}
	keys := jsonKeys(t, a.body)
	if i := slices.Index(keys, "statuscode"+fv); i < 0 || keys[i+1] != "statuscode" {
		t.Errorf("the annotation does not come right before its column: %v", keys)
	}
	if got := a.header.Get("Preference-Applied"); got != `odata.include-annotations="*"` {
		t.Errorf("Preference-Applied = %q", got)
	}
	only := getWith(t, s, sessionPath(id)+cols, map[string]string{"Prefer": `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`}).json(t)
	if only["statuscode"+fv] != "Succeeded" || only["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != nil {
		t.Errorf("one term asked: %v", only)
	}
	plain := getSession(t, s, id, cols)
	for k := range plain {
		if strings.Contains(k, "@") && !strings.HasPrefix(k, "@odata.") {
			t.Errorf("annotation %s without the preference", k)
		}
	}
	tag := a.header.Get("ETag")
	if c := getWith(t, s, sessionPath(id), map[string]string{"If-None-Match": tag, "Prefer": `odata.include-annotations="*"`}); c.status != http.StatusOK {
		t.Errorf("If-None-Match with annotations asked: %d, want 200", c.status)
	}
}
