package dataversetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// tokenRequest posts a form to the token endpoint of tenant.
func tokenRequest(t *testing.T, s *Server, method, tenant string, form url.Values, basic string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if bytes.Contains(b, []byte(secret)) {
		t.Errorf("the answer echoes the client secret: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token answer is not JSON: %s", b)
	}
	return resp.StatusCode, m
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := start(t, Options{Logger: zerolog.New(zerolog.SyncWriter(&logs)), TokenTTL: time.Hour})
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}
	}
	with := func(k, v string) url.Values {
		f := good()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name    string
		method  string
		tenant  string
		form    url.Values
		basic   string
		status  int
		err     string
		aadsts  int
		message string // prefix of error_description after "AADSTSn: "
	}{
		{"success", "POST", DefaultTenant, good(), "", 200, "", 0, ""},
		{"success with Basic credentials", "POST", DefaultTenant, with("client_secret", ""), clientID + ":" + url.QueryEscape(secret), 200, "", 0, ""},
		{"success with a trailing slash before .default", "POST", DefaultTenant, with("scope", s.URL()+"//.default"), "", 200, "", 0, ""},
		{"tenant in upper case", "POST", strings.ToUpper(DefaultTenant), good(), "", 200, "", 0, ""},
		{"wrong secret", "POST", DefaultTenant, with("client_secret", "nope"), "", 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientID + "'."},
		{"wrong Basic secret", "POST", DefaultTenant, with("client_secret", ""), clientID + ":nope", 401, "invalid_client", 7000215, "Invalid client secret"},
		{"missing secret", "POST", DefaultTenant, with("client_secret", ""), "", 401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."},
		{"unknown client", "POST", DefaultTenant, with("client_id", "99999999-2222-3333-4444-555555555555"), "", 400, "unauthorized_client", 700016, "Application with identifier '99999999-2222-3333-4444-555555555555' was not found in the directory '" + DefaultTenant + "'."},
		{"unknown tenant", "POST", "contoso.onmicrosoft.com", good(), "", 400, "invalid_request", 90002, "Tenant 'contoso.onmicrosoft.com' not found."},
		{"scope without .default", "POST", DefaultTenant, with("scope", s.URL()+"/user_impersonation"), "", 400, "invalid_scope", 1002012, "The provided value for scope " + s.URL() + "/user_impersonation is not valid. Client credential flows must have a scope value with /.default suffixed"},
		{"scope not a URI", "POST", DefaultTenant, with("scope", "openid"), "", 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope openid is not valid."},
		{"two scopes", "POST", DefaultTenant, with("scope", s.Scope()+" offline_access"), "", 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."},
		{"another resource", "POST", DefaultTenant, with("scope", "https://other.crm.dynamics.com/.default"), "", 400, "invalid_resource", 500011, "The resource principal named https://other.crm.dynamics.com was not found in the tenant named " + DefaultTenant + "."},
		{"wrong grant type", "POST", DefaultTenant, with("grant_type", "password"), "", 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type 'password'."},
		{"missing grant type", "POST", DefaultTenant, with("grant_type", ""), "", 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."},
		{"missing client id", "POST", DefaultTenant, with("client_id", ""), "", 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."},
		{"missing scope", "POST", DefaultTenant, with("scope", ""), "", 400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."},
		{"GET", "GET", DefaultTenant, good(), "", 400, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a GET request."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := tokenRequest(t, s, tc.method, tc.tenant, tc.form, tc.basic)
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %v", status, tc.status, m)
			}
			if tc.status == 200 {
				tok, _ := m["access_token"].(string)
				if m["token_type"] != "Bearer" || m["expires_in"] != 3600.0 || m["ext_expires_in"] != 3600.0 || tok == "" {
					t.Fatalf("token answer = %v", m)
				}
				if a := call(t, s, "GET", sessionPath(otherWFID), tok, nil); a.status != 404 {
					t.Errorf("the issued token is not accepted: %d", a.status)
				}
				return
			}
			desc, _ := m["error_description"].(string)
			if m["error"] != tc.err || !strings.HasPrefix(desc, "AADSTS"+itoa(tc.aadsts)+": "+tc.message) {
				t.Errorf("error = %v %q\nwant %s AADSTS%d: %s", m["error"], desc, tc.err, tc.aadsts, tc.message)
			}
			codes, _ := m["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != float64(tc.aadsts) {
				t.Errorf("error_codes = %v", m["error_codes"])
			}
			for _, k := range []string{"timestamp", "trace_id", "correlation_id", "error_uri"} {
				if m[k] == nil || m[k] == "" {
					t.Errorf("%s missing", k)
				}
			}
			if !strings.Contains(desc, "\r\nTrace ID: ") {
				t.Errorf("error_description lacks the trace lines: %q", desc)
			}
		})
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the client secret")
	}
	if !strings.Contains(logs.String(), `"operation":"Token"`) {
		t.Errorf("no token request logged: %s", logs.String())
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, TokenTTL: time.Minute})
	status, m := tokenRequest(t, s, "POST", DefaultTenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}, "")
	if status != 200 {
		t.Fatal(m)
	}
	issued := m["access_token"].(string)
	if a := call(t, s, "GET", sessionPath(otherWFID), issued, nil); a.status != 404 {
		t.Fatalf("fresh token: %d", a.status)
	}
	challenge := "Bearer authorization_uri=https://login.microsoftonline.com/" + DefaultTenant + "/oauth2/authorize, resource_id=" + s.URL() + "/"
	check := func(name, auth string) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL()+runPath(wfID), strings.NewReader(`{"runMode":"attended","connectionName":"c"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != challenge {
			t.Errorf("%s: WWW-Authenticate = %q\nwant %q", name, got, challenge)
		}
		if len(b) != 0 {
			t.Errorf("%s: body %q, want empty", name, b)
		}
	}
	check("no header", "")
	check("unknown token", "Bearer nope")
	check("Basic scheme", "Basic "+staticToken)
	check("empty bearer", "Bearer ")
	clock.Add(time.Minute)
	check("expired token", "Bearer "+issued)
	if a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil); a.status != 404 {
		t.Errorf("the static token stopped working: %d", a.status)
	}

	_, m = tokenRequest(t, s, "POST", DefaultTenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}, "")
	fresh := m["access_token"].(string)
	s.RevokeTokens()
	check("revoked token", "Bearer "+fresh)
	_, m = tokenRequest(t, s, "POST", DefaultTenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}, "")
	if a := call(t, s, "GET", sessionPath(otherWFID), m["access_token"].(string), nil); a.status != 404 {
		t.Errorf("a token issued after the revocation: %d", a.status)
	}
	for _, c := range s.Calls() {
		if c.Op == OpRunDesktopFlow && c.Status != 401 {
			t.Errorf("call %+v", c)
		}
	}
}
