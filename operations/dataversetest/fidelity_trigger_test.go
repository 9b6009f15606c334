package dataversetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The fidelity suite, RunDesktopFlow section of the audit
// (shared/reference/emulator-fidelity-audit.md): one test per row, named
// TestFidelity_Row<N>_<what>, asserting what Microsoft documents. The rows and
// their status are listed in fidelity_rows_test.go and docs/emulator.md.

// wantErr checks an OData error answer: status, code and message (a prefix
// when want ends in "…").
func wantErr(t *testing.T, what string, a answer, status int, code, message string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d, want %d: %s", what, a.status, status, a.body)
		return
	}
	gotCode, msg := a.odata(t)
	if gotCode != code {
		t.Errorf("%s: code %q, want %q", what, gotCode, code)
	}
	if prefix, ok := strings.CutSuffix(message, "…"); ok {
		if !strings.HasPrefix(msg, prefix) {
			t.Errorf("%s: message %q, want prefix %q", what, msg, prefix)
		}
	} else if msg != message {
		t.Errorf("%s: message %q\nwant %q", what, msg, message)
	}
}

// run posts a RunDesktopFlow body (a string is sent as is) to wfID.
func run(t *testing.T, s *Server, body any) answer {
	t.Helper()
	return call(t, s, http.MethodPost, runPath(wfID), staticToken, body)
}

// runSession triggers wfID with body and returns the run as the emulator keeps it.
func runSession(t *testing.T, s *Server, body map[string]any) FlowSession {
	t.Helper()
	id := trigger(t, s, body)
	f, ok := s.Session(id)
	if !ok {
		t.Fatalf("run %s not kept", id)
	}
	return f
}

// Row 1: POST {org}/api/data/v9.2/workflows({id})/Microsoft.Dynamics.CRM.RunDesktopFlow,
// an action bound to workflow; the action name is case-sensitive.
func TestFidelity_Row1_Endpoint(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	body := map[string]any{"runMode": "unattended", "connectionName": "c"}
	if a := run(t, s, body); a.status != http.StatusOK {
		t.Fatalf("documented path: %d %s", a.status, a.body)
	}
	if n := s.Count(OpRunDesktopFlow); n != 1 {
		t.Errorf("Count(RunDesktopFlow) = %d, want 1", n)
	}
	lower := "/api/data/v9.2/workflows(" + wfID + ")/Microsoft.Dynamics.CRM.rundesktopflow"
	wantErr(t, "action in lower case", call(t, s, http.MethodPost, lower, staticToken, body),
		http.StatusNotFound, CodeResourceNotFound, "Resource not found for the segment 'Microsoft.Dynamics.CRM.rundesktopflow'.")
	unbound := "/api/data/v9.2/Microsoft.Dynamics.CRM.RunDesktopFlow"
	if a := call(t, s, http.MethodPost, unbound, staticToken, body); a.status != http.StatusNotFound {
		t.Errorf("unbound action: %d, want 404", a.status)
	}
	if got := len(s.Sessions()); got != 1 {
		t.Errorf("%d runs, want 1 (only the documented path starts one)", got)
	}
}

// Row 3: runMode and connectionName are non-nullable Edm.String; runPriority,
// inputs and callbackUrl nullable Edm.String; timeout and connectionType
// nullable Edm.Int32 (RDF). Wrong types are OData payload errors.
func TestFidelity_Row3_ParameterTypes(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, tc := range []struct{ name, body, message string }{
		{"Int32 as a string", `{"runMode":"attended","connectionName":"c","timeout":"60"}`, "Cannot convert the literal '60' to the expected type 'Edm.Int32'."},
		{"Int32 with a fraction", `{"runMode":"attended","connectionName":"c","connectionType":1.5}`, "Cannot convert the literal '1.5' to the expected type 'Edm.Int32'."},
		{"String as a number", `{"runMode":"attended","connectionName":"c","runPriority":5}`, "Cannot convert the literal '5' to the expected type 'Edm.String'."},
		{"String as a boolean", `{"runMode":true,"connectionName":"c"}`, "Cannot convert the literal 'true' to the expected type 'Edm.String'."},
		{"null runMode", `{"runMode":null,"connectionName":"c"}`, "A null value was found for the property named 'runMode', which has the expected type 'Edm.String[Nullable=False]'. The expected type 'Edm.String[Nullable=False]' does not allow null values."},
		{"null connectionName", `{"runMode":"attended","connectionName":null}`, "A null value was found for the property named 'connectionName', which has the expected type 'Edm.String[Nullable=False]'. …"},
		{"missing connectionName", `{"runMode":"attended"}`, "One or more parameters of the operation 'RunDesktopFlow' are missing from the request payload. The missing parameters are: connectionName."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, run(t, s, tc.body), http.StatusBadRequest, CodePayloadError, payloadErrorPrefix+tc.message)
		})
	}
	t.Run("nullable parameters may be null", func(t *testing.T) {
		f := runSession(t, s, map[string]any{"runMode": "attended", "connectionName": "c",
			"runPriority": nil, "inputs": nil, "callbackUrl": nil, "timeout": nil, "connectionType": nil})
		if f.RunPriority != "normal" || f.ConnectionType != 1 || f.Timeout != DefaultRunTimeout || f.CallbackURL != "" {
			t.Errorf("nulls did not count as absent: %+v", f)
		}
	})
}

// Row 4: undeclared or miscased parameters are refused with 0x80048d19.
func TestFidelity_Row4_UndeclaredParameter(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, name := range []string{"foo", "RunMode", "connectionname", "priority"} {
		body := `{"runMode":"attended","connectionName":"c",` + jsonString(name) + `:"x"}`
		wantErr(t, name, run(t, s, body), http.StatusBadRequest, CodePayloadError,
			payloadErrorPrefix+"The parameter '"+name+"' in the request payload is not a valid parameter for the operation 'RunDesktopFlow'.")
	}
	if n := len(s.Sessions()); n != 0 {
		t.Errorf("%d runs started by refused bodies", n)
	}
}

// Row 5: runMode is attended or unattended; the row's runmode follows it.
func TestFidelity_Row5_RunMode(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for mode, runmode := range map[string]float64{"attended": 1, "unattended": 2} {
		id := trigger(t, s, map[string]any{"runMode": mode, "connectionName": "c"})
		if got := getSession(t, s, id, "?$select=runmode")["runmode"]; got != runmode {
			t.Errorf("runMode %s: runmode %v, want %v", mode, got, runmode)
		}
	}
	for _, bad := range []string{"Attended", "UNATTENDED", "interactive", ""} {
		wantErr(t, "runMode "+bad, run(t, s, map[string]any{"runMode": bad, "connectionName": "c"}),
			http.StatusBadRequest, CodeInvalidArgument, "Invalid runMode '"+bad+"': expected 'attended' or 'unattended'.")
	}
}

// Row 6: runPriority is normal or high, or a value of the caller's own.
func TestFidelity_Row6_RunPriority(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, p := range []string{"normal", "high", "my-own-priority"} {
		if f := runSession(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "runPriority": p}); f.RunPriority != p {
			t.Errorf("runPriority %q kept as %q", p, f.RunPriority)
		}
	}
	if f := runSession(t, s, nil); f.RunPriority != "normal" {
		t.Errorf("default runPriority = %q, want normal", f.RunPriority)
	}
}

// Row 8: connectionType 1 = connection (the default), 2 = connection reference.
func TestFidelity_Row8_ConnectionType(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, ct := range []int{1, 2} {
		if f := runSession(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "connectionType": ct}); f.ConnectionType != ct {
			t.Errorf("connectionType %d kept as %d", ct, f.ConnectionType)
		}
	}
	if f := runSession(t, s, nil); f.ConnectionType != 1 {
		t.Errorf("default connectionType = %d, want 1", f.ConnectionType)
	}
	for _, bad := range []int{0, 3, -1} {
		wantErr(t, "connectionType", run(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "connectionType": bad}),
			http.StatusBadRequest, CodeInvalidArgument, "Invalid connectionType "+itoa(bad)+": …")
	}
}

// Row 9: timeout in seconds, default 3 hours, at most 24 hours.
func TestFidelity_Row9_Timeout(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	if f := runSession(t, s, nil); f.Timeout != 3*60*60 {
		t.Errorf("default timeout = %d s, want 10800", f.Timeout)
	}
	for _, ok := range []int{1, 86400} {
		if f := runSession(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "timeout": ok}); f.Timeout != ok {
			t.Errorf("timeout %d kept as %d", ok, f.Timeout)
		}
	}
	for _, bad := range []int{0, 86401, -5} {
		wantErr(t, "timeout "+itoa(bad), run(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "timeout": bad}),
			http.StatusBadRequest, CodeInvalidArgument, "Invalid timeout "+itoa(bad)+": it must be between 1 and 86400 seconds.")
	}
}

// Row 10: inputs is a JSON-serialized string of at most 2 MB.
func TestFidelity_Row10_Inputs(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	f := runSession(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": `{"Name":"Ada","Count":3}`})
	if fmt.Sprint(f.Inputs) != "map[Count:3 Name:Ada]" {
		t.Errorf("inputs kept as %v", f.Inputs)
	}
	wantErr(t, "an object", run(t, s, `{"runMode":"attended","connectionName":"c","inputs":{"a":1}}`), http.StatusBadRequest, CodePayloadError,
		payloadErrorPrefix+"An unexpected 'StartObject' node was found for property named 'inputs' when reading from the JSON reader. A 'PrimitiveValue' node was expected.")
	wantErr(t, "not a JSON object", run(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "inputs": `[1]`}),
		http.StatusBadRequest, CodeInvalidArgument, "The inputs parameter must be a JSON-serialized object…")
	// One byte more than 2 MB (2,097,152 bytes of the string) is refused. (Under the race
	// detector a 2 MB body takes seconds to parse, so the suite sends one, not the boundary's two.)
	over := `{"a":"` + strings.Repeat("x", MaxInputsBytes+1-8) + `"}`
	wantErr(t, "2 MB + 1", run(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "inputs": over}),
		http.StatusBadRequest, CodeInvalidArgument, "The inputs parameter is 2097153 bytes long; at most 2097152 bytes (2 MB) are allowed.")
	if MaxInputsBytes != 2*1024*1024 {
		t.Errorf("MaxInputsBytes = %d, want 2 MB", MaxInputsBytes)
	}
}

// Row 11: callbackUrl must be HTTPS, not localhost or a loopback, not an IP
// address: a DNS name.
func TestFidelity_Row11_CallbackURLRules(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, u := range []string{"http://hooks.example.com/cb", "https://localhost/cb", "https://app.localhost/cb",
		"https://127.0.0.1/cb", "https://10.0.0.7/cb", "https://[::1]/cb", "https://[2001:db8::1]/cb", "hooks.example.com/cb"} {
		wantErr(t, u, run(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "callbackUrl": u}),
			http.StatusBadRequest, CodeInvalidArgument, "The callbackUrl parameter must be an absolute HTTPS URL whose host is a DNS name (not localhost or an IP address).")
	}
	f := runSession(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "callbackUrl": "https://hooks.example.com/cb?x=1"})
	if f.CallbackURL != "https://hooks.example.com/cb?x=1" {
		t.Errorf("callbackUrl kept as %q", f.CallbackURL)
	}
}

// Row 12: the flowsession callbackurl column holds at most 2000 characters:
// a longer callbackUrl is refused, one of 2000 is stored whole.
func TestFidelity_Row12_CallbackURLLength(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	base := "https://hooks.example.com/"
	exact := base + strings.Repeat("é", MaxCallbackURL-len(base)) // 2000 characters, more bytes
	id := trigger(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "callbackUrl": exact})
	if got := getSession(t, s, id, "?$select=callbackurl")["callbackurl"]; got != exact {
		t.Errorf("callbackurl of a 2000-character URL not stored whole (%d characters back)", len([]rune(got.(string))))
	}
	wantErr(t, "2001 characters", run(t, s, map[string]any{"runMode": "attended", "connectionName": "c", "callbackUrl": exact + "a"}),
		http.StatusBadRequest, CodeInvalidArgument, "The callbackUrl parameter is 2001 characters long; at most 2000 are allowed (the length of the flowsession callbackurl column).")
	if MaxCallbackURL != 2000 {
		t.Errorf("MaxCallbackURL = %d, want 2000", MaxCallbackURL)
	}
}

// Row 13: 200 with @odata.context …#Microsoft.Dynamics.CRM.RunDesktopFlowResponse,
// flowsessionId (a GUID) and licenseCheck (an expando), nothing else.
func TestFidelity_Row13_ResponseBody(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	a := run(t, s, map[string]any{"runMode": "unattended", "connectionName": "c"})
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	m := a.json(t)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"@odata.context", "flowsessionId", "licenseCheck"}) {
		t.Errorf("keys %v", keys)
	}
	if m["@odata.context"] != s.URL()+"/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RunDesktopFlowResponse" {
		t.Errorf("@odata.context = %v", m["@odata.context"])
	}
	id, _ := m["flowsessionId"].(string)
	if _, ok := parseGUID(id); !ok {
		t.Errorf("flowsessionId %q is not a GUID", id)
	}
	if _, ok := s.Session(id); !ok {
		t.Errorf("flowsessionId %s names no run", id)
	}
	lc, _ := m["licenseCheck"].(map[string]any)
	if lc["@odata.context"] != "#Microsoft.Dynamics.CRM.expando" || lc["code"] != "ValidLicenseCoverage" || lc["message"] == "" || lc["message"] == nil {
		t.Errorf("licenseCheck = %v", lc)
	}
}

// Row 14: the documented licenseCheck codes come back as configured and never
// block the run. (The failure messages are the emulator's own: a known gap.)
func TestFidelity_Row14_LicenseCheckCodes(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"ValidLicenseCoverage", "LicensingCheckFailed", "AttendedNoLicense", "UnattendedNoAddon"} {
		t.Run(code, func(t *testing.T) {
			s := start(t, Options{Flows: map[string]Flow{wfID: {LicenseCheck: code}}})
			a := run(t, s, map[string]any{"runMode": "attended", "connectionName": "c"})
			if a.status != http.StatusOK {
				t.Fatalf("%d %s", a.status, a.body)
			}
			var got struct {
				LicenseCheck struct{ Code, Message string } `json:"licenseCheck"`
			}
			if err := json.Unmarshal(a.body, &got); err != nil {
				t.Fatal(err)
			}
			if got.LicenseCheck.Code != code || got.LicenseCheck.Message == "" {
				t.Errorf("licenseCheck = %+v, want code %s and a message", got.LicenseCheck, code)
			}
			if n := len(s.Sessions()); n != 1 {
				t.Errorf("%d runs, want 1: a license check does not block the run", n)
			}
		})
	}
}

// Row 15: an unknown workflow is 404 0x80040217 "… Does Not Exist"; body
// errors are reported first.
func TestFidelity_Row15_UnknownWorkflow(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	body := map[string]any{"runMode": "unattended", "connectionName": "c"}
	wantErr(t, "unknown workflow", call(t, s, http.MethodPost, runPath(otherWFID), staticToken, body),
		http.StatusNotFound, CodeObjectDoesNotExist, "workflow With Id = "+otherWFID+" Does Not Exist")
	wantErr(t, "unknown workflow, bad body", call(t, s, http.MethodPost, runPath(otherWFID), staticToken, `{"foo":1}`),
		http.StatusBadRequest, CodePayloadError, payloadErrorPrefix+"The parameter 'foo' …")
}

// Row 16: a malformed key is 400 0x80060888 "Bad Request - Error in query syntax."
func TestFidelity_Row16_MalformedKey(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	body := map[string]any{"runMode": "unattended", "connectionName": "c"}
	for _, key := range []string{"not-a-guid", "{" + wfID + "}", "'" + wfID + "'", "workflowid=" + wfID, wfID[:35]} {
		wantErr(t, "workflows("+key+")", call(t, s, http.MethodPost, runPath(key), staticToken, body),
			http.StatusBadRequest, CodeQuerySyntax, "Bad Request - Error in query syntax.")
	}
	wantErr(t, "flowsessions(flowsessionid=…)", call(t, s, http.MethodGet, sessionPath("flowsessionid="+wfID), staticToken, nil),
		http.StatusBadRequest, CodeQuerySyntax, "Bad Request - Error in query syntax.")
}

// Row 17: another method on an action is 404, code "", "No HTTP resource was
// found that matches the request URI '…'".
func TestFidelity_Row17_WrongMethodOnAction(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := trigger(t, s, nil)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, runPath(wfID)},
		{http.MethodPut, runPath(wfID)},
		{http.MethodGet, sessionPath(id) + "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun"},
	} {
		wantErr(t, tc.method+" "+tc.path, call(t, s, tc.method, tc.path, staticToken, nil),
			http.StatusNotFound, "", "No HTTP resource was found that matches the request URI '"+s.URL()+tc.path+"'.")
	}
	if f, _ := s.Session(id); f.StatusCode == StatusCancelled {
		t.Error("GET on CancelDesktopFlowRun cancelled the run")
	}
}

// Row 18: an unknown or miscased segment is 404 0x8006088a "Resource not
// found for the segment 'x'."
func TestFidelity_Row18_UnknownSegment(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for path, seg := range map[string]string{
		"/api/data/v9.2/workflows(" + wfID + ")/RunDesktopFlow": "RunDesktopFlow",
		"/api/data/v9.2/FlowSessions(" + wfID + ")":             "FlowSessions",
		"/api/data/v9.2/flowsession(" + wfID + ")":              "flowsession",
	} {
		wantErr(t, path, call(t, s, http.MethodPost, path, staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"}),
			http.StatusNotFound, CodeResourceNotFound, "Resource not found for the segment '"+seg+"'.")
	}
}

// Row 22: Prefer: return=representation concerns create and update only; the
// action answers as without it.
func TestFidelity_Row22_PreferOnAction(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	req, err := http.NewRequest(http.MethodPost, s.URL()+runPath(wfID), strings.NewReader(`{"runMode":"unattended","connectionName":"c"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+staticToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "return=representation")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 (not 201)", resp.StatusCode)
	}
	if pa := resp.Header.Get("Preference-Applied"); pa != "" {
		t.Errorf("Preference-Applied = %q on an action", pa)
	}
}
