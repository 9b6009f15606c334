package connector

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth/authtest"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
	"github.com/pa-connector/pa-connector/secrets"
)

const (
	syncFlow     = "a1a1a1a1-0000-4000-8000-000000000001"
	createdFlow  = "a1a1a1a1-0000-4000-8000-000000000002"
	asyncFlow    = "a1a1a1a1-0000-4000-8000-000000000003"
	fireFlow     = "a1a1a1a1-0000-4000-8000-000000000004"
	tenantFlow   = "a1a1a1a1-0000-4000-8000-000000000005"
	slowAsync    = "a1a1a1a1-0000-4000-8000-000000000006"
	unknownFlow  = "a1a1a1a1-0000-4000-8000-0000000000ff"
	flowSignKey  = "flow-signing-key-for-connector-tests"
	flowRecordID = "00000000-0000-0000-0000-00000000abcd"
)

// newFlowFixture is the fixture with cloud flows, its handler logging (scrubbed, as the binary's)
// into the returned buffer, and the registry the adapter scrubs answers with.
func newFlowFixture(t *testing.T) (*fixture, *secrets.Registry, *bytes.Buffer) {
	echo := map[string]any{"recordId": "${inputs.recordId}", "table": "${inputs.entityLogicalName}", "priority": "${inputs.priority}"}
	f := newFixture(t, func(o *dataversetest.Options) {
		o.FlowSigningKey = flowSignKey
		o.CloudFlows = map[string]dataversetest.CloudFlow{
			syncFlow:    {Body: echo},
			createdFlow: {Status: 201, Body: map[string]any{"created": true}},
			asyncFlow:   {Polls: 2, Body: echo},
			fireFlow:    {Status: 202},
			tenantFlow:  {Auth: dataversetest.FlowAuthEntra, Body: map[string]any{"ok": true}},
			slowAsync:   {Polls: 5, RetryAfter: 3, Body: map[string]any{"late": true}},
		}
	})
	live := secrets.NewRegistry()
	logs := &bytes.Buffer{}
	u, _ := url.Parse(f.srv.URL())
	hosts, err := egress.NewHostPolicy(egress.DefaultAllowedHosts + "," + u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	// logging at debug level puts the request log on the handler's transport, as the binary's
	f.h = NewHandler(Options{Hosts: hosts, Limits: defaultLimits(t), SecretPrefix: "SECRET_", Live: live,
		MaxOutputBytes: DefaultMaxOutputBytes, Log: zerolog.New(live.Writer(logs)).Level(zerolog.DebugLevel)})
	f.h.Secrets.Lookup = func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }
	return f, live, logs
}

func (f *fixture) cloudFlow(flowURL string, extra map[string]any) map[string]any {
	v := map[string]any{"operationType": "runCloudFlow", "flowUrl": flowURL, "entityLogicalName": "lead", "recordId": flowRecordID}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// runFlowJob runs a power-automate:1 job holding its secrets in a set of live, as the adapter does.
func (f *fixture) runFlowJob(live *secrets.Registry, vars map[string]any, headers map[string]string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job := f.job(vars, headers)
	job.Secrets = live.NewSet()
	return f.h.Handle(ctx, job)
}

func TestRunCloudFlowAnswers(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	wantEcho := map[string]any{"recordId": flowRecordID, "table": "lead", "priority": "high"}
	for _, c := range []struct {
		name     string
		flow     string
		extra    map[string]any
		status   int64
		body     any
		polls    int
		duration time.Duration // at least
	}{
		{name: "200 with the body sent", flow: syncFlow, extra: map[string]any{"inputs": map[string]any{"priority": "high"}}, status: 200, body: wantEcho},
		{name: "201", flow: createdFlow, status: 201, body: map[string]any{"created": true}},
		{name: "202 with Location polled to the answer", flow: asyncFlow, extra: map[string]any{"inputs": `{"priority": "high"}`},
			status: 200, body: wantEcho, polls: 2, duration: 2 * time.Second},
		{name: "202 without Location", flow: fireFlow, status: 202, body: nil},
		{name: "202 with Location, not waiting", flow: asyncFlow, extra: map[string]any{"waitForResponse": false}, status: 202, body: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.srv.FlowRuns())
			start := time.Now()
			res, err := f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(c.flow), c.extra),
				map[string]string{"resultVariable": "flow", "resultExpression": "={answer: response.body, status: response.status}"})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < c.duration {
				t.Errorf("took %s: Retry-After (1 s a poll) was not honoured", took)
			}
			if res.Operation != "runCloudFlow" {
				t.Errorf("operation %q", res.Operation)
			}
			if got := res.Variables["status"]; got != c.status {
				t.Errorf("status %v, want %d", got, c.status)
			}
			if !reflect.DeepEqual(res.Variables["answer"], c.body) {
				t.Errorf("answer %#v, want %#v", res.Variables["answer"], c.body)
			}
			if flow, _ := res.Variables["flow"].(map[string]any); flow["status"] != c.status {
				t.Errorf("resultVariable %v", res.Variables["flow"])
			}
			runs := f.srv.FlowRuns()
			if len(runs) != before+1 {
				t.Fatalf("%d flow runs, want one more than %d", len(runs), before)
			}
			run := runs[len(runs)-1]
			if run.Polls != c.polls {
				t.Errorf("%d polls, want %d", run.Polls, c.polls)
			}
			if run.Body["entityLogicalName"] != "lead" || run.Body["recordId"] != flowRecordID {
				t.Errorf("the flow received %v", run.Body)
			}
		})
	}
}

// A trigger restricted to the tenant gets an Entra token for the flow service's audience
// (client credentials without scopes get its .default scope).
func TestRunCloudFlowWithEntraID(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	auth := map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": f.srv.TokenURL(),
		"clientId": clientID, "clientSecret": "{{secrets.CLIENT}}"}
	res, err := f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(tenantFlow), map[string]any{"authentication": auth}),
		map[string]string{"resultExpression": "={ok: response.body.ok}"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Variables["ok"] != true {
		t.Errorf("variables %v", res.Variables)
	}
	if runs := f.srv.FlowRuns(); runs[len(runs)-1].Caller != clientID {
		t.Errorf("caller %q, want the client %s", runs[len(runs)-1].Caller, clientID)
	}
	// With a Dataverse scope the token's audience would be the organization: refused before
	// any token is asked for or anything sent to the flow's host.
	auth["scopes"] = f.srv.Scope()
	tokens, calls := f.srv.Count(dataversetest.OpToken), f.srv.Count(dataversetest.OpCloudFlow)
	_, err = f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(tenantFlow), map[string]any{"authentication": auth}), nil)
	var ie *InputError
	if d := Decide(err, 3); !errors.As(err, &ie) || ie.Field != "authentication.scopes" || d.Retries != 0 {
		t.Errorf("a scope for another audience: %v, want an incident naming authentication.scopes", err)
	}
	if f.srv.Count(dataversetest.OpToken) != tokens || f.srv.Count(dataversetest.OpCloudFlow) != calls {
		t.Errorf("a token was asked for or the trigger called")
	}
	// the audience's scope, written with or without the resource's trailing slash, is taken
	for _, scope := range []string{"https://service.flow.microsoft.com//.default", "https://service.flow.microsoft.com/.default"} {
		auth["scopes"] = scope
		_, err = f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(tenantFlow), map[string]any{"authentication": auth}), nil)
		if errors.As(err, &ie) {
			t.Errorf("scope %s: %v", scope, err)
		}
	}
}

// A bearer token that is a JWT for another audience (the process's Dataverse token) is never
// sent to a flow's host: an incident naming authentication.token. One for the flow audience
// is sent; an opaque token cannot be read and is sent as given.
func TestRunCloudFlowBearerTokenForTheFlowAudienceOnly(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	var got []string
	base := f.h.Transport
	f.h.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Header.Get("Authorization"))
		return base.RoundTrip(r)
	})
	flowJWT := jwtFor(`{"aud":"https://service.flow.microsoft.com/","appid":"x"}`)
	for _, c := range []struct {
		name, token string
		refused     bool
	}{
		{"Dataverse JWT", authtest.JWT(1200), true},
		{"JWT with a list of audiences, none the flow's", jwtFor(`{"aud":["https://contoso.crm.dynamics.com","api://x"]}`), true},
		{"flow JWT", flowJWT, false},
		{"opaque token", testToken, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got = nil
			f.env["SECRET_FLOW_TOKEN"] = c.token
			_, err := f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(tenantFlow),
				map[string]any{"authentication": map[string]any{"type": "bearer", "token": "{{secrets.FLOW_TOKEN}}"}}), nil)
			var ie *InputError
			if refused := errors.As(err, &ie) && ie.Field == "authentication.token"; refused != c.refused {
				t.Fatalf("refused = %v (%v), want %v", refused, err, c.refused)
			}
			if c.refused && len(got) != 0 {
				t.Fatalf("%d requests sent", len(got))
			}
			if !c.refused && (len(got) != 1 || got[0] != "Bearer "+c.token) {
				t.Fatalf("Authorization sent %q, want the token", got)
			}
		})
	}
}

// jwtFor is a JWT-shaped token with the given claims (unsigned: the worker only reads aud).
func jwtFor(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString([]byte("signature-bytes"))
}

// A 202's Location on another origin (scheme, host, port) is polled without the job's
// credentials; one on the trigger's own origin gets them.
func TestRunCloudFlowCredentialsOnlyToTheTriggersOrigin(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	f.env["SECRET_FLOW_TOKEN"] = "flow-bearer-token-0123456789"
	collect := func(got *string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*got = r.Header.Get("Authorization")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
		}))
		t.Cleanup(s.Close)
		return s
	}
	var elsewhere, polled, triggered string
	other := collect(&elsewhere)
	flow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			polled = r.Header.Get("Authorization")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true}`))
			return
		}
		triggered = r.Header.Get("Authorization")
		loc := other.URL + "/collect"
		if r.URL.Query().Get("to") == "self" {
			loc = "/runs/1" // relative: the trigger's own origin
		}
		w.Header().Set("Location", loc)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(flow.Close)
	authn := map[string]any{"authentication": map[string]any{"type": "bearer", "token": "{{secrets.FLOW_TOKEN}}"}}
	want := "Bearer " + f.env["SECRET_FLOW_TOKEN"]

	res, err := f.runFlowJob(live, f.cloudFlow(flow.URL+"/workflows/x/triggers/manual/paths/invoke", authn), map[string]string{"resultVariable": "r"})
	if err != nil {
		t.Fatal(err)
	}
	if triggered != want || elsewhere != "" {
		t.Fatalf("trigger got %q, the Location on %s got %q; want the token for the trigger only (%v)", triggered, other.URL, elsewhere, res.Variables)
	}
	if _, err := f.runFlowJob(live, f.cloudFlow(flow.URL+"/workflows/x/triggers/manual/paths/invoke?to=self", authn), nil); err != nil {
		t.Fatal(err)
	}
	if polled != want {
		t.Fatalf("the Location on the trigger's origin got %q, want the token", polled)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://prod-1.westeurope.logic.azure.com/workflows/a", "https://PROD-1.westeurope.logic.azure.com:443/runs/1", true},
		{"https://prod-1.westeurope.logic.azure.com./w", "https://prod-1.westeurope.logic.azure.com/r", true},
		{"http://127.0.0.1/w", "http://127.0.0.1:80/r", true},
		{"https://prod-1.westeurope.logic.azure.com/w", "https://prod-2.westeurope.logic.azure.com/w", false},
		{"https://prod-1.westeurope.logic.azure.com/w", "https://prod-1.westeurope.logic.azure.com:8443/w", false},
		{"https://prod-1.westeurope.logic.azure.com/w", "http://prod-1.westeurope.logic.azure.com/w", false},
		{"https://a.logic.azure.com/w", "https://a.logic.azure.com.evil.example/w", false},
	} {
		if got := sameOrigin(c.a, c.b); got != c.same {
			t.Errorf("sameOrigin(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// A wrong signature is an incident that says what to check and holds no part of the signature
// sent (nor of the right one), in its message, the worker's log or the request metrics.
func TestRunCloudFlowWrongSignatureHidesIt(t *testing.T) {
	f, live, logs := newFlowFixture(t)
	var observed []string
	f.h.Observe = func(op operations.Op, status int, _ time.Duration) { observed = append(observed, string(op)) }
	right := f.srv.FlowURL(syncFlow)
	u, _ := url.Parse(right)
	q := u.Query()
	good := q.Get("sig")
	wrong := reverse(good)
	q.Set("sig", wrong)
	u.RawQuery = q.Encode()
	_, err := f.runFlowJob(live, f.cloudFlow(u.String(), nil), nil)
	var perm *PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("want an incident, got %v", err)
	}
	msg := live.Message(err.Error()) // what the adapter sends
	for _, want := range []string{"401", "DirectApiInvalidAuthorizationSignature", "signature"} {
		if !strings.Contains(msg, want) {
			t.Errorf("incident %q lacks %q", msg, want)
		}
	}
	for what, text := range map[string]string{"incident": err.Error(), "scrubbed incident": msg, "log": logs.String(), "metrics": strings.Join(observed, " ")} {
		for _, sig := range []string{wrong, good} {
			if s := sharedPart(text, sig, 8); s != "" {
				t.Errorf("the %s holds %q of the signature: %s", what, s, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "/triggers/manual/paths/invoke") {
		t.Errorf("the request was not logged (the log check saw nothing): %s", logs.String())
	}
}

// sharedPart returns a substring of secret of n characters that text holds, or "".
func sharedPart(text, secret string, n int) string {
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return secret[i : i+n]
		}
	}
	return ""
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// What the trigger answers besides success: 401, 403 and 404 are incidents saying what to check,
// 5xx is retried with one retry fewer, 429 keeps the retries.
func TestRunCloudFlowTriggerFailures(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	var perm *PermanentError
	var retry *RetryError
	_, err := f.runFlowJob(live, f.cloudFlow(f.srv.URL()+f.srv.FlowTriggerPath(unknownFlow), nil), nil)
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "WorkflowNotFound") || !strings.Contains(err.Error(), "turned on") {
		t.Errorf("unknown flow: %v", err)
	}
	// A 5xx or 408 of the trigger: the run may have started (the flow's own Response action, or
	// no answer within 120 s), so a retry could run the flow twice.
	for _, status := range []int{500, 502, 503, 504, 408} {
		f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCloudFlow, Status: status})
		_, err = f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(syncFlow), nil), nil)
		if d := Decide(err, 3); d.Retries != 0 || !strings.Contains(d.Message, "the flow may have started") || !strings.Contains(d.Message, fmt.Sprint(status)) {
			t.Errorf("%d: want an incident saying the flow may have started, got %+v", status, d)
		}
	}
	// an error expression still sees it, as for any operation
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCloudFlow, Status: 502})
	_, err = f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(syncFlow), nil),
		map[string]string{"errorExpression": `=if error.code = "502" then bpmnError("FLOW_FAILED", error.message) else null`})
	if bpmn := (*BPMNError)(nil); !errors.As(err, &bpmn) || bpmn.Code != "FLOW_FAILED" {
		t.Errorf("errorExpression on 502: %v", err)
	}
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCloudFlow, Status: 429, RetryAfter: 90})
	_, err = f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(syncFlow), nil), nil)
	if !errors.As(err, &retry) || !retry.KeepRetries || retry.Backoff < 90*time.Second {
		t.Errorf("429: want a retry keeping the retries after Retry-After, got %#v", err)
	}
	// a 404 the error expression catches, as for any operation
	_, err = f.runFlowJob(live, f.cloudFlow(f.srv.URL()+f.srv.FlowTriggerPath(unknownFlow), nil),
		map[string]string{"errorExpression": `=if error.code = "404" then bpmnError("NO_FLOW", error.message) else null`})
	var bpmn *BPMNError
	if !errors.As(err, &bpmn) || bpmn.Code != "NO_FLOW" {
		t.Errorf("errorExpression on 404: %v", err)
	}
}

// The wait ends at the job's deadline (the jobTimeout header): an incident that says the flow
// may still run, sent as soon as the next pause would pass the deadline.
func TestRunCloudFlowStopsAtTheJobsDeadline(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	start := time.Now()
	_, err := f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(slowAsync), nil), map[string]string{"jobTimeout": "PT2S"})
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "job's deadline") {
		t.Fatalf("want an incident at the deadline, got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s: a pause past the deadline was slept", took)
	}
	if runs := f.srv.FlowRuns(); runs[len(runs)-1].Polls != 0 {
		t.Errorf("%d polls after a Retry-After past the deadline", runs[len(runs)-1].Polls)
	}
}

// Each bad input is an incident naming the field, and never quotes the flow URL.
func TestRunCloudFlowBadInput(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	signed := f.srv.FlowURL(syncFlow)
	short := strings.Split(signed, "&sig=")[0] + "&sig=abc"
	for _, c := range []struct {
		name  string
		vars  map[string]any
		field string
	}{
		{"no flowUrl", map[string]any{"flowUrl": nil}, "flowUrl"},
		{"flowUrl not a URL", map[string]any{"flowUrl": "prod-00.logic.azure.com/workflows/x?sig=abcdefghijkl"}, "flowUrl"},
		{"flowUrl a number", map[string]any{"flowUrl": 42}, "flowUrl"},
		{"short sig", map[string]any{"flowUrl": short}, "flowUrl"},
		{"unsigned without authentication", map[string]any{"flowUrl": f.srv.URL() + f.srv.FlowTriggerPath(tenantFlow)}, "flowUrl"},
		{"host not allowed", map[string]any{"flowUrl": "https://evil.example.com/workflows/x/triggers/manual/paths/invoke?sig=abcdefghijkl"}, "not allowed"},
		{"inputs a list", map[string]any{"inputs": []any{1}}, "inputs"},
		{"inputs repeats recordId", map[string]any{"inputs": map[string]any{"recordId": "x"}}, "inputs.recordId"},
		{"waitForResponse not a boolean", map[string]any{"waitForResponse": "maybe"}, "waitForResponse"},
		{"recordId a number", map[string]any{"recordId": 7}, "recordId"},
		{"bad authentication", map[string]any{"authentication": map[string]any{"type": "basic"}}, "authentication.type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := f.cloudFlow(signed, c.vars)
			_, err := f.runFlowJob(live, vars, nil)
			var perm *PermanentError
			if !errors.As(err, &perm) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("want an incident naming %s, got %v", c.field, err)
			}
			if s, _ := vars["flowUrl"].(string); s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("the incident quotes the flow URL: %v", err)
			}
		})
	}
	if n := len(f.srv.FlowRuns()); n != 0 {
		t.Errorf("%d flows ran on bad input", n)
	}
}

// Signatures that reach the worker's answers are held as secrets: an error body that echoes the
// trigger's URL, and a 202 not waited for hands its signed Location to the variables; what the
// adapter sends holds neither signature.
func TestRunCloudFlowSignaturesAreHeld(t *testing.T) {
	f, live, logs := newFlowFixture(t)
	signed := f.srv.FlowURL(syncFlow)
	sig := signedSig(t, signed)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCloudFlow, Status: 400, Code: "InvalidRequest", Message: "cannot serve " + signed})
	_, err := f.runFlowJob(live, f.cloudFlow(signed, nil), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot serve") {
		t.Fatalf("want the echoing 400, got %v", err)
	}
	if s := sharedPart(live.Message(err.Error()), sig, 8); s != "" {
		t.Errorf("the incident holds %q of the signature: %s", s, live.Message(err.Error()))
	}

	res, err := f.runFlowJob(live, f.cloudFlow(f.srv.FlowURL(asyncFlow), map[string]any{"waitForResponse": false}), map[string]string{"resultVariable": "flow"})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := res.Variables["flow"].(map[string]any)["headers"].(map[string]any)["Location"].(string)
	if loc == "" {
		t.Fatalf("no Location in %v", res.Variables)
	}
	locSig := signedSig(t, loc)
	sent, _ := marshal(live.Map(res.Variables))
	if s := sharedPart(string(sent), locSig, 8); s != "" {
		t.Errorf("the variables hold %q of the Location's signature: %s", s, sent)
	}
	if s := sharedPart(logs.String(), locSig, 8) + sharedPart(logs.String(), sig, 8); s != "" {
		t.Errorf("the log holds %q of a signature", s)
	}
}

func signedSig(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get("sig") == "" {
		t.Fatalf("no sig in a URL (%v)", err)
	}
	return u.Query().Get("sig")
}

// A flow that accepted the call (202) is recorded on the element instance before the first
// poll. The worker dies while polling (its context ends right after the record is written); the
// redelivered job is an incident that says the flow was started, and the trigger is not called a
// second time. A flow answered at once records nothing (its job completes with the answer).
func TestRunCloudFlowRedeliveredWhilePollingIsAnIncidentNotASecondRun(t *testing.T) {
	f, live, _ := newFlowFixture(t)
	first := f.recordingJob(7101, f.cloudFlow(f.srv.FlowURL(slowAsync), nil))
	first.Headers = nil
	first.Secrets = live.NewSet()
	ctx, die := context.WithCancel(t.Context())
	record := first.SetLocal
	first.SetLocal = func(c context.Context, v map[string]any) error {
		err := record(c, v)
		die() // the worker stops while the flow runs
		return err
	}
	before := len(f.srv.FlowRuns())
	if _, err := f.h.Handle(ctx, first.Job); err == nil {
		t.Fatal("the first delivery completed: want it stopped while polling")
	}
	if _, ok := first.local[RecordedRunVariable].(map[string]any); !ok {
		t.Fatalf("no %s recorded after the 202: %v", RecordedRunVariable, first.local)
	}
	again := first.redeliver(t)
	again.Secrets = live.NewSet()
	_, err := f.h.Handle(t.Context(), again)
	d := Decide(err, 3)
	if d.Kind != "fail" || d.Retries != 0 || !strings.Contains(d.Message, "would start the flow a second time") || !strings.Contains(d.Message, RecordedRunVariable) {
		t.Fatalf("redelivered = %+v, want an incident saying the flow was started", d)
	}
	if n := len(f.srv.FlowRuns()) - before; n != 1 {
		t.Fatalf("the trigger was called %d times, want 1", n)
	}

	sync := f.recordingJob(7102, f.cloudFlow(f.srv.FlowURL(syncFlow), nil))
	sync.Headers = nil
	sync.Secrets = live.NewSet()
	if _, err := f.h.Handle(t.Context(), sync.Job); err != nil {
		t.Fatal(err)
	}
	if len(sync.local) != 0 {
		t.Errorf("a flow answered at once recorded %v", sync.local)
	}
}
