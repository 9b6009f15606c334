package dataversetest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// One test per row of shared/reference/emulator-fidelity-audit.md that the
// emulator was changed for, named TestFidelity_Row<N>_<what>, so it cannot
// drift back. docs/emulator.md lists the rows that now match.

// Row 50: REQ_ID and x-ms-service-request-id on every Web API answer (one
// fresh id per request, the same under both names), errors and 401 included.
func TestFidelity_Row50_RequestIDs(t *testing.T) {
	s := start(t, Options{})
	answers := map[string]answer{
		"200": call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"}),
		"404": call(t, s, http.MethodGet, "/api/data/v9.2/nosuchset", staticToken, nil),
		"401": call(t, s, http.MethodGet, sessionPath(wfID), "", nil),
	}
	seen := map[string]string{}
	for name, a := range answers {
		id := a.header.Get("x-ms-service-request-id")
		if _, ok := parseGUID(id); !ok {
			t.Errorf("%s: x-ms-service-request-id = %q, want a GUID", name, id)
		}
		if got := a.header.Get("REQ_ID"); got != id {
			t.Errorf("%s: REQ_ID = %q, want x-ms-service-request-id %q", name, got, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share request id %s", name, other, id)
		}
		seen[id] = name
	}
}

// Row 51: x-ms-dop-hint, a positive integer, on every Web API answer.
func TestFidelity_Row51_DOPHint(t *testing.T) {
	s := start(t, Options{})
	for _, a := range []answer{
		call(t, s, http.MethodGet, "/api/data/v9.2/nosuchset", staticToken, nil),
		call(t, s, http.MethodGet, sessionPath(wfID), "", nil),
	} {
		if got := a.header.Get("x-ms-dop-hint"); got != DOPHint {
			t.Errorf("%d answer: x-ms-dop-hint = %q, want %q", a.status, got, DOPHint)
		}
	}
}

// Row 67: x-ms-ratelimit-time-remaining-xrm-requests reads "1,200.00" as in
// Microsoft's capture, with a thousands separator.
func TestFidelity_Row67_TimeRemainingFormat(t *testing.T) {
	s := start(t, Options{})
	a := call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil)
	if got := a.header.Get("x-ms-ratelimit-time-remaining-xrm-requests"); got != "1,200.00" {
		t.Errorf("time remaining of a fresh caller = %q, want 1,200.00", got)
	}
	for d, want := range map[time.Duration]string{
		0:                                      "0.00",
		999 * time.Millisecond:                 "0.99",
		20*time.Minute - 1234*time.Millisecond: "1,198.76",
		1234567 * time.Second:                  "1,234,567.00",
	} {
		if got := secondsRemaining(d); got != want {
			t.Errorf("secondsRemaining(%v) = %q, want %q", d, got, want)
		}
	}
}

// Row 21: a JSON body must be sent with Content-Type: application/json
// (parameters such as charset allowed); anything else is refused with 415
// and no run starts.
func TestFidelity_Row21_ContentType(t *testing.T) {
	s := start(t, Options{})
	body := `{"runMode":"unattended","connectionName":"c"}`
	for _, tc := range []struct {
		name, contentType string
		want              int
		message           string
	}{
		{"json", "application/json", http.StatusOK, ""},
		{"json with charset", "application/json; charset=utf-8", http.StatusOK, ""},
		{"json with odata parameters, any case", "Application/JSON;odata.metadata=minimal", http.StatusOK, ""},
		{"missing", "", http.StatusUnsupportedMediaType, "no Content-Type header"},
		{"text/plain", "text/plain", http.StatusUnsupportedMediaType, "'text/plain' is not supported"},
		{"form", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "'application/x-www-form-urlencoded' is not supported"},
		{"malformed", "application/json;;", http.StatusUnsupportedMediaType, "is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.Sessions())
			req, err := http.NewRequest(http.MethodPost, s.URL()+runPath(wfID), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+staticToken)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			started := len(s.Sessions()) - before
			if tc.want != http.StatusOK {
				a := answer{status: resp.StatusCode, header: resp.Header, body: b}
				if _, msg := a.odata(t); !strings.Contains(msg, tc.message) {
					t.Errorf("message %q, want it to contain %q", msg, tc.message)
				}
				if started != 0 {
					t.Errorf("%d runs started by a refused request", started)
				}
			} else if started != 1 {
				t.Errorf("%d runs started, want 1", started)
			}
		})
	}
	// A request without a body needs no Content-Type.
	id := trigger(t, s, nil)
	req, _ := http.NewRequest(http.MethodGet, s.URL()+sessionPath(id), nil)
	req.Header.Set("Authorization", "Bearer "+staticToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET without Content-Type: %d, want 200", resp.StatusCode)
	}
}

// Row 2: v9.0 and v9.1 paths are answered as v9.2 is (authenticated, same
// operations, OData errors); other versions are unknown paths.
func TestFidelity_Row2_OlderVersions(t *testing.T) {
	s := start(t, Options{})
	for _, v := range []string{"v9.0", "v9.1", "v9.2"} {
		t.Run(v, func(t *testing.T) {
			path := func(p string) string { return strings.Replace(p, "/v9.2/", "/"+v+"/", 1) }
			a := call(t, s, http.MethodPost, path(runPath(wfID)), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"})
			if a.status != http.StatusOK {
				t.Fatalf("RunDesktopFlow on %s: %d %s", v, a.status, a.body)
			}
			id, _ := a.json(t)["flowsessionId"].(string)
			g := call(t, s, http.MethodGet, path(sessionPath(id))+"?$select=statuscode", staticToken, nil)
			if g.status != http.StatusOK || g.json(t)["statuscode"] == nil {
				t.Fatalf("GET flowsession on %s: %d %s", v, g.status, g.body)
			}
			if u := call(t, s, http.MethodGet, path(sessionPath(id)), "", nil); u.status != http.StatusUnauthorized {
				t.Errorf("no token on %s: %d, want 401", v, u.status)
			}
			if n := call(t, s, http.MethodGet, path("/api/data/v9.2/nosuchset"), staticToken, nil); n.status != http.StatusNotFound || n.header.Get("OData-Version") != "4.0" {
				t.Errorf("unknown set on %s: %d, OData-Version %q, want an OData 404", v, n.status, n.header.Get("OData-Version"))
			}
		})
	}
	if a := call(t, s, http.MethodGet, "/api/data/v8.2/flowsessions("+wfID+")", staticToken, nil); a.status != http.StatusNotFound {
		t.Errorf("v8.2: %d, want 404", a.status)
	}
}

// Row 28: every documented readable flowsession column can be selected;
// the ones the emulator has no value for are null, callbackurl holds the
// run's callbackUrl.
func TestFidelity_Row28_DocumentedColumns(t *testing.T) {
	s := start(t, Options{CallbackAllowedHosts: []string{"hooks.example.com"}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": "https://hooks.example.com/cb"})
	documented := []string{"callbackurl", "connectionid", "gateway", "inputs", "inputs_name",
		"additionalcontext", "additionalcontext_name", "clienttrackingid", "rundetails",
		"runexecutionduration", "runwaitduration", "runsessionmode", "sessionusername",
		"sessionusersid", "errorinnererror", "parentworkflowid", "processversion",
		"versionnumber", "_owninguser_value", "_owningbusinessunit_value"}
	row := getSession(t, s, id, "?$select="+strings.Join(documented, ","))
	for _, c := range documented {
		v, ok := row[c]
		if !ok {
			t.Errorf("column %s missing", c)
			continue
		}
		switch c {
		case "callbackurl":
			if v != "https://hooks.example.com/cb" {
				t.Errorf("callbackurl = %v", v)
			}
		case "versionnumber":
			if n, _ := v.(float64); n < 1 {
				t.Errorf("versionnumber = %v, want the row version", v)
			}
		case "_owninguser_value":
			if v != callerID {
				t.Errorf("_owninguser_value = %v, want %s", v, callerID)
			}
		default:
			if v != nil {
				t.Errorf("%s = %v, want null", c, v)
			}
		}
	}
	full := getSession(t, s, id, "")
	for _, c := range documented {
		if _, ok := full[c]; !ok {
			t.Errorf("column %s missing from the full row", c)
		}
	}
}

// Row 29: priority is not a flowsession column: $select=priority is refused
// and the full row has none (runPriority shows only in context).
func TestFidelity_Row29_NoPriorityColumn(t *testing.T) {
	s := start(t, Options{})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "runPriority": "high"})
	a := call(t, s, http.MethodGet, sessionPath(id)+"?$select=priority", staticToken, nil)
	if a.status != http.StatusBadRequest {
		t.Fatalf("$select=priority: %d %s, want 400", a.status, a.body)
	}
	if code, msg := a.odata(t); code != CodeQuerySyntax || msg != "Could not find a property named 'priority' on type 'Microsoft.Dynamics.CRM.flowsession'." {
		t.Errorf("$select=priority: %s %q", code, msg)
	}
	if _, ok := getSession(t, s, id, "")["priority"]; ok {
		t.Error("the full row has a priority column")
	}
}

// Row 31: $expand=regardingobjectid follows the run's workflow, with an
// optional nested $select; an unknown navigation property is refused as
// Dataverse refuses it.
func TestFidelity_Row31_Expand(t *testing.T) {
	s := start(t, Options{Flows: map[string]Flow{wfID: {Name: "Invoice bot"}}})
	id := trigger(t, s, nil)
	row := getSession(t, s, id, "?$select=statuscode&$expand=regardingobjectid($select=name)")
	wf, ok := row["regardingobjectid"].(map[string]any)
	if !ok {
		t.Fatalf("regardingobjectid = %#v, want the workflow row", row["regardingobjectid"])
	}
	if wf["name"] != "Invoice bot" || wf["workflowid"] != wfID || wf["@odata.etag"] == nil {
		t.Errorf("expanded workflow = %v", wf)
	}
	if _, extra := wf["description"]; extra {
		t.Errorf("nested $select ignored: %v", wf)
	}
	if ctx, _ := row["@odata.context"].(string); !strings.HasSuffix(ctx, "#flowsessions(statuscode,regardingobjectid(name))/$entity") {
		t.Errorf("@odata.context = %q", ctx)
	}
	for q, want := range map[string]string{
		"?$expand=machineid_nosuch":                  "Could not find a property named 'machineid_nosuch' on type 'Microsoft.Dynamics.CRM.flowsession'.",
		"?$expand=regardingobjectid($select=nosuch)": "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.workflow'.",
		"?$filter=statuscode eq 4":                   "The query parameter '$filter' is not supported by the emulator.",
	} {
		a := call(t, s, http.MethodGet, sessionPath(id)+strings.ReplaceAll(q, " ", "%20"), staticToken, nil)
		if _, msg := a.odata(t); a.status != http.StatusBadRequest || msg != want {
			t.Errorf("%s: %d %q, want 400 %q", q, a.status, msg, want)
		}
	}
}

// Row 7: connectionName names an existing desktop-flow connection, or with connectionType 2
// the logical name of a connectionreference row (listed like any table: $filter, $select).
// With connections declared, an unknown or unshared connection or reference is refused and
// starts no run.
func TestFidelity_Row7_ConnectionsAndReferences(t *testing.T) {
	s := start(t, connOptions())
	a := call(t, s, http.MethodGet, "/api/data/v9.2/connectionreferences?$select=connectionreferencelogicalname,connectionid,connectorid&$filter=connectionreferencelogicalname%20eq%20'new_ok'", staticToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("listing connectionreferences: %d %s", a.status, a.body)
	}
	rows, _ := a.json(t)["value"].([]any)
	if len(rows) != 1 {
		t.Fatalf("rows = %v, want new_ok only", rows)
	}
	row, _ := rows[0].(map[string]any)
	if row["connectionreferencelogicalname"] != "new_ok" || row["connectionid"] != "conn-ok" || row["connectorid"] != DesktopFlowsConnector {
		t.Errorf("row = %v", row)
	}
	if _, ok := row["connectionreferenceid"]; !ok {
		t.Errorf("the primary key is missing: %v", row)
	}
	if _, extra := row["connectionreferencedisplayname"]; extra {
		t.Errorf("$select ignored: %v", row)
	}
	for name, typ := range map[string]int{"nope": 1, "new_nope": 2, "new_private": 2} {
		a := call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": name, "connectionType": typ})
		if a.status < 400 {
			t.Errorf("%s (type %d) started a run: %s", name, typ, a.body)
		}
	}
	if n := len(s.Sessions()); n != 0 {
		t.Errorf("%d runs, want 0", n)
	}
}
