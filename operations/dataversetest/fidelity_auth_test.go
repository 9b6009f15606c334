package dataversetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Fidelity tests of the authorization and token rows (53, 54, 35, 19, 75,
// 82, 58) of shared/reference/emulator-fidelity-audit.md.

const (
	appA, appB, appC, appD = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b", "cccccccc-0000-4000-8000-00000000000c", "dddddddd-0000-4000-8000-00000000000d"
	appSecret              = "app-secret"
)

// authOptions: A and B are Basic runners in business unit sales, C reads
// and cancels every run of sales (Local) but sits in sales too, D is in
// unit support with Local depth, and an administrator app.
func authOptions() Options {
	return Options{
		Clients: map[string]string{appA: appSecret, appB: appSecret, appC: appSecret, appD: appSecret, "admin-app": appSecret, "stranger": appSecret, "reader": appSecret},
		SecurityRoles: map[string]SecurityRole{
			"Runner":        {PrivReadWorkflow: DepthBasic, PrivReadFlowSession: DepthBasic, PrivWriteFlowSession: DepthBasic},
			"Unit reader":   {PrivReadWorkflow: DepthBasic, PrivReadFlowSession: DepthLocal, PrivWriteFlowSession: DepthLocal},
			"Status reader": {PrivReadFlowSession: DepthGlobal, "prvReadaccount": DepthGlobal},
		},
		AppUsers: map[string]AppUser{
			appA:        {Roles: []string{"Runner"}, BusinessUnit: "sales"},
			appB:        {Roles: []string{"Runner"}, BusinessUnit: "sales"},
			appC:        {Roles: []string{"Unit reader"}, BusinessUnit: "sales"},
			appD:        {Roles: []string{"Unit reader"}, BusinessUnit: "support"},
			"reader":    {Roles: []string{"Status reader"}},
			"admin-app": {Roles: []string{RoleSystemAdministrator}},
		},
	}
}

// clientToken gets a token by client credentials at tokenURL for scope.
func clientToken(t *testing.T, c *http.Client, tokenURL, id, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {appSecret}, "scope": {scope}}
	resp, err := c.PostForm(tokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m) // a 404 has a text body: m stays nil
	return resp.StatusCode, m
}

func tokenFor(t *testing.T, s *Server, id string) string {
	t.Helper()
	status, m := clientToken(t, http.DefaultClient, s.TokenURL(), id, s.Scope())
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token for %s: %d %v", id, status, m)
	}
	return tok
}

// triggerAs starts a run of wfID with token and returns its id.
func triggerAs(t *testing.T, s *Server, token string) string {
	t.Helper()
	a := call(t, s, http.MethodPost, runPath(wfID), token, map[string]any{"runMode": "unattended", "connectionName": "c"})
	if a.status != http.StatusOK {
		t.Fatalf("RunDesktopFlow: %d %s", a.status, a.body)
	}
	return a.json(t)["flowsessionId"].(string)
}

func wantODataError(t *testing.T, what string, a answer, status int, code, messagePrefix string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, a.status, status, a.body)
	}
	gotCode, msg := a.odata(t)
	if gotCode != code || !strings.HasPrefix(msg, messagePrefix) {
		t.Errorf("%s: %s %q, want %s %q…", what, gotCode, msg, code, messagePrefix)
	}
}

// Row 53: an app that is no application user of the environment gets 403
// 0x80072560 "The user is not a member of the organization." on every Web
// API call, and nothing runs; without declared application users every
// client is a user (the emulator's default).
func TestFidelity_Row53_NotMember(t *testing.T) {
	s := start(t, authOptions())
	tok := tokenFor(t, s, "stranger") // Entra knows the app: the token is issued
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, runPath(wfID)},
		{http.MethodGet, sessionPath(wfID)},
		{http.MethodGet, "/api/data/v9.2/accounts"},
	} {
		var body any
		if tc.method == http.MethodPost {
			body = map[string]any{"runMode": "unattended", "connectionName": "c"}
		}
		a := call(t, s, tc.method, tc.path, tok, body)
		wantODataError(t, tc.method+" "+tc.path, a, http.StatusForbidden, CodeNotMember, "The user is not a member of the organization.")
	}
	if n := len(s.Sessions()); n != 0 {
		t.Errorf("%d runs after refused triggers, want 0", n)
	}
	if a := call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"}); a.status != http.StatusOK {
		t.Errorf("a static token that no AppUser names: %d %s, want 200 (an administrator)", a.status, a.body)
	}

	open := start(t, Options{Clients: map[string]string{"stranger": appSecret}})
	triggerAs(t, open, tokenFor(t, open, "stranger")) // no AppUsers: everyone is a user
}

// Row 54: a missing privilege is 403 0x80040220 "Principal user (Id=…,
// type=8) is missing prvX privilege (Id=…)", as the desktop-flow API page
// documents; the privilege named is the one the operation needs.
func TestFidelity_Row54_MissingPrivilege(t *testing.T) {
	s := start(t, authOptions())
	reader := tokenFor(t, s, "reader")
	owner := tokenFor(t, s, appA)
	run := triggerAs(t, s, owner)

	a := call(t, s, http.MethodPost, runPath(wfID), reader, map[string]any{"runMode": "unattended", "connectionName": "c"})
	wantODataError(t, "trigger without prvReadworkflow", a, http.StatusForbidden, CodePrivilegeDenied,
		"Principal user (Id="+s.AppUserID("reader")+", type=8) is missing prvReadworkflow privilege (Id=")
	a = call(t, s, http.MethodPost, sessionPath(run)+"/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", reader, nil)
	wantODataError(t, "cancel without prvWriteflowsession", a, http.StatusForbidden, CodePrivilegeDenied,
		"Principal user (Id="+s.AppUserID("reader")+", type=8) is missing prvWriteflowsession privilege (Id=")
	a = call(t, s, http.MethodGet, "/api/data/v9.2/contacts", reader, nil)
	wantODataError(t, "list contacts without prvReadcontact", a, http.StatusForbidden, CodePrivilegeDenied,
		"Principal user (Id="+s.AppUserID("reader")+", type=8, roleCount=1")
	if _, msg := a.odata(t); !strings.Contains(msg, "is missing prvReadcontact privilege") {
		t.Errorf("list contacts: %q does not name prvReadcontact", msg)
	}
	if len(s.Sessions()) != 1 {
		t.Errorf("%d runs, want only the owner's", len(s.Sessions()))
	}
	// What the roles grant works.
	if a := call(t, s, http.MethodGet, sessionPath(run), reader, nil); a.status != http.StatusOK {
		t.Errorf("status with Global prvReadflowsession: %d %s", a.status, a.body)
	}
	if a := call(t, s, http.MethodGet, "/api/data/v9.2/accounts", reader, nil); a.status != http.StatusOK {
		t.Errorf("accounts with prvReadaccount: %d %s", a.status, a.body)
	}
	// A wrong method is still the wrong-method 404, not a 403.
	if a := call(t, s, http.MethodGet, runPath(wfID), reader, nil); a.status != http.StatusNotFound {
		t.Errorf("GET RunDesktopFlow: %d, want 404", a.status)
	}
}

// Row 35: reading a run's status or outputs and cancelling it need
// ownership: a Basic-depth user is refused another user's run (403
// 0x80040220), Local depth reaches runs of its business unit, Global all; an
// unknown run stays 404.
func TestFidelity_Row35_OwnerPrivilege(t *testing.T) {
	s := start(t, authOptions())
	run := triggerAs(t, s, tokenFor(t, s, appA))
	for _, tc := range []struct {
		app      string
		readable bool
	}{
		{appA, true},        // the owner
		{appB, false},       // Basic, same unit
		{appC, true},        // Local, same unit
		{appD, false},       // Local, another unit
		{"admin-app", true}, // System Administrator
	} {
		tok := tokenFor(t, s, tc.app)
		for _, op := range []struct{ method, path, right string }{
			{http.MethodGet, sessionPath(run), "ReadAccess"},
			{http.MethodGet, sessionPath(run) + "/outputs/$value", "ReadAccess"},
		} {
			a := call(t, s, op.method, op.path, tok, nil)
			if tc.readable {
				if a.status == http.StatusForbidden {
					t.Errorf("%s %s: 403 %s, want allowed", tc.app, op.path, a.body)
				}
				continue
			}
			wantODataError(t, tc.app+" "+op.path, a, http.StatusForbidden, CodePrivilegeDenied,
				"Principal user (Id="+s.AppUserID(tc.app)+", type=8) does not have "+op.right+" right(s) for record with id "+run+" of entity flowsession.")
		}
	}
	cancel := sessionPath(run) + "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun"
	a := call(t, s, http.MethodPost, cancel, tokenFor(t, s, appB), nil)
	wantODataError(t, "B cancels A's run", a, http.StatusForbidden, CodePrivilegeDenied, "Principal user (Id="+s.AppUserID(appB)+", type=8) does not have WriteAccess right(s)")
	if f, _ := s.Session(run); f.StatusCode == StatusCancelled {
		t.Error("a refused cancel cancelled the run")
	}
	if a := call(t, s, http.MethodPost, cancel, tokenFor(t, s, appC), nil); a.status != http.StatusNoContent {
		t.Errorf("C (Local, same unit) cancels: %d %s", a.status, a.body)
	}
	a = call(t, s, http.MethodGet, sessionPath("0b9a2f6e-0000-4000-8000-000000000001"), tokenFor(t, s, appB), nil)
	wantODataError(t, "unknown run", a, http.StatusNotFound, CodeObjectDoesNotExist, "flowsession With Id")
}

// Row 19: triggering needs only "User" (Basic) privileges; impersonation is
// not supported, so MSCRMCallerID and CallerObjectId do not change who owns
// the run.
func TestFidelity_Row19_UserPrivilegesNoImpersonation(t *testing.T) {
	s := start(t, authOptions())
	tokA, tokB := tokenFor(t, s, appA), tokenFor(t, s, appB)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+runPath(wfID), strings.NewReader(`{"runMode":"unattended","connectionName":"c"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tokA)
	req.Header.Set("MSCRMCallerID", s.AppUserID(appB))
	req.Header.Set("CallerObjectId", s.AppUserID(appB))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trigger with Basic privileges: %d %s", resp.StatusCode, raw)
	}
	var body struct{ FlowsessionID string }
	_ = json.Unmarshal(raw, &body)
	if a := call(t, s, http.MethodGet, sessionPath(body.FlowsessionID), tokB, nil); a.status != http.StatusForbidden {
		t.Errorf("the impersonated user reads the run: %d, want 403 (the caller owns it)", a.status)
	}
	if a := call(t, s, http.MethodGet, sessionPath(body.FlowsessionID), tokA, nil); a.status != http.StatusOK {
		t.Errorf("the caller reads its run: %d %s", a.status, a.body)
	}
}

// Row 75: a token is issued for the organization its scope names and works
// only there: at another organization (or the same one under another host
// name) it gets the 401 challenge. Static tokens are not bound.
func TestFidelity_Row75_Audience(t *testing.T) {
	opts := Options{Clients: map[string]string{appA: appSecret}}
	one, two := start(t, opts), start(t, opts)
	tok := tokenFor(t, one, appA)
	if a := call(t, one, http.MethodGet, sessionPath(wfID), tok, nil); a.status != http.StatusNotFound {
		t.Fatalf("token at its own organization: %d %s, want 404 (authenticated, no such run)", a.status, a.body)
	}
	a := call(t, two, http.MethodGet, sessionPath(wfID), tok, nil)
	if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer authorization_uri=https://login.microsoftonline.com/") {
		t.Errorf("token of another organization: %d %q, want 401 with the Bearer challenge", a.status, a.header.Get("WWW-Authenticate"))
	}
	// The same listener under another name is another resource.
	localhost := strings.Replace(one.URL(), "127.0.0.1", "localhost", 1)
	req, _ := http.NewRequest(http.MethodGet, localhost+sessionPath(wfID), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token for 127.0.0.1 at localhost: %d, want 401", resp.StatusCode)
	}
	if a := call(t, two, http.MethodGet, sessionPath(wfID), staticToken, nil); a.status != http.StatusNotFound {
		t.Errorf("static token: %d, want 404", a.status)
	}
}

// Row 82: the token endpoint lives on its own host, as login.microsoftonline.com
// does: it issues tokens for a declared organization on another host, the
// organization's host has no token endpoint, and a scope for a resource the
// tenant does not know is AADSTS500011.
func TestFidelity_Row82_TokenEndpointOwnHost(t *testing.T) {
	s := start(t, Options{SeparateTokenEndpoint: true, Clients: map[string]string{appA: appSecret}})
	tu, _ := url.Parse(s.TokenURL())
	ou, _ := url.Parse(s.URL())
	if tu.Host == ou.Host {
		t.Fatalf("token endpoint %s on the organization's host %s", tu.Host, ou.Host)
	}
	tok := tokenFor(t, s, appA)
	if a := call(t, s, http.MethodPost, runPath(wfID), tok, map[string]any{"runMode": "unattended", "connectionName": "c"}); a.status != http.StatusOK {
		t.Errorf("trigger with a token from the other host: %d %s", a.status, a.body)
	}
	status, _ := clientToken(t, http.DefaultClient, s.URL()+"/"+DefaultTenant+"/oauth2/v2.0/token", appA, s.Scope())
	if status != http.StatusNotFound {
		t.Errorf("token path on the organization's host: %d, want 404", status)
	}
	status, m := clientToken(t, http.DefaultClient, s.TokenURL(), appA, "https://other.crm.dynamics.com/.default")
	if desc, _ := m["error_description"].(string); status != http.StatusBadRequest || m["error"] != "invalid_resource" || !strings.HasPrefix(desc, "AADSTS500011: ") {
		t.Errorf("unknown resource: %d %v, want 400 invalid_resource AADSTS500011", status, m)
	}
	// The login host serves nothing else.
	resp, err := http.Get(tu.Scheme + "://" + tu.Host + "/api/data/v9.2/flowsessions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("Web API path on the login host: %d, want 404", resp.StatusCode)
	}
}

// Row 58: the Web API over HTTPS with a self-signed CA the client trusts;
// the organization is https://…, so a token asked for http://… is for
// another resource and refused.
func TestFidelity_Row58_TLS(t *testing.T) {
	cfg, caPEM, err := SelfSignedTLS("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	e := NewHandler(Options{Clients: map[string]string{appA: appSecret}, Flows: map[string]Flow{wfID: {}}})
	ts := httptest.NewUnstartedServer(e)
	ts.TLS = cfg
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake failure is expected
	ts.StartTLS()
	t.Cleanup(func() { e.Close(); ts.Close() })
	if !strings.HasPrefix(ts.URL, "https://") {
		t.Fatalf("URL %s", ts.URL)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if _, err := http.Get(ts.URL + "/api/data/v9.2/flowsessions"); err == nil {
		t.Error("a client that does not trust the CA connected")
	}
	tokenURL := ts.URL + "/" + DefaultTenant + "/oauth2/v2.0/token"
	status, m := clientToken(t, c, tokenURL, appA, ts.URL+"/.default")
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK {
		t.Fatalf("token over TLS: %d %v", status, m)
	}
	run := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+runPath(wfID), strings.NewReader(`{"runMode":"unattended","connectionName":"c"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := run(tok); got != http.StatusOK {
		t.Errorf("trigger over TLS: %d", got)
	}
	_, m = clientToken(t, c, tokenURL, appA, strings.Replace(ts.URL, "https://", "http://", 1)+"/.default")
	if plain, _ := m["access_token"].(string); plain == "" || run(plain) != http.StatusUnauthorized {
		t.Errorf("a token for the http:// resource at the https:// organization: want issued, then 401")
	}
}

// Bad application users and roles are refused at start, naming the field.
func TestAppUsersValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown role", Options{AppUsers: map[string]AppUser{appA: {Roles: []string{"Nope"}}}}, `appUsers[` + appA + `].roles[0]: "Nope" is not a security role`},
		{"bad depth", Options{SecurityRoles: map[string]SecurityRole{"R": {PrivReadFlowSession: "Organization"}}}, `securityRoles["R"]["prvReadflowsession"]: depth "Organization" is not Basic, Local, Deep or Global`},
		{"not a privilege", Options{SecurityRoles: map[string]SecurityRole{"R": {"ReadAccount": DepthBasic}}}, `securityRoles["R"]: privilege "ReadAccount" must be a name`},
		{"built-in name", Options{SecurityRoles: map[string]SecurityRole{RoleSystemAdministrator: {}}}, `securityRoles["System Administrator"]: the name must not be blank`},
		{"organization", Options{Organizations: []string{"contoso.crm.dynamics.com"}}, `organizations[0]: "contoso.crm.dynamics.com" is not an http or https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %s…", err, tc.want)
			}
		})
	}
	if err := authOptions().Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

// WhoAmI answers each application user's own systemuserid, the Id its 403
// messages name, not one id for every caller.
func TestWhoAmIAnswersTheCallersAppUser(t *testing.T) {
	t.Parallel()
	s := start(t, authOptions())
	ids := map[string]bool{}
	for _, app := range []string{appA, appB} {
		a := call(t, s, http.MethodGet, "/api/data/v9.2/WhoAmI", tokenFor(t, s, app), nil)
		if a.status != http.StatusOK {
			t.Fatalf("WhoAmI as %s: %d %s", app, a.status, a.body)
		}
		if got, want := a.json(t)["UserId"], s.AppUserID(app); got != want {
			t.Errorf("WhoAmI as %s: UserId %v, want %s", app, got, want)
		}
		ids[s.AppUserID(app)] = true
	}
	if len(ids) != 2 {
		t.Errorf("two application users share a systemuserid: %v", ids)
	}
}

// U10: application ids are GUIDs, which Entra compares in any case: a client id sent in upper
// case gets a token, and the token is the registered application user's.
func TestFidelity_U10_ClientIDInAnyCase(t *testing.T) {
	t.Parallel()
	s := start(t, authOptions())
	upper := strings.ToUpper(appA)
	status, m := clientToken(t, http.DefaultClient, s.TokenURL(), upper, s.Scope())
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token for %s: %d %v", upper, status, m)
	}
	a := call(t, s, http.MethodGet, "/api/data/v9.2/WhoAmI", tok, nil)
	if got := a.json(t)["UserId"]; a.status != http.StatusOK || got != s.AppUserID(appA) {
		t.Errorf("WhoAmI with the upper-case client's token: %d %v, want UserId %s", a.status, got, s.AppUserID(appA))
	}
}
