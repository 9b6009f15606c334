package dataversetest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The fidelity suite: Entra ID token endpoint section of the audit.

// tokenForm is a valid client-credentials request for s's organization.
func tokenForm(s *Server) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}
}

// formWith is tokenForm with one field set (or removed when v is "").
func formWith(s *Server, k, v string) url.Values {
	f := tokenForm(s)
	if v == "" {
		f.Del(k)
	} else {
		f.Set(k, v)
	}
	return f
}

// wantAAD checks an Entra ID error answer: status, error, AADSTS code and the
// start of the text after "AADSTSn: ".
func wantAAD(t *testing.T, what string, status int, m map[string]any, wantStatus int, name string, code int, text string) {
	t.Helper()
	if status != wantStatus || m["error"] != name {
		t.Errorf("%s: %d %v, want %d %s", what, status, m["error"], wantStatus, name)
		return
	}
	desc, _ := m["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS"+itoa(code)+": "+text) {
		t.Errorf("%s: error_description %q\nwant AADSTS%d: %s…", what, desc, code, text)
	}
	if codes, _ := m["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(code) {
		t.Errorf("%s: error_codes %v, want [%d]", what, m["error_codes"], code)
	}
}

// Row 68: POST /{tenant}/oauth2/v2.0/token, form-encoded grant_type=client_credentials,
// client_id, client_secret, scope.
func TestFidelity_Row68_TokenRequest(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	if got := s.TokenURL(); !strings.HasSuffix(got, "/"+DefaultTenant+"/oauth2/v2.0/token") {
		t.Errorf("TokenURL = %q, want …/{tenant}/oauth2/v2.0/token", got)
	}
	tok := issueToken(t, s)
	if a := call(t, s, http.MethodPost, runPath(wfID), tok, map[string]any{"runMode": "unattended", "connectionName": "c"}); a.status != http.StatusOK {
		t.Errorf("the issued token does not run a flow: %d %s", a.status, a.body)
	}
	status, m := tokenRequest(t, s, http.MethodGet, DefaultTenant, tokenForm(s), "")
	wantAAD(t, "GET", status, m, http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST requests.")
}

// Row 70: an unknown tenant is 400 invalid_request AADSTS90002.
func TestFidelity_Row70_UnknownTenant(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	other := "11111111-0000-4000-8000-00000000e1d0"
	status, m := tokenRequest(t, s, http.MethodPost, other, tokenForm(s), "")
	wantAAD(t, "unknown tenant", status, m, http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+other+"' not found.")
	if status, _ := tokenRequest(t, s, http.MethodPost, strings.ToUpper(DefaultTenant), tokenForm(s), ""); status != http.StatusOK {
		t.Errorf("the tenant id in upper case: %d, want 200 (GUIDs compare without case)", status)
	}
}

// Row 71: exactly one {resource}/.default scope; several resources or a scope
// without /.default are errors.
func TestFidelity_Row71_Scope(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, tc := range []struct {
		name, scope string
		code        int
		text        string
	}{
		{"two resources", s.Scope() + " https://graph.microsoft.com/.default", 70011, "The provided value for the input parameter 'scope' is not valid."},
		{"a delegated scope", s.URL() + "/user_impersonation", 1002012, "The provided value for scope " + s.URL() + "/user_impersonation is not valid. Client credential flows must have a scope value with /.default suffixed"},
		{"not a URI", "openid", 70011, "The provided value for the input parameter 'scope' is not valid. The scope openid is not valid."},
	} {
		status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "scope", tc.scope), "")
		wantAAD(t, tc.name, status, m, http.StatusBadRequest, "invalid_scope", tc.code, tc.text)
	}
}

// Row 72: the client authenticates with the secret in the form or with HTTP
// Basic (RFC 6749 §2.3.1: each part form-URL-encoded).
func TestFidelity_Row72_ClientAuthentication(t *testing.T) {
	t.Parallel()
	const odd = "p@ss:w/rd+ü"
	s := start(t, Options{Clients: map[string]string{clientID: odd}})
	form := formWith(s, "client_secret", odd)
	if status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, form, ""); status != http.StatusOK {
		t.Errorf("secret in the form: %d %v", status, m)
	}
	basic := clientID + ":" + url.QueryEscape(odd)
	noSecret := formWith(s, "client_secret", "")
	if status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, noSecret, basic); status != http.StatusOK {
		t.Errorf("secret in HTTP Basic: %d %v", status, m)
	}
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, noSecret, clientID+":wrong")
	wantAAD(t, "wrong Basic secret", status, m, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
}

// Row 74: success is token_type Bearer, expires_in, ext_expires_in and
// access_token, not cacheable.
func TestFidelity_Row74_TokenSuccessBody(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(tokenForm(s).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, tokenForm(s), "")
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, m)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"access_token", "expires_in", "ext_expires_in", "token_type"}) {
		t.Errorf("keys %v", keys)
	}
	ttl := DefaultTokenTTL.Seconds()
	if m["token_type"] != "Bearer" || m["expires_in"] != ttl || m["ext_expires_in"] != ttl || m["access_token"] == "" {
		t.Errorf("token answer %v", m)
	}
}

// Row 76: an error body has error, error_description (AADSTSn: text, then
// Trace ID, Correlation ID and Timestamp lines), error_codes, timestamp,
// trace_id and correlation_id.
func TestFidelity_Row76_TokenErrorBody(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "client_secret", "wrong"), "")
	if status != http.StatusUnauthorized {
		t.Fatalf("%d %v", status, m)
	}
	for _, k := range []string{"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"} {
		if m[k] == nil || m[k] == "" {
			t.Errorf("%s missing from %v", k, m)
		}
	}
	desc, _ := m["error_description"].(string)
	lines := strings.Split(desc, "\r\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "AADSTS7000215: ") ||
		lines[1] != "Trace ID: "+m["trace_id"].(string) || lines[2] != "Correlation ID: "+m["correlation_id"].(string) ||
		!strings.HasPrefix(lines[3], "Timestamp: ") {
		t.Errorf("error_description lines %q", lines)
	}
	for _, k := range []string{"trace_id", "correlation_id"} {
		if _, ok := parseGUID(m[k].(string)); !ok {
			t.Errorf("%s %v is not a GUID", k, m[k])
		}
	}
}

// Row 77: AADSTS7000215, an invalid secret, is 401 invalid_client.
func TestFidelity_Row77_InvalidSecret(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "client_secret", "not-the-secret"), "")
	wantAAD(t, "invalid secret", status, m, http.StatusUnauthorized, "invalid_client", 7000215,
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
}

// Row 78: AADSTS700016, an unknown application, is 400 unauthorized_client.
func TestFidelity_Row78_UnknownApp(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	other := "99999999-2222-3333-4444-555555555555"
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "client_id", other), "")
	wantAAD(t, "unknown app", status, m, http.StatusBadRequest, "unauthorized_client", 700016,
		"Application with identifier '"+other+"' was not found in the directory '"+DefaultTenant+"'.")
}

// Row 79: an invalid scope is 400 invalid_scope AADSTS70011.
func TestFidelity_Row79_InvalidScope(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "scope", "not a scope"), "")
	wantAAD(t, "invalid scope", status, m, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
}

// Row 80: grant types other than client_credentials are 400 unsupported_grant_type AADSTS70003.
func TestFidelity_Row80_OtherGrantTypes(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for _, g := range []string{"password", "authorization_code", "refresh_token"} {
		status, m := tokenRequest(t, s, http.MethodPost, DefaultTenant, formWith(s, "grant_type", g), "")
		wantAAD(t, g, status, m, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+g+"'.")
	}
}
