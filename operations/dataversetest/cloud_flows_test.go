package dataversetest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	syncFlow   = "0a0a0a0a-0000-4000-8000-000000000001"
	createdFlw = "0a0a0a0a-0000-4000-8000-000000000002"
	asyncFlow  = "0a0a0a0a-0000-4000-8000-000000000003"
	fireFlow   = "0a0a0a0a-0000-4000-8000-000000000004"
	entraFlow  = "0a0a0a0a-0000-4000-8000-000000000005"
)

func flowServer(t *testing.T) *Server {
	return start(t, Options{CloudFlows: map[string]CloudFlow{
		syncFlow:   {Name: "Notify owner", Body: map[string]any{"notified": "${inputs.recordId}", "table": "${inputs.entityLogicalName}"}},
		createdFlw: {Status: 201, Body: map[string]any{"ok": true}},
		asyncFlow:  {Polls: 3, RetryAfter: 2, Body: map[string]any{"done": "${inputs.x}"}},
		fireFlow:   {Status: 202},
		entraFlow:  {Auth: FlowAuthEntra, Body: map[string]any{"hello": "tenant"}},
	}})
}

// post sends a JSON body to a flow URL with optional bearer token.
func post(t *testing.T, url, token string, body any) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(mustJSON(t, body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func get(t *testing.T, url, token string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func flowErr(t *testing.T, a answer, status int, code string) {
	t.Helper()
	c, _ := a.odata(t)
	if a.status != status || c != code {
		t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
	}
}

func TestCloudFlowSynchronousAnswers(t *testing.T) {
	t.Parallel()
	s := flowServer(t)
	a := post(t, s.URL()+s.FlowTriggerPath(syncFlow), "", map[string]any{"entityLogicalName": "lead", "recordId": "r1", "note": "x"})
	m := a.json(t)
	if a.status != 200 || m["notified"] != "r1" || m["table"] != "lead" || a.header.Get("x-ms-workflow-run-id") == "" {
		t.Fatalf("sync: %d %v %s", a.status, a.header, a.body)
	}
	if a := post(t, s.URL()+s.FlowTriggerPath(createdFlw), "", map[string]any{}); a.status != 201 {
		t.Fatalf("201 flow: %d", a.status)
	}
	a = post(t, s.URL()+s.FlowTriggerPath(fireFlow), "", map[string]any{})
	if a.status != 202 || a.header.Get("Location") != "" || len(a.body) != 0 {
		t.Fatalf("fire and forget: %d %v %s", a.status, a.header, a.body)
	}
	runs := s.FlowRuns()
	if len(runs) != 3 || runs[0].Body["note"] != "x" {
		t.Fatalf("runs %+v", runs)
	}
	// The Power Platform host's path form reaches the same flow.
	if a := post(t, s.URL()+"/powerautomate/automations/direct"+s.FlowTriggerPath(syncFlow), "", map[string]any{}); a.status != 200 {
		t.Fatalf("direct path: %d %s", a.status, a.body)
	}
}

func TestCloudFlowSignature(t *testing.T) {
	t.Parallel()
	s := flowServer(t)
	good := s.URL() + s.FlowTriggerPath(syncFlow)
	u, _ := url.Parse(good)
	q := u.Query()
	sig := q.Get("sig")
	q.Set("sig", sig[:len(sig)-2]+"AA")
	u.RawQuery = q.Encode()
	a := post(t, u.String(), "", map[string]any{})
	flowErr(t, a, 401, "DirectApiInvalidAuthorizationSignature")
	if strings.Contains(string(a.body), sig[:8]) || strings.Contains(string(a.body), "AA") {
		t.Fatalf("the answer quotes the signature: %s", a.body)
	}
	q.Del("sig")
	u.RawQuery = q.Encode()
	flowErr(t, post(t, u.String(), "", map[string]any{}), 401, "DirectApiAuthorizationRequired")
	// A signature of one flow does not open another.
	other := strings.Replace(good, syncFlow, createdFlw, 1)
	flowErr(t, post(t, other, "", map[string]any{}), 401, "DirectApiInvalidAuthorizationSignature")
	flowErr(t, post(t, strings.Replace(good, syncFlow, "0a0a0a0a-0000-4000-8000-0000000000ff", 1), "", map[string]any{}), 404, "WorkflowNotFound")
	flowErr(t, post(t, good, "", "not json {"), 400, "InvalidRequestContent")
	for _, c := range s.Calls() {
		if strings.Contains(c.Path, "sig") {
			t.Fatalf("a call record holds the signature: %+v", c)
		}
	}
	if len(s.FlowRuns()) != 0 {
		t.Fatalf("refused triggers started runs: %+v", s.FlowRuns())
	}
}

func TestCloudFlowAsynchronousAnswer(t *testing.T) {
	t.Parallel()
	s := flowServer(t)
	a := post(t, s.URL()+s.FlowTriggerPath(asyncFlow), "", map[string]any{"x": "y"})
	loc := a.header.Get("Location")
	if a.status != 202 || a.header.Get("Retry-After") != "2" || !strings.Contains(loc, "/runs/") || !strings.Contains(loc, "sig=") {
		t.Fatalf("trigger: %d %v", a.status, a.header)
	}
	for i := 1; i <= 2; i++ {
		p := get(t, loc, "")
		if p.status != 202 || p.header.Get("Retry-After") != "2" || p.header.Get("Location") != loc {
			t.Fatalf("poll %d: %d %v", i, p.status, p.header)
		}
	}
	p := get(t, loc, "")
	if p.status != 200 || p.json(t)["done"] != "y" {
		t.Fatalf("final poll: %d %s", p.status, p.body)
	}
	if runs := s.FlowRuns(); len(runs) != 1 || runs[0].Polls != 3 {
		t.Fatalf("runs %+v", runs)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	q.Set("sig", "x"+q.Get("sig")[1:])
	u.RawQuery = q.Encode()
	flowErr(t, get(t, u.String(), ""), 401, "DirectApiInvalidAuthorizationSignature")
}

func TestCloudFlowEntraAudience(t *testing.T) {
	t.Parallel()
	s := flowServer(t)
	trigger := s.URL() + s.FlowTriggerPath(entraFlow)
	if strings.Contains(trigger, "sig=") {
		t.Fatalf("an Entra-protected trigger URL carries a signature: %s", trigger)
	}
	flowErr(t, post(t, trigger, "", map[string]any{}), 401, "DirectApiAuthorizationRequired")
	orgToken := accessToken(t, s, s.Scope())
	flowErr(t, post(t, trigger, orgToken, map[string]any{}), 401, "MisMatchingOAuthClaims")
	flowToken := accessToken(t, s, "https://service.flow.microsoft.com//.default")
	if a := post(t, trigger, flowToken, map[string]any{}); a.status != 200 || a.json(t)["hello"] != "tenant" {
		t.Fatalf("flow token: %d %s", a.status, a.body)
	}
	// The flow audience's token is not the organization's.
	if a := call(t, s, http.MethodGet, api+"accounts", flowToken, nil); a.status != 401 {
		t.Fatalf("a flow token at Dataverse: %d", a.status)
	}
	if a := call(t, s, http.MethodGet, api+"accounts", orgToken, nil); a.status != 200 {
		t.Fatalf("an org token at Dataverse: %d", a.status)
	}
}

// accessToken gets a client-credentials token for scope.
func accessToken(t *testing.T, s *Server, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonDecode(resp.Body, &m); err != nil || m.AccessToken == "" {
		t.Fatalf("token for %s: %d %v", scope, resp.StatusCode, err)
	}
	return m.AccessToken
}
