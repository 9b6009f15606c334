package dataversetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRunDesktopFlowRejectsBadBodies(t *testing.T) {
	t.Parallel()
	s := start(t, Options{CallbackAllowedHosts: []string{"allowed.test"}})
	pp := "Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: "
	tests := []struct {
		name    string
		body    string
		status  int
		code    string
		message string // the whole message, or a prefix when it ends in "…"
	}{
		{"connectionType as a string", `{"runMode":"attended","connectionName":"c","connectionType":"1"}`, 400, CodePayloadError, pp + "Cannot convert the literal '1' to the expected type 'Edm.Int32'."},
		{"connectionType with a fraction", `{"runMode":"attended","connectionName":"c","connectionType":1.5}`, 400, CodePayloadError, pp + "Cannot convert the literal '1.5' to the expected type 'Edm.Int32'."},
		{"connectionType with an exponent", `{"runMode":"attended","connectionName":"c","connectionType":1e0}`, 400, CodePayloadError, pp + "Cannot convert the literal '1e0' to the expected type 'Edm.Int32'."},
		{"timeout beyond Int32", `{"runMode":"attended","connectionName":"c","timeout":2147483648}`, 400, CodePayloadError, pp + "Cannot convert the literal '2147483648' to the expected type 'Edm.Int32'."},
		{"timeout as a boolean", `{"runMode":"attended","connectionName":"c","timeout":true}`, 400, CodePayloadError, pp + "Cannot convert the literal 'true' to the expected type 'Edm.Int32'."},
		{"inputs as an object", `{"runMode":"attended","connectionName":"c","inputs":{"a":1}}`, 400, CodePayloadError, pp + "An unexpected 'StartObject' node was found for property named 'inputs' when reading from the JSON reader. A 'PrimitiveValue' node was expected."},
		{"runMode as an array", `{"runMode":["attended"],"connectionName":"c"}`, 400, CodePayloadError, pp + "An unexpected 'StartArray' node was found for property named 'runMode' when reading from the JSON reader. A 'PrimitiveValue' node was expected."},
		{"connectionName as a number", `{"runMode":"attended","connectionName":5}`, 400, CodePayloadError, pp + "Cannot convert the literal '5' to the expected type 'Edm.String'."},
		{"unknown parameter", `{"runMode":"attended","connectionName":"c","priority":"high"}`, 400, CodePayloadError, pp + "The parameter 'priority' in the request payload is not a valid parameter for the operation 'RunDesktopFlow'."},
		{"parameter in another case", `{"RunMode":"attended","connectionName":"c"}`, 400, CodePayloadError, pp + "The parameter 'RunMode' in the request payload is not a valid parameter for the operation 'RunDesktopFlow'."},
		{"duplicate parameter", `{"runMode":"attended","runMode":"unattended","connectionName":"c"}`, 400, CodePayloadError, pp + "Multiple parameters with the name 'runMode' were found in the request payload."},
		{"missing runMode", `{"connectionName":"c"}`, 400, CodePayloadError, pp + "One or more parameters of the operation 'RunDesktopFlow' are missing from the request payload. The missing parameters are: runMode."},
		{"empty body", ``, 400, CodePayloadError, pp + "One or more parameters of the operation 'RunDesktopFlow' are missing from the request payload. The missing parameters are: runMode, connectionName."},
		{"null runMode", `{"runMode":null,"connectionName":"c"}`, 400, CodePayloadError, pp + "A null value was found for the property named 'runMode', which has the expected type 'Edm.String[Nullable=False]'. The expected type 'Edm.String[Nullable=False]' does not allow null values."},
		{"malformed JSON", `{"runMode":"attended",`, 400, CodePayloadError, pp + "Invalid JSON. …"},
		{"array body", `[1]`, 400, CodePayloadError, pp + "An unexpected 'StartArray' node was found when reading from the JSON reader. A 'StartObject' node was expected."},
		{"two JSON values", `{"runMode":"attended","connectionName":"c"} {}`, 400, CodePayloadError, pp + "Invalid JSON. More than one value…"},
		{"runMode not a mode", `{"runMode":"interactive","connectionName":"c"}`, 400, CodeInvalidArgument, "Invalid runMode 'interactive': expected 'attended' or 'unattended'."},
		{"runMode in upper case", `{"runMode":"Unattended","connectionName":"c"}`, 400, CodeInvalidArgument, "Invalid runMode 'Unattended': …"},
		{"empty connectionName", `{"runMode":"attended","connectionName":""}`, 400, CodeInvalidArgument, "The connectionName parameter must not be empty."},
		{"connectionType 3", `{"runMode":"attended","connectionName":"c","connectionType":3}`, 400, CodeInvalidArgument, "Invalid connectionType 3: …"},
		{"timeout 86401", `{"runMode":"attended","connectionName":"c","timeout":86401}`, 400, CodeInvalidArgument, "Invalid timeout 86401: it must be between 1 and 86400 seconds."},
		{"timeout 0", `{"runMode":"attended","connectionName":"c","timeout":0}`, 400, CodeInvalidArgument, "Invalid timeout 0: …"},
		{"inputs not JSON", `{"runMode":"attended","connectionName":"c","inputs":"{nope"}`, 400, CodeInvalidArgument, "The inputs parameter must be a JSON-serialized object…"},
		{"inputs a JSON array", `{"runMode":"attended","connectionName":"c","inputs":"[1,2]"}`, 400, CodeInvalidArgument, "The inputs parameter must be a JSON-serialized object…"},
		{"callbackUrl over http", `{"runMode":"attended","connectionName":"c","callbackUrl":"http://hooks.example.com/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be an absolute HTTPS URL whose host is a DNS name (not localhost or an IP address)."},
		{"callbackUrl to localhost", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://localhost/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl to an IP", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://10.1.2.3/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl to an IPv6 address", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://[::1]/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl relative", `{"runMode":"attended","connectionName":"c","callbackUrl":"/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl with credentials", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://u:p@hooks.example.com/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl to an allowed host over ftp", `{"runMode":"attended","connectionName":"c","callbackUrl":"ftp://allowed.test/x"}`, 400, CodeInvalidArgument, "The callbackUrl parameter must be …"},
		{"callbackUrl over 2000 characters", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://hooks.example.com/` + strings.Repeat("a", 2000-25) + `"}`, 400, CodeInvalidArgument, "The callbackUrl parameter is 2001 characters long; at most 2000 are allowed (the length of the flowsession callbackurl column)."},
		{"callbackUrl of 2000 characters", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://hooks.example.com/` + strings.Repeat("a", 2000-26) + `"}`, 200, "", ""},
		{"callbackUrl of 2000 characters, some of them multi-byte", `{"runMode":"attended","connectionName":"c","callbackUrl":"https://hooks.example.com/` + strings.Repeat("é", 2000-26) + `"}`, 200, "", ""},
		{"all parameters", `{"runMode":"attended","runPriority":"high","connectionName":"c","connectionType":2,"timeout":86400,"inputs":"{\"a\":1}","callbackUrl":"https://hooks.example.com/x?sig=1"}`, 200, "", ""},
		{"nullable parameters null", `{"runMode":"unattended","runPriority":null,"connectionName":"c","connectionType":null,"timeout":null,"inputs":null,"callbackUrl":null}`, 200, "", ""},
		{"http callback to an allowed host", `{"runMode":"attended","connectionName":"c","callbackUrl":"http://ALLOWED.test:8080/x"}`, 200, "", ""},
		{"annotation ignored", `{"@odata.type":"#Microsoft.Dynamics.CRM.expando","runMode":"attended","connectionName":"c"}`, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, http.MethodPost, runPath(wfID), staticToken, tc.body)
			if a.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == 200 {
				return
			}
			code, msg := a.odata(t)
			if code != tc.code {
				t.Errorf("code = %q, want %q", code, tc.code)
			}
			if prefix, ok := strings.CutSuffix(tc.message, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("message = %q, want prefix %q", msg, prefix)
				}
			} else if msg != tc.message {
				t.Errorf("message = %q\nwant      %q", msg, tc.message)
			}
			if got := a.header.Get("Content-Type"); got != "application/json; odata.metadata=minimal" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRunDesktopFlowAnswer(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{strings.ToUpper(wfID): {LicenseCheck: "UnattendedNoAddon"}}})
	a := call(t, s, http.MethodPost, runPath(strings.ToUpper(wfID)), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"})
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if v := a.header.Get("OData-Version"); v != "4.0" {
		t.Errorf("OData-Version = %q", v)
	}
	if v := a.header.Get("Content-Type"); v != "application/json; odata.metadata=minimal" {
		t.Errorf("Content-Type = %q", v)
	}
	var got struct {
		Context      string `json:"@odata.context"`
		ID           string `json:"flowsessionId"`
		LicenseCheck struct {
			Context string `json:"@odata.context"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"licenseCheck"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Context != s.URL()+"/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RunDesktopFlowResponse" {
		t.Errorf("@odata.context = %q", got.Context)
	}
	if _, ok := parseGUID(got.ID); !ok {
		t.Errorf("flowsessionId %q is not a GUID", got.ID)
	}
	if got.LicenseCheck.Context != "#Microsoft.Dynamics.CRM.expando" || got.LicenseCheck.Code != "UnattendedNoAddon" {
		t.Errorf("licenseCheck = %+v", got.LicenseCheck)
	}
	if !strings.HasPrefix(string(a.body), `{"@odata.context":`) {
		t.Errorf("@odata.context is not first: %s", a.body)
	}
}

func TestRunDesktopFlowAddressing(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	body := map[string]any{"runMode": "attended", "connectionName": "c"}
	tests := []struct {
		name, method, path string
		status             int
		code, message      string
	}{
		{"unknown workflow", "POST", runPath(otherWFID), 404, CodeObjectDoesNotExist, "workflow With Id = " + otherWFID + " Does Not Exist"},
		{"malformed GUID", "POST", runPath("not-a-guid"), 400, CodeQuerySyntax, "Bad Request - Error in query syntax."},
		{"braced GUID", "POST", runPath("{" + wfID + "}"), 400, CodeQuerySyntax, "Bad Request - Error in query syntax."},
		{"unqualified action", "POST", "/api/data/v9.2/workflows(" + wfID + ")/RunDesktopFlow", 404, CodeResourceNotFound, "Resource not found for the segment 'RunDesktopFlow'."},
		{"unknown entity set", "GET", "/api/data/v9.2/Workflows(" + wfID + ")", 404, CodeResourceNotFound, "Resource not found for the segment 'Workflows'."},
		{"GET on the action", "GET", runPath(wfID), 404, "", "No HTTP resource was found that matches the request URI '" + s.URL() + runPath(wfID) + "'."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b any
			if tc.method == "POST" {
				b = body
			}
			a := call(t, s, tc.method, tc.path, staticToken, b)
			if a.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", a.status, tc.status, a.body)
			}
			code, msg := a.odata(t)
			if code != tc.code || msg != tc.message {
				t.Errorf("error = %q %q, want %q %q", code, msg, tc.code, tc.message)
			}
		})
	}
}
