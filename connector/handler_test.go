package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	workflowID   = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	failingFlow  = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	slowFlow     = "5a5a5a5a-0000-4000-8000-5a5a5a5a5a5a"
	testToken    = "static-bearer-token-Zq81"
	clientID     = "11111111-2222-3333-4444-555555555555"
	clientSecret = "client-secret-Xy9~never-log-me"
	// testCallbackKey signs the fixture's callback tokens and run records.
	testCallbackKey = "callback-key-for-tests-0123456789abcdef"
)

// fixture is an emulator plus a handler configured to call it.
type fixture struct {
	t   *testing.T
	srv *dataversetest.Server
	h   *Handler
	env map[string]string
}

// defaultLimits are the client-side limits the binary applies without PA_CONNECTOR_DATAVERSE_LIMITS.
func defaultLimits(t testing.TB) *egress.Limits {
	l, err := egress.ParseLimits("")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newFixture(t *testing.T, opts ...func(*dataversetest.Options)) *fixture {
	t.Helper()
	o := dataversetest.Options{
		Flows: map[string]dataversetest.Flow{
			workflowID:  {Outputs: map[string]any{"Output1": "${inputs.Input1}", "Count": 3}},
			slowFlow:    {Duration: time.Hour},
			failingFlow: {FinalStatus: 8, ErrorCode: "NoCandidateMachine", ErrorMessage: "No machine could run the flow."},
		},
		Tokens:  []string{testToken},
		Clients: map[string]string{clientID: clientSecret},
		// A trigger with connectionType 2 resolves its reference first: the default connection
		// name is a reference's too.
		ConnectionReferences: []dataversetest.ConnectionReference{{LogicalName: "shared-uiflow-conn", ConnectionID: "shared-uiflow-conn"}},
	}
	for _, f := range opts {
		f(&o)
	}
	srv := dataversetest.NewServer(o)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL())
	hosts, err := egress.NewHostPolicy(egress.DefaultAllowedHosts + "," + u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, env: map[string]string{"SECRET_TOKEN": testToken, "SECRET_CLIENT": clientSecret}}
	f.h = NewHandler(Options{Hosts: hosts, Limits: defaultLimits(t), Compat: true, SecretPrefix: "SECRET_",
		MaxOutputBytes: DefaultMaxOutputBytes, Log: zerolog.Nop()})
	f.h.Secrets.Lookup = func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }
	return f
}

func (f *fixture) job(vars map[string]any, headers map[string]string) Job {
	raw, _ := json.Marshal(vars)
	return Job{Key: 1, Type: "power-automate:1", Retries: 3, Deadline: time.Now().Add(time.Minute), Headers: headers, Variables: string(raw)}
}

func (f *fixture) run(vars map[string]any, headers map[string]string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.h.Handle(ctx, f.job(vars, headers))
}

func (f *fixture) base(op string) map[string]any {
	return map[string]any{
		"operationType":   op,
		"organizationUri": f.srv.URL(),
		"authentication":  map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"},
	}
}

func (f *fixture) trigger(extra map[string]any) map[string]any {
	v := f.base("triggerFlowRun")
	v["workflowId"] = workflowID
	v["connectionName"] = "shared-uiflow-conn"
	v["runMode"] = "unattended"
	for k, x := range extra {
		v[k] = x
	}
	return v
}

var triggerHeaders = map[string]string{"resultExpression": "={flowSessionId: response.body.flowsessionId}"}

func (f *fixture) startRun(extra map[string]any) string {
	f.t.Helper()
	res, err := f.run(f.trigger(extra), triggerHeaders)
	if err != nil {
		f.t.Fatalf("trigger: %v", err)
	}
	id, _ := res.Variables["flowSessionId"].(string)
	if _, ok := f.srv.Session(id); !ok {
		f.t.Fatalf("trigger returned %q, which the emulator does not know", id)
	}
	return id
}

// waitStatus polls the real status operation until the run reaches a terminal status.
func (f *fixture) waitStatus(id string) map[string]any {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v := f.base("getStatusOfFlowRun")
		v["flowSessionId"] = id
		res, err := f.run(v, map[string]string{"resultExpression": "={statusCode: response.body.statuscode, statusName: response.statusName}"})
		if err != nil {
			f.t.Fatalf("status: %v", err)
		}
		if c, _ := res.Variables["statusCode"].(int64); c >= 4 {
			return res.Variables
		}
		f.srv.Tick()
	}
	f.t.Fatalf("run %s never finished", id)
	return nil
}

func TestTriggerStatusOutputsCancel(t *testing.T) {
	f := newFixture(t)
	id := f.startRun(map[string]any{"runInputs": map[string]any{"Input1": "hello"}})

	got := f.waitStatus(id)
	if got["statusCode"] != int64(4) || got["statusName"] != "Succeeded" {
		t.Fatalf("status variables = %v, want statusCode 4 and statusName Succeeded", got)
	}

	v := f.base("getFlowOutputs")
	v["flowSessionId"] = id
	res, err := f.run(v, map[string]string{"resultExpression": "={flowOutputs: response.body}"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Variables["flowOutputs"].(map[string]any)
	if out["Output1"] != "hello" || out["Count"] != int64(3) {
		t.Fatalf("flowOutputs = %#v, want Output1 derived from the input and Count 3", out)
	}

	id2 := f.startRun(map[string]any{"workflowId": slowFlow})
	v = f.base("cancelFlowRun")
	v["flowSessionId"] = id2
	res, err = f.run(v, map[string]string{"resultVariable": "cancelResponse"})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Variables["cancelResponse"].(map[string]any)["status"]; st != int64(204) {
		t.Fatalf("cancel status = %v, want 204", st)
	}
	if s, _ := f.srv.Session(id2); s.StatusCode != 7 {
		t.Fatalf("cancelled run has statuscode %d, want 7", s.StatusCode)
	}
}

func TestResultVariableGetsWholeResponse(t *testing.T) {
	f := newFixture(t)
	res, err := f.run(f.trigger(nil), map[string]string{"resultVariable": "r"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Variables["r"].(map[string]any)
	body := r["body"].(map[string]any)
	if r["status"] != int64(200) || body["flowsessionId"] == nil || r["headers"].(map[string]any)["Odata-Version"] != "4.0" {
		t.Fatalf("resultVariable = %#v", r)
	}
}

func TestCoercions(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		extra map[string]any
		check func(t *testing.T, s dataversetest.FlowSession)
	}{
		{"connectionType as the dropdown's string", map[string]any{"connectionType": "2"}, nil},
		{"connectionType as a number", map[string]any{"connectionType": 1}, nil},
		{"runTimeout as a numeric string", map[string]any{"runTimeout": "600"}, nil},
		{"runTimeout as a number", map[string]any{"runTimeout": 86400}, nil},
		{"runInputs as a context", map[string]any{"runInputs": map[string]any{"Input1": "ctx"}}, func(t *testing.T, s dataversetest.FlowSession) {
			if s.Inputs["Input1"] != "ctx" {
				t.Fatalf("inputs = %v, want the context's entries", s.Inputs)
			}
		}},
		{"runInputs as a JSON string", map[string]any{"runInputs": `{"Input1":"str"}`}, func(t *testing.T, s dataversetest.FlowSession) {
			if s.Inputs["Input1"] != "str" {
				t.Fatalf("inputs = %v", s.Inputs)
			}
		}},
		{"runMode in capitals", map[string]any{"runMode": "Attended"}, nil},
		{"runPriority custom", map[string]any{"runPriority": "high"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := f.startRun(c.extra) // the emulator answers 400 to any wrong JSON type
			if c.check != nil {
				s, _ := f.srv.Session(id)
				c.check(t, s)
			}
		})
	}
}

func TestInputErrorsArePermanentAndNameTheField(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		vars  map[string]any
		field string
	}{
		{"connectionType 3", f.trigger(map[string]any{"connectionType": "3"}), "connectionType"},
		{"connectionType word", f.trigger(map[string]any{"connectionType": "one"}), "connectionType"},
		{"runTimeout too long", f.trigger(map[string]any{"runTimeout": 86401}), "runTimeout"},
		{"runTimeout fraction", f.trigger(map[string]any{"runTimeout": 1.5}), "runTimeout"},
		{"runInputs not JSON", f.trigger(map[string]any{"runInputs": "{not json"}), "runInputs"},
		{"runInputs a list", f.trigger(map[string]any{"runInputs": []any{1}}), "runInputs"},
		{"runMode unknown", f.trigger(map[string]any{"runMode": "sometimes"}), "runMode"},
		{"connectionName missing", f.trigger(map[string]any{"connectionName": nil}), "connectionName"},
		{"workflowId not a GUID", f.trigger(map[string]any{"workflowId": "../../x"}), "workflowId"},
		{"operation unknown", f.base("deleteEverything"), "operationType"},
		{"organizationUri missing", map[string]any{"operationType": "getStatusOfFlowRun"}, "organizationUri"},
		{"flowSessionId missing", f.base("getStatusOfFlowRun"), "flowSessionId"},
		{"authentication type unknown", func() map[string]any {
			v := f.base("getStatusOfFlowRun")
			v["authentication"] = map[string]any{"type": "kerberos"}
			return v
		}(), "authentication.type"},
	}
	before := f.srv.Count(dataversetest.OpRunDesktopFlow)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.run(c.vars, nil)
			var perm *PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("err = %v (%T), want a permanent error", err, err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name the field %s", err, c.field)
			}
		})
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 0 {
		t.Fatalf("%d RunDesktopFlow calls were made for bad input, want 0", n)
	}
}

func TestMissingSecretFailsAtOnceNamingIt(t *testing.T) {
	f := newFixture(t)
	v := f.base("getStatusOfFlowRun")
	v["authentication"] = map[string]any{"type": "bearer", "token": "{{ secrets.NOPE }}"}
	_, err := f.run(v, nil)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), `"NOPE"`) {
		t.Fatalf("err = %v, want a permanent error naming the secret NOPE", err)
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Fatalf("%d requests made, want 0", n)
	}
}

func TestSecretsOnlyWithPrefix(t *testing.T) {
	f := newFixture(t)
	f.env["ZEEBE_CLIENT_SECRET"] = "zeebe-secret-value"
	v := f.trigger(map[string]any{"runInputs": map[string]any{"Leak": "{{secrets.ZEEBE_CLIENT_SECRET}}"}})
	_, err := f.run(v, nil)
	if err == nil || strings.Contains(err.Error(), "zeebe-secret-value") {
		t.Fatalf("err = %v, want the unprefixed variable to be unreadable", err)
	}
}

func TestSecretsFromDirectory(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	if err := writeFile(dir+"/DV_TOKEN", testToken+"\n"); err != nil {
		t.Fatal(err)
	}
	f.h.Secrets.Dir = dir
	v := f.trigger(nil)
	v["authentication"] = map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}"}
	if _, err := f.run(v, nil); err != nil {
		t.Fatalf("a secret from the directory should authenticate: %v", err)
	}
}

func (f *fixture) oauth(v map[string]any, secret string) map[string]any {
	v["authentication"] = map[string]any{
		"type":                 "oauth-client-credentials-flow",
		"oauthTokenEndpoint":   f.srv.TokenURL(),
		"clientId":             clientID,
		"clientSecret":         secret,
		"clientAuthentication": "credentialsBody",
	}
	return v
}

func TestClientCredentialsOneTokenForManyJobsAndRefreshAfter401(t *testing.T) {
	f := newFixture(t)
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			_, err := f.run(f.oauth(f.trigger(nil), "{{secrets.CLIENT}}"), nil)
			errs <- err
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := f.srv.Count(dataversetest.OpToken); n != 1 {
		t.Fatalf("%d token requests for 20 concurrent jobs, want 1", n)
	}
	f.srv.RevokeTokens()
	if _, err := f.run(f.oauth(f.trigger(nil), "{{secrets.CLIENT}}"), nil); err != nil {
		t.Fatalf("after a 401 the worker should refresh the token once and succeed: %v", err)
	}
	if n := f.srv.Count(dataversetest.OpToken); n != 2 {
		t.Fatalf("%d token requests after revocation, want 2", n)
	}
}

func TestBasicAuthHeaderStyle(t *testing.T) {
	f := newFixture(t)
	v := f.oauth(f.trigger(nil), "{{secrets.CLIENT}}")
	v["authentication"].(map[string]any)["clientAuthentication"] = "basicAuthHeader"
	if _, err := f.run(v, nil); err != nil {
		t.Fatal(err)
	}
}

func TestBadClientSecretIsPermanentAndNotLeaked(t *testing.T) {
	f := newFixture(t)
	f.env["SECRET_WRONG"] = "wrong-secret-Qq77-do-not-print"
	_, err := f.run(f.oauth(f.trigger(nil), "{{secrets.WRONG}}"), nil)
	var perm *PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("err = %v (%T), want permanent", err, err)
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("error %q should carry the AADSTS code", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-Qq77") || strings.Contains(err.Error(), clientSecret) {
		t.Fatalf("error leaks the secret: %q", err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Fatalf("%d RunDesktopFlow calls without a token, want 0", n)
	}
}

func TestTokenEndpoint5xxIsTransient(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpToken, Status: 503})
	_, err := f.run(f.oauth(f.trigger(nil), "{{secrets.CLIENT}}"), map[string]string{"retryBackoff": "PT7S"})
	var retry *RetryError
	if !errors.As(err, &retry) || retry.KeepRetries || retry.Backoff < 7*time.Second {
		t.Fatalf("err = %#v, want a transient error with the header's backoff", err)
	}
}

func TestHostPolicyRefusesBeforeAnyRequest(t *testing.T) {
	f := newFixture(t)
	cases := map[string]map[string]any{
		"organization elsewhere": func() map[string]any {
			v := f.trigger(nil)
			v["organizationUri"] = "https://attacker.example.net"
			return v
		}(),
		"token endpoint elsewhere": func() map[string]any {
			v := f.oauth(f.trigger(nil), "{{secrets.CLIENT}}")
			v["authentication"].(map[string]any)["oauthTokenEndpoint"] = "https://attacker.example.net/token"
			return v
		}(),
		"http to a wildcard host": func() map[string]any {
			v := f.trigger(nil)
			v["organizationUri"] = "http://contoso.crm.dynamics.com"
			return v
		}(),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.run(v, nil)
			var perm *PermanentError
			if !errors.As(err, &perm) || !strings.Contains(err.Error(), "not allowed") {
				t.Fatalf("err = %v, want a permanent 'not allowed' error", err)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Fatal("error leaks the client secret")
			}
		})
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Fatalf("%d requests reached the emulator, want 0", n)
	}
}

func TestHTTPErrorsClassified(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name      string
		fault     dataversetest.Fault
		permanent bool
		contains  string
	}{
		{"500", dataversetest.Fault{Status: 500}, false, "500"},
		{"503", dataversetest.Fault{Status: 503}, false, "503"},
		{"408", dataversetest.Fault{Status: 408}, false, "408"},
		{"403", dataversetest.Fault{Status: 403, Code: "0x80040220", Message: "Principal user is missing prvReadworkflow privilege"}, true, "0x80040220"},
		{"400", dataversetest.Fault{Status: 400, Code: "0x80060888", Message: "bad"}, true, "0x80060888"},
		{"connection reset", dataversetest.Fault{Reset: true}, true, "a run may have started"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fault.Op = dataversetest.OpRunDesktopFlow
			f.srv.Inject(c.fault)
			_, err := f.run(f.trigger(nil), map[string]string{"retryBackoff": "PT30S"})
			var perm *PermanentError
			var retry *RetryError
			if c.permanent && !errors.As(err, &perm) {
				t.Fatalf("err = %v (%T), want permanent", err, err)
			}
			if !c.permanent && (!errors.As(err, &retry) || retry.KeepRetries || retry.Backoff != 30*time.Second) {
				t.Fatalf("err = %#v, want transient with backoff 30s", err)
			}
			if !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("error %q should contain %q", err, c.contains)
			}
		})
	}
}

func TestUnknownSessionIs404Permanent(t *testing.T) {
	f := newFixture(t)
	v := f.base("getStatusOfFlowRun")
	v["flowSessionId"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	_, err := f.run(v, nil)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "0x80040217") {
		t.Fatalf("err = %v, want permanent 404 with Dataverse's code", err)
	}
}

func TestConnectionTimeoutIsTransient(t *testing.T) {
	f := newFixture(t)
	id := f.startRun(map[string]any{"workflowId": slowFlow})
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpGetFlowSession, Delay: 3 * time.Second})
	start := time.Now()
	v := f.base("getStatusOfFlowRun")
	v["flowSessionId"] = id
	v["connectionTimeoutInSeconds"] = "1"
	_, err := f.run(v, nil)
	var retry *RetryError
	if !errors.As(err, &retry) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a transient timeout", err)
	}
	if time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("the 1 s connection timeout was not applied (took %s)", time.Since(start))
	}
}

// A trigger whose answer never came may have started a run: no automatic retry, an incident
// that says so. A trigger whose connection was refused never reached Dataverse: retried.
func TestTriggerWithUnknownOutcomeIsNotRetried(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Delay: 3 * time.Second})
	_, err := f.run(f.trigger(map[string]any{"connectionTimeoutInSeconds": "1"}), nil)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "a run may have started") {
		t.Fatalf("err = %v, want an incident saying the outcome is unknown", err)
	}
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Reset: true})
	_, err = f.run(f.trigger(nil), nil)
	if !errors.As(err, &perm) {
		t.Fatalf("a reset after the request was sent: err = %v, want an incident", err)
	}
	v := f.trigger(nil)
	v["organizationUri"] = "http://127.0.0.1:1" // nothing listens: the request is never sent
	_, err = f.run(v, nil)
	var retry *RetryError
	if !errors.As(err, &retry) {
		t.Fatalf("connection refused: err = %v, want a retry", err)
	}
}

func TestThrottlingWaitsInProcessWithoutSpendingRetries(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Status: 429, RetryAfter: 1})
	start := time.Now()
	if _, err := f.run(f.trigger(nil), nil); err != nil {
		t.Fatalf("a 429 whose Retry-After fits the deadline should be waited out: %v", err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("Retry-After not honoured: succeeded after %s", el)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 2 {
		t.Fatalf("%d RunDesktopFlow calls, want 2 (the 429 and the retry)", n)
	}
}

func TestThrottlingBeyondDeadlineKeepsRetries(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Status: 429, RetryAfter: 120})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := f.job(f.trigger(nil), map[string]string{"retryBackoff": "PT5S"})
	_, err := f.h.Handle(ctx, job)
	var retry *RetryError
	if !errors.As(err, &retry) || !retry.KeepRetries || retry.Backoff < 120*time.Second {
		t.Fatalf("err = %#v, want a retry keeping retries with backoff >= Retry-After", err)
	}
	d := Decide(err, 3)
	if d.Retries != 3 || d.Backoff < 120*time.Second {
		t.Fatalf("decision = %+v, want retries unchanged and backoff >= 120s", d)
	}
}

func TestErrorExpressions(t *testing.T) {
	f := newFixture(t)
	id := f.startRun(nil)
	failed := f.startRun(map[string]any{"workflowId": failingFlow})
	f.waitStatus(failed)
	status := func(id string) map[string]any {
		v := f.base("getStatusOfFlowRun")
		v["flowSessionId"] = id
		return v
	}
	missing := "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	cases := []struct {
		name  string
		vars  map[string]any
		expr  string
		check func(t *testing.T, res Result, err error)
	}{
		{"failed run becomes a BPMN error with variables", status(failed),
			`=if response.body.statuscode = 8 then bpmnError("DESKTOP_FLOW_FAILED", response.body.errormessage, {errorCode: response.body.errorcode}) else null`,
			func(t *testing.T, _ Result, err error) {
				var b *BPMNError
				if !errors.As(err, &b) || b.Code != "DESKTOP_FLOW_FAILED" || b.Message != "No machine could run the flow." || b.Variables["errorCode"] != "NoCandidateMachine" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"404 becomes a BPMN error", status(missing), `=if error.code = "404" then bpmnError("NOT_FOUND", error.message) else null`,
			func(t *testing.T, _ Result, err error) {
				var b *BPMNError
				if !errors.As(err, &b) || b.Code != "NOT_FOUND" || b.Message != "Not Found" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"legacy context with code", status(missing), `=if error.code = "404" then {code: "LEGACY", message: "m"} else null`,
			func(t *testing.T, _ Result, err error) {
				var b *BPMNError
				if !errors.As(err, &b) || b.Code != "LEGACY" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"jobError with retries and backoff", status(missing), `=jobError("try later", {why: error.code}, 2, "PT1M")`,
			func(t *testing.T, _ Result, err error) {
				d := Decide(err, 3)
				if d.Retries != 2 || d.Backoff != time.Minute || d.Message != "try later" || d.Variables["why"] != "404" {
					t.Fatalf("decision = %+v", d)
				}
			}},
		{"ignoreError completes with variables", status(missing), `=ignoreError({skipped: true})`,
			func(t *testing.T, res Result, err error) {
				if err != nil || res.Variables["skipped"] != true {
					t.Fatalf("res = %v, err = %v", res, err)
				}
			}},
		{"null leaves success alone", status(id), `=if error.code = "404" then bpmnError("X", "y") else null`,
			func(t *testing.T, res Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{"job retries visible", status(missing), `=if job.retries = 3 then bpmnError("R3", "") else null`,
			func(t *testing.T, _ Result, err error) {
				var b *BPMNError
				if !errors.As(err, &b) || b.Code != "R3" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"expr-lang syntax with the expr: prefix", status(missing), `expr:error.code == "404" ? bpmnError("EXPR", error.message) : nil`,
			func(t *testing.T, _ Result, err error) {
				var b *BPMNError
				if !errors.As(err, &b) || b.Code != "EXPR" {
					t.Fatalf("err = %#v", err)
				}
			}},
		{"broken expression is permanent", status(id), `=bpmnError(`,
			func(t *testing.T, _ Result, err error) {
				var p *PermanentError
				if !errors.As(err, &p) || !strings.Contains(err.Error(), "error expression") {
					t.Fatalf("err = %v", err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := f.run(c.vars, map[string]string{"errorExpression": c.expr})
			c.check(t, res, err)
		})
	}
}

func TestResultExpressionMustBeAContext(t *testing.T) {
	f := newFixture(t)
	_, err := f.run(f.trigger(nil), map[string]string{"resultExpression": "=response.status"})
	var p *PermanentError
	if !errors.As(err, &p) || !strings.Contains(err.Error(), "result expression") {
		t.Fatalf("err = %v", err)
	}
}

func TestOutputOverLimitFailsClearly(t *testing.T) {
	big := strings.Repeat("x", 4096)
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{Outputs: map[string]any{"Big": big}}
	})
	f.h.MaxOutputBytes = 2048
	id := f.startRun(nil)
	f.waitStatus(id)
	v := f.base("getFlowOutputs")
	v["flowSessionId"] = id
	_, err := f.run(v, map[string]string{"resultExpression": "={flowOutputs: response.body}"})
	var p *PermanentError
	if !errors.As(err, &p) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadHeadersArePermanent(t *testing.T) {
	f := newFixture(t)
	for _, h := range []map[string]string{{"retryBackoff": "30 seconds"}, {"jobTimeout": "P1Y"}} {
		_, err := f.run(f.trigger(nil), h)
		var p *PermanentError
		if !errors.As(err, &p) {
			t.Fatalf("headers %v: err = %v, want permanent", h, err)
		}
	}
}

// TestCompatCamundaTemplate feeds the variables Zeebe produces from Camunda's own Power
// Automate template (strings for static values, body built by its FEEL mappings).
func TestCompatCamundaTemplate(t *testing.T) {
	f := newFixture(t)
	org := f.srv.URL()
	authn := map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}
	job := func(vars map[string]any, headers map[string]string) (Result, error) {
		raw, _ := json.Marshal(vars)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return f.h.Handle(ctx, Job{Type: CompatJobType, Retries: 3, Deadline: time.Now().Add(time.Minute), Headers: headers, Variables: string(raw)})
	}
	res, err := job(map[string]any{
		"method":         "post",
		"url":            org + "/api/data/v9.2/workflows(" + workflowID + ")/Microsoft.Dynamics.CRM.RunDesktopFlow",
		"headers":        map[string]any{"Content-Type": "application/json"},
		"authentication": authn,
		"body": map[string]any{
			"runMode": "attended", "runPriority": "normal", "connectionName": "conn", "timeout": "7200",
			"inputs": map[string]any{"Input1": "compat"}, "connectionType": "1", "callbackUrl": nil,
		},
		"connectionTimeoutInSeconds": "20",
	}, map[string]string{"resultExpression": "={flowSessionId: response.body.flowsessionId}"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Variables["flowSessionId"].(string)
	s, ok := f.srv.Session(id)
	if !ok || s.Inputs["Input1"] != "compat" {
		t.Fatalf("session %q: %+v", id, s)
	}
	res, err = job(map[string]any{
		"method": "get", "url": org + "/api/data/v9.2/flowsessions(" + id + ")", "authentication": authn,
	}, map[string]string{"resultExpression": "={statusCode: response.body.statuscode}"})
	if err != nil || res.Variables["statusCode"] == nil {
		t.Fatalf("status: %v %v", res, err)
	}
	// A plain REST call of another task in the same cluster.
	other := newPlainServer(t)
	f.h.Hosts, _ = egress.NewHostPolicy("127.0.0.1")
	res, err = job(map[string]any{"method": "GET", "url": other + "/hello", "queryParameters": map[string]any{"q": "1"}},
		map[string]string{"resultVariable": "r"})
	if err != nil || res.Variables["r"].(map[string]any)["body"].(map[string]any)["q"] != "1" {
		t.Fatalf("plain REST: %v %v", res, err)
	}
}

func newPlainServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"q":%q}`, r.URL.Query().Get("q"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
