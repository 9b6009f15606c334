//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const tokenPath = "/00000000-0000-4000-8000-00000000e1d0/oauth2/v2.0/token"

// tokenTap is a reverse proxy in front of the emulator that keeps every access token the token
// endpoint issued, so a test can look for them where they must not be.
type tokenTap struct {
	URL    string
	mu     sync.Mutex
	tokens []string
}

func newTokenTap(t *testing.T, target string) *tokenTap {
	t.Helper()
	u, _ := url.Parse(target)
	tap := &tokenTap{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the emulator checks scopes against the host it was called on
		},
		ModifyResponse: func(res *http.Response) error {
			if !strings.HasSuffix(res.Request.URL.Path, "/oauth2/v2.0/token") {
				return nil
			}
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(raw, &body) == nil && body.AccessToken != "" {
				tap.mu.Lock()
				tap.tokens = append(tap.tokens, body.AccessToken)
				tap.mu.Unlock()
			}
			res.Body = io.NopCloser(bytes.NewReader(raw))
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	tap.URL = srv.URL
	return tap
}

func (tap *tokenTap) issued() []string {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return append([]string(nil), tap.tokens...)
}

// A stand-in for the Camunda identity provider the worker's Zeebe client gets its gateway
// token from when ZEEBE_CLIENT_ID/ZEEBE_CLIENT_SECRET are set (the test engine ignores it).
func newGatewayIdP(t *testing.T, clientSecret, token string) (*httptest.Server, *int) {
	var fetched int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("client_secret") != clientSecret {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		fetched++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
	}))
	t.Cleanup(srv.Close)
	return srv, &fetched
}

// Secrets, static tokens, client secrets and issued tokens appear nowhere a person or a system
// other than Dataverse can read them: not in a worker log line (at debug level), an incident,
// a JOB FAILED error message or any other record the engine exported (variables included), nor
// in /metrics. The scenarios: bearer and client-credentials jobs, a token refreshed after a 401,
// a wrong client secret, a refused bearer token, faults, Dataverse and Entra ID errors that
// echo a credential back, and a modeler asking for {{secrets.ZEEBE_CLIENT_SECRET}}.
func TestSecretsNeverLeak(t *testing.T) {
	sfx := fmt.Sprint(time.Now().UnixNano() % 1e9)
	var (
		staticToken  = "sec-static-token-" + sfx
		clientSecret = "sec-client-secret-" + sfx
		wrongSecret  = "sec-wrong-secret-" + sfx
		badToken     = "sec-refused-token-" + sfx
		zeebeSecret  = "sec-zeebe-client-secret-" + sfx
		gatewayToken = "sec-gateway-token-" + sfx
	)
	cfg := emulatorConfig()
	cfg["tokens"] = []string{staticToken}
	cfg["clients"] = map[string]string{clientID: clientSecret}
	dv := startEmulator(t, cfg)
	tap := newTokenTap(t, dv.URL)
	idp, fetched := newGatewayIdP(t, zeebeSecret, gatewayToken)
	deploy(t, "integration/testdata/single-task.bpmn")
	deploy(t, "integration/testdata/trigger-status.bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t,
		"SECRET_DV_TOKEN="+staticToken, "SECRET_DV_CLIENT_SECRET="+clientSecret,
		"SECRET_DV_WRONG_SECRET="+wrongSecret, "SECRET_DV_REFUSED_TOKEN="+badToken,
		// The worker's own gateway credentials, as on Camunda SaaS.
		"ZEEBE_CLIENT_ID=pa-connector-worker", "ZEEBE_CLIENT_SECRET="+zeebeSecret,
		"ZEEBE_AUTHORIZATION_SERVER_URL="+idp.URL+"/oauth/token", "ZEEBE_TOKEN_AUDIENCE=zeebe.test",
		"ZEEBE_CLIENT_CONFIG_PATH="+filepath.Join(t.TempDir(), "credentials"),
		"PA_CONNECTOR_LOG_LEVEL=debug")
	if *fetched == 0 {
		t.Fatal("the worker's Zeebe client did not use ZEEBE_CLIENT_SECRET: the test would prove nothing about it")
	}

	bearerAuth := func(secret string) map[string]any {
		return map[string]any{"type": "bearer", "token": "{{secrets." + secret + "}}"}
	}
	oauth := func(secret, style string) map[string]any {
		return map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": tap.URL + tokenPath,
			"clientId": clientID, "clientSecret": "{{ secrets." + secret + " }}", "clientAuthentication": style}
	}
	type scenario struct {
		name    string
		process string
		auth    map[string]any
		before  func()
		want    string // "" = completes, else in the incident
	}
	var lastIssued string
	scenarios := []scenario{
		{name: "bearer secret", process: "rel-trigger-status", auth: bearerAuth("DV_TOKEN")},
		{name: "client secret in the body", process: "rel-trigger-status", auth: oauth("DV_CLIENT_SECRET", "credentialsBody")},
		{name: "401, token refreshed", process: "single-task", auth: oauth("DV_CLIENT_SECRET", "credentialsBody"),
			before: func() { dv.post(t, "/_emulator/revoke-tokens", nil) }},
		{name: "client secret in the Basic header", process: "single-task", auth: oauth("DV_CLIENT_SECRET", "basicAuthHeader")},
		{name: "wrong client secret", process: "single-task", auth: oauth("DV_WRONG_SECRET", "basicAuthHeader"), want: "AADSTS7000215"},
		{name: "refused bearer token", process: "single-task", auth: bearerAuth("DV_REFUSED_TOKEN"), want: "401"},
		{name: "token endpoint 503, then 500 from Dataverse", process: "single-task", auth: oauth("DV_CLIENT_SECRET", "credentialsBody"),
			before: func() {
				dv.post(t, "/_emulator/revoke-tokens", nil)
				dv.fault(t, map[string]any{"op": "Token", "count": 1, "status": 503})
				dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "status": 500, "message": "upstream said: client_secret=" + clientSecret})
			}},
		{name: "Dataverse echoes the bearer token", process: "single-task", auth: bearerAuth("DV_TOKEN"), want: "0x80040203",
			before: func() {
				dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "status": 400, "code": "0x80040203",
					"message": "Invalid argument: Authorization: Bearer " + staticToken})
			}},
		{name: "Entra ID echoes the client secret", process: "single-task", auth: oauth("DV_CLIENT_SECRET", "credentialsBody"), want: "invalid_client",
			before: func() {
				dv.post(t, "/_emulator/revoke-tokens", nil)
				dv.fault(t, map[string]any{"op": "Token", "count": 1, "status": 401, "code": "invalid_client",
					"message": "AADSTS7000215: Invalid client secret provided: '" + clientSecret + "'."})
			}},
		{name: "Dataverse echoes the issued access token", process: "single-task", auth: oauth("DV_CLIENT_SECRET", "credentialsBody"), want: "0x80040203",
			before: func() {
				issued := tap.issued()
				lastIssued = issued[len(issued)-1]
				dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 1, "status": 400, "code": "0x80040203",
					"message": "Invalid argument: Authorization: Bearer " + lastIssued})
			}},
		{name: "the worker's own Zeebe client secret", process: "single-task", auth: bearerAuth("ZEEBE_CLIENT_SECRET"),
			want: `secret "ZEEBE_CLIENT_SECRET" is not configured`},
	}
	var keys []int64
	for _, s := range scenarios {
		if s.before != nil {
			s.before()
		}
		v := triggerVars(dv, flowOK)
		v["organizationUri"] = tap.URL
		v["authentication"] = s.auth
		k := createInstance(t, s.process, v)
		keys = append(keys, k)
		led.waitEnded(t, []int64{k}, 60*time.Second)
		_, completed := led.completed[k]
		msg := led.incidents[k]
		switch {
		case s.want == "" && !completed:
			t.Errorf("%s: incident %q, want the instance completed", s.name, msg)
		case s.want != "" && !strings.Contains(msg, s.want):
			t.Errorf("%s: incident %q, want one containing %q", s.name, msg, s.want)
		}
		t.Logf("%s: completed %v, incident %q", s.name, completed, msg)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })

	// Where to look: everything the engine exported since the test began, the worker's log,
	// its metrics.
	led.poll()
	records := led.raw()
	_, metrics := getBody(w.HTTP + "/metrics")
	log := w.Log()
	issued := tap.issued()
	secrets := map[string]string{"static bearer token": staticToken, "client secret": clientSecret, "wrong client secret": wrongSecret,
		"refused bearer token": badToken, "ZEEBE_CLIENT_SECRET": zeebeSecret, "gateway access token": gatewayToken}
	for i, tok := range issued {
		secrets[fmt.Sprintf("issued access token %d", i+1)] = tok
	}
	places := map[string]string{"worker log": log, "broker records": records, "/metrics": metrics}
	hits, issuedHits := 0, []string{}
	for what, value := range secrets {
		for where, text := range places {
			if n := strings.Count(text, value); n > 0 {
				hits += n
				if strings.HasPrefix(what, "issued access token") {
					issuedHits = append(issuedHits, fmt.Sprintf("%s ×%d in the %s", what, n, where))
					continue
				}
				t.Errorf("the %s appears %d times in the %s", what, n, where)
			}
		}
	}
	c := dv.counts(t)
	t.Logf("%d scenarios; scanned %d worker log lines, %d broker records (%d bytes), %d bytes of /metrics for %d secret values (%d tokens issued by the emulator, %d token requests): %d hits",
		len(scenarios), strings.Count(log, "\n"), strings.Count(records, "\n"), len(records), len(metrics), len(secrets), len(issued), c["Token"], hits)
	if len(issued) < 2 {
		t.Errorf("%d tokens issued, want at least 2 (one before and one after the revocation)", len(issued))
	}
	if !strings.Contains(records, "{{secrets.DV_TOKEN}}") {
		t.Error("the variables should hold the {{secrets.DV_TOKEN}} placeholder (did the scan read the records?)")
	}
	if len(issuedHits) > 0 {
		t.Errorf("issued access tokens leaked: %s", strings.Join(issuedHits, ", "))
	}
}

// Requests to hosts outside PA_CONNECTOR_ALLOWED_HOSTS are never made, whichever variable
// names the host (organizationUri, the token endpoint, a compatibility-mode REST url), however
// the URL is dressed up, and through redirects from an allowed host; a name a wildcard allows
// that resolves to loopback is refused too. A listener on a port no pattern allows counts
// every connection: zero.
func TestSSRFNoRequestLeavesTheAllowList(t *testing.T) {
	dv := startEmulator(t, emulatorConfig())
	trap := newTrap(t)
	redirects := 0
	var mu sync.Mutex
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirects++
		mu.Unlock()
		http.Redirect(w, r, trap.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	deploy(t, "integration/testdata/single-task.bpmn")
	deploy(t, "integration/testdata/rest-task.bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t, "SECRET_DV_TOKEN="+dvToken, "SECRET_DV_CLIENT_SECRET="+clientSec, "PA_CONNECTOR_LOG_LEVEL=info",
		"PA_CONNECTOR_HTTP_JSON_COMPAT=true",
		"PA_CONNECTOR_ALLOWED_HOSTS="+hostPort(dv.URL)+","+hostPort(redirector.URL))

	const wf = flowOK
	oauthTo := func(endpoint string) map[string]any {
		return map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": endpoint,
			"clientId": clientID, "clientSecret": "{{secrets.DV_CLIENT_SECRET}}", "clientAuthentication": "credentialsBody"}
	}
	rest := func(method, u string) map[string]any {
		return map[string]any{"method": method, "url": u, "authentication": bearer(), "headers": map[string]any{"Accept": "application/json"}}
	}
	native := func(change map[string]any) map[string]any {
		v := triggerVars(dv, wf)
		for k, x := range change {
			v[k] = x
		}
		return v
	}
	trapHost := strings.TrimPrefix(trap.URL, "http://")
	cases := []struct {
		name, process string
		vars          map[string]any
		want          string
	}{
		{"organizationUri on a port not allowed", "single-task", native(map[string]any{"organizationUri": trap.URL}), "is not in PA_CONNECTOR_ALLOWED_HOSTS"},
		{"organizationUri with the allowed host as user info", "single-task", native(map[string]any{"organizationUri": "http://" + hostPort(dv.URL) + "@" + trapHost}), "credentials in the URL are not allowed"},
		{"organizationUri as localhost", "single-task", native(map[string]any{"organizationUri": "http://localhost:" + trap.Port()}), "is not in PA_CONNECTOR_ALLOWED_HOSTS"},
		{"organizationUri as a decimal IP", "single-task", native(map[string]any{"organizationUri": "http://2130706433:" + trap.Port()}), "is not in PA_CONNECTOR_ALLOWED_HOSTS"},
		{"token endpoint not allowed", "single-task", native(map[string]any{"authentication": oauthTo(trap.URL + tokenPath)}), "authentication.oauthTokenEndpoint"},
		{"compat: REST url not allowed", "rel-rest-task", rest("GET", trap.URL+"/internal/admin"), "is not in PA_CONNECTOR_ALLOWED_HOSTS"},
		// A complete trigger (with its body, which binding checks first), so that the host policy
		// is what refuses it.
		{"compat: Dataverse-shaped url not allowed", "rel-rest-task",
			withBody(rest("POST", trap.URL+"/api/data/v9.2/workflows("+wf+")/Microsoft.Dynamics.CRM.RunDesktopFlow"),
				map[string]any{"runMode": "attended", "connectionName": "conn", "connectionType": 1, "runPriority": "normal"}),
			"is not in PA_CONNECTOR_ALLOWED_HOSTS"},
		{"redirect from the allowed organization", "single-task", native(map[string]any{"organizationUri": redirector.URL}), "redirect to host " + trapHost + " not followed"},
		{"redirect from the allowed token endpoint", "single-task", native(map[string]any{"authentication": oauthTo(redirector.URL + tokenPath)}), "redirect to host " + trapHost + " not followed"},
		{"compat: redirect from an allowed REST url", "rel-rest-task", rest("GET", redirector.URL+"/moved"), "redirect to host " + trapHost + " not followed"},
	}
	keys := make([]int64, len(cases))
	for i, c := range cases {
		keys[i] = createInstance(t, c.process, c.vars)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })
	led.waitEnded(t, keys, 60*time.Second)
	for i, c := range cases {
		msg, ok := led.incidents[keys[i]]
		if !ok {
			t.Errorf("%s: completed, want an incident", c.name)
		} else if !strings.Contains(msg, c.want) {
			t.Errorf("%s: incident %q, want %q", c.name, msg, c.want)
		}
		if f := led.failures[keys[i]]; len(f) != 1 {
			t.Errorf("%s: %d JOB FAILED (retries %v), want one: a refused host is permanent", c.name, len(f), retriesOf(f))
		}
		t.Logf("%s: %s", c.name, msg)
	}
	if n := trap.Hits(); n != 0 {
		t.Fatalf("%d connections reached the listener that no pattern allows", n)
	}
	mu.Lock()
	redirected := redirects
	mu.Unlock()
	if redirected != 3 {
		t.Errorf("the allowed redirector was called %d times, want 3 (once per redirect case)", redirected)
	}

	// A wildcard that matches an IP literal ("*.0.0.1" matches 127.0.0.1): the name is allowed,
	// but it resolves to loopback, which wildcards never reach; plain http is refused outright.
	w.cmd.Process.Signal(interrupt)
	<-w.done
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=info", "PA_CONNECTOR_ALLOWED_HOSTS=*.0.0.1")
	wild := []struct{ name, uri, want string }{
		{"wildcard name resolving to loopback", "https://127.0.0.1:" + trap.Port(), "resolves to the internal address 127.0.0.1"},
		{"wildcard name over plain http", "http://127.0.0.1:" + trap.Port(), "plain http is only allowed for hosts listed explicitly"},
	}
	for _, c := range wild {
		k := createInstance(t, "single-task", native(map[string]any{"organizationUri": c.uri}))
		keys = append(keys, k)
		led.waitEnded(t, []int64{k}, 60*time.Second)
		msg := led.incidents[k]
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: incident %q (JOB FAILED retries %v), want %q", c.name, msg, retriesOf(led.failures[k]), c.want)
		}
		t.Logf("%s: %s (JOB FAILED retries %v)", c.name, msg, retriesOf(led.failures[k]))
	}
	if n := trap.Hits(); n != 0 {
		t.Fatalf("%d connections reached the listener that no pattern allows", n)
	}
	t.Logf("%d SSRF attempts, %d redirects answered by the allowed host, %d connections to the disallowed listener", len(cases)+len(wild), redirected, trap.Hits())
}

func withBody(v map[string]any, body map[string]any) map[string]any {
	v["body"] = body
	return v
}
