package zeebe

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/secrets"
	"github.com/pa-connector/pa-connector/secrets/secretstest"
)

// The tests in this file look for secrets where they leave the worker, as the binary runs:
// a Worker with the handler (connector.NewHandler), the process's logger at debug level, a
// gateway that records every command, and the worker's metrics.

// leakGateway is fakeGateway that also reports everything it received as text.
type leakGateway struct{ *fakeGateway }

// sent is every text the gateway received.
func (g *leakGateway) sent() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b strings.Builder
	for _, r := range g.completed {
		fmt.Fprintf(&b, "COMPLETE %s\n", r.Variables)
	}
	for _, r := range g.failed {
		fmt.Fprintf(&b, "FAIL retries=%d %s %s\n", r.Retries, r.ErrorMessage, r.Variables)
	}
	for _, r := range g.thrown {
		fmt.Fprintf(&b, "THROW %s %s %s\n", r.ErrorCode, r.ErrorMessage, r.Variables)
	}
	for _, r := range g.setVars {
		fmt.Fprintf(&b, "SET %s\n", r.Variables)
	}
	return b.String()
}

// boundary is a worker as the binary wires it, with the secrets of env.
type boundary struct {
	t       *testing.T
	env     map[string]string
	log     *syncBuffer
	h       *connector.Handler
	w       *Worker
	g       *leakGateway
	metrics *prometheus.Registry
	key     int64
}

func newBoundary(t *testing.T, allowedHosts string) *boundary {
	t.Helper()
	live := secrets.NewRegistry()
	b := &boundary{t: t, env: map[string]string{}, log: &syncBuffer{}, metrics: prometheus.NewRegistry(), g: &leakGateway{fakeGateway: &fakeGateway{}}}
	// The process's logger at debug level: every line scrubbed of the secrets live holds.
	logger := zerolog.New(live.Writer(b.log)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	hosts, err := egress.NewHostPolicy(allowedHosts)
	if err != nil {
		t.Fatal(err)
	}
	b.h = connector.NewHandler(connector.Options{Hosts: hosts, Limits: &egress.Limits{}, Compat: true, SecretPrefix: "SECRET_",
		MaxOutputBytes: connector.DefaultMaxOutputBytes, Metrics: egress.NewMetrics(b.metrics), Live: live, Log: logger})
	b.h.Secrets.Lookup = func(k string) (string, bool) { v, ok := b.env[k]; return v, ok }
	b.w = &Worker{Gateway: b.g, Handler: b.h, Log: logger, Metrics: NewMetrics(b.metrics), Secrets: live, MaxJobsActive: 1,
		Types: []string{"power-automate:1", connector.CompatJobType}}
	return b
}

// job is an activated job of jobType with vars and headers, due at deadline.
func (b *boundary) job(jobType string, vars map[string]any, headers map[string]string, deadline time.Time) entities.Job {
	raw, err := json.Marshal(vars)
	if err != nil {
		b.t.Fatal(err)
	}
	hdr, _ := json.Marshal(headers)
	b.key++
	return entities.Job{ActivatedJob: &pb.ActivatedJob{
		Key: b.key, Type: jobType, Retries: 3, Deadline: deadline.UnixMilli(), ProcessInstanceKey: 7,
		ElementInstanceKey: 9, BpmnProcessId: "p", ElementId: "Task", CustomHeaders: string(hdr), Variables: string(raw),
	}}
}

// run runs a job to its answer; stop, when set, runs alongside the job with a function that
// ends the worker's jobs as SIGTERM does once the grace period is over.
func (b *boundary) run(j entities.Job, stop func(shutdown func())) {
	w := b.w
	w.init()
	if w.active.tryTake(1) != 1 {
		b.t.Fatal("no free slot")
	}
	w.start(j)
	if stop != nil {
		stop(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, l := range w.leases {
				l.Interrupt(ErrShutdown)
			}
		})
	}
	w.inflight.Wait()
}

// left is everything that left the worker: commands, log lines, metrics.
func (b *boundary) left() string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(b.metrics, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return b.g.sent() + "\n" + b.log.String() + "\n" + rec.Body.String()
}

func (b *boundary) noLeak(what string, values ...string) {
	b.t.Helper()
	text := b.left()
	for _, v := range values {
		if l := secretstest.Leaks(text, v); len(l) > 0 {
			b.t.Errorf("%s: the secret %q left the worker: %s", what, v, strings.Join(l, "; "))
		}
	}
}

// echoServer answers every request with a text that quotes it: URL, headers, body.
type echoServer struct {
	*httptest.Server
	mu      sync.Mutex
	status  int
	arrived chan struct{} // closed at the first request, when set
	hang    bool          // answer only when the request is given up
}

func newEchoServer(t *testing.T) *echoServer {
	e := &echoServer{status: http.StatusBadRequest}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func echoOf(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	return fmt.Sprintf("%s %s (path %s, query %s) Authorization: %s, X-Api: %s, body: %s",
		r.Method, r.URL.String(), r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("X-Api"), body)
}

func (e *echoServer) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	status, hang, arrived := e.status, e.hang, e.arrived
	e.arrived = nil
	e.mu.Unlock()
	if arrived != nil {
		close(arrived)
	}
	if hang {
		<-r.Context().Done()
		return
	}
	echo := echoOf(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo", echo)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": "0x80040203", "message": "bad request: " + echo}})
}

// A compatibility-mode call with an API key in its query, given up at shutdown or when the
// job's lease ended: the error it returns quotes the URL, and it used to be logged as it was.
func TestSecretsLeakNotOnCancellation(t *testing.T) {
	for _, why := range []string{"shutdown", "lease expired"} {
		t.Run(why, func(t *testing.T) {
			srv := newEchoServer(t)
			arrived := make(chan struct{})
			srv.hang, srv.arrived = true, arrived
			b := newBoundary(t, "127.0.0.1")
			const key = "api-key-Qx7/+ü&z=1 2"
			b.env["SECRET_API_KEY"] = key
			vars := map[string]any{"method": "GET", "url": srv.URL + "/items",
				"authentication": map[string]any{"type": "apikey", "name": "key", "value": "{{secrets.API_KEY}}", "apiKeyLocation": "query"}}
			deadline := time.Now().Add(time.Minute)
			var stop func(func())
			if why == "shutdown" {
				stop = func(shutdown func()) { <-arrived; shutdown() }
			} else {
				deadline = time.Now().Add(500 * time.Millisecond)
			}
			b.run(b.job(connector.CompatJobType, vars, nil, deadline), stop)
			// The call's error no longer quotes the URL (the client stack returns no
			// *url.Error); what the line says must still be scrubbed if it ever did.
			if log := b.log.String(); !strings.Contains(log, `"outcome":"handed-back"`) && !strings.Contains(log, `"outcome":"timed-out"`) {
				t.Fatalf("the log should have the cancelled job's outcome line: %s", log)
			}
			b.noLeak(why, key)
		})
	}
}

// A secret checked by a validation rule is quoted whole or not at all: the message used to
// quote its first 40 characters, which scrubbing (looking for the whole secret) then missed.
// Lower-cased and Go-quoted copies of a secret in validation messages are scrubbed too.
func TestSecretsLeakNotFromValidation(t *testing.T) {
	cases := map[string]struct {
		field, value string
	}{
		"prefix of a long secret":       {"runMode", "long-secret-" + strings.Repeat("Zq9", 20)},
		"lower-cased copy":              {"waitMode", "MiXeD-Case-Secret-42"},
		"Go-quoted quote and backslash": {"runMode", `q"uote\back` + "\tslash-secret"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newEchoServer(t)
			b := newBoundary(t, "127.0.0.1")
			b.env["SECRET_TOKEN"] = "bearer-token-value-1"
			b.env["SECRET_V"] = c.value
			vars := map[string]any{"operationType": "triggerFlowRun", "organizationUri": srv.URL, "workflowId": workflowID,
				"connectionName": "c", "runMode": "unattended", "authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}}
			vars[c.field] = "{{secrets.V}}"
			b.run(b.job("power-automate:1", vars, nil, time.Now().Add(time.Minute)), nil)
			if sent := b.g.sent(); !strings.Contains(sent, "FAIL retries=0") || !strings.Contains(sent, c.field) {
				t.Fatalf("want an incident naming %s, got %s", c.field, sent)
			}
			b.noLeak(name, c.value)
		})
	}
}

// A server that quotes the request URL (escaped) and echoes the Authorization header: the
// escaped copies of a secret in the URL's path and query, and the access token the worker
// obtained, used to reach the incident; an error expression that passes the answer on as a
// BPMN error's variables (or a job error's, or ignoreError's) used to carry them unscrubbed.
func TestSecretsLeakNotFromEchoes(t *testing.T) {
	const pathSecret, querySecret, clientSecretValue = "path secret/ä+x:y", "query&secret=ü +?#", "client-secret-for-echo"
	issued := "issued-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"access_token":%q}`, issued)
	}))
	t.Cleanup(tokenSrv.Close)
	exprs := map[string]string{
		"incident":    "",
		"bpmnError":   `=bpmnError("E", "failed: " + error.message, {answer: error.variables.response})`,
		"jobError":    `=jobError("failed: " + error.message, {answer: error.variables.response}, 0)`,
		"ignoreError": `=ignoreError({answer: error.variables.response, message: error.message})`,
	}
	for name, ex := range exprs {
		t.Run(name, func(t *testing.T) {
			srv := newEchoServer(t)
			b := newBoundary(t, "127.0.0.1")
			b.env["SECRET_PATH"], b.env["SECRET_QUERY"], b.env["SECRET_CLIENT"] = pathSecret, querySecret, clientSecretValue
			vars := map[string]any{"method": "POST", "url": srv.URL + "/items/{{secrets.PATH}}",
				"queryParameters": map[string]any{"q": "{{secrets.QUERY}}"},
				"authentication": map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": tokenSrv.URL + "/t/oauth2/v2.0/token",
					"clientId": clientID, "clientSecret": "{{secrets.CLIENT}}", "scopes": "api://x/.default"}}
			var headers map[string]string
			if ex != "" {
				headers = map[string]string{"errorExpression": ex}
			}
			b.run(b.job(connector.CompatJobType, vars, headers, time.Now().Add(time.Minute)), nil)
			sent := b.g.sent()
			if !strings.Contains(sent, "***") {
				t.Fatalf("the answer should hold the scrubbed echo: %s", sent)
			}
			b.noLeak(name, pathSecret, querySecret, issued, clientSecretValue)
		})
	}
}

// Two secrets that overlap, one's end being the other's start, echoed as one text: scrubbing
// one then the other left a fragment of whichever came second.
func TestSecretsLeakNotWhenOverlapping(t *testing.T) {
	srv := newEchoServer(t)
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_A"], b.env["SECRET_B"] = "overlap-AAAA-1234", "1234-BBBB-overlap"
	vars := map[string]any{"method": "POST", "url": srv.URL + "/items", "body": "{{secrets.A}}-BBBB-overlap / overlap-AAAA-{{secrets.B}}",
		"headers": map[string]any{"X-Api": "{{secrets.B}}{{secrets.A}}"}}
	b.run(b.job(connector.CompatJobType, vars, nil, time.Now().Add(time.Minute)), nil)
	b.noLeak("overlapping", "overlap-AAAA-1234", "1234-BBBB-overlap", "overlap-AAAA-1234-BBBB-overlap")
}

// A secret in a URL's path, logged by the debug request log.
func TestSecretsLeakNotFromDebugLog(t *testing.T) {
	srv := newEchoServer(t)
	srv.status = http.StatusOK
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_P"] = "path-secret-in-debug-log"
	vars := map[string]any{"method": "GET", "url": srv.URL + "/items/{{secrets.P}}/x"}
	b.run(b.job(connector.CompatJobType, vars, map[string]string{"resultExpression": "={ok: true}"}, time.Now().Add(time.Minute)), nil)
	if !strings.Contains(b.log.String(), `"message":"http request"`) {
		t.Fatalf("no debug request line: %s", b.log.String())
	}
	b.noLeak("debug log", "path-secret-in-debug-log")
}

// A placeholder resolving to fewer than 8 characters is refused with an incident naming the
// placeholder; its value is never sent anywhere.
func TestShortSecretRefusedAndNeverSent(t *testing.T) {
	srv := newEchoServer(t)
	arrived := make(chan struct{})
	srv.arrived = arrived
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_PIN"] = "4711"
	vars := map[string]any{"method": "POST", "url": srv.URL + "/items", "body": map[string]any{"pin": "{{secrets.PIN}}"}}
	b.run(b.job(connector.CompatJobType, vars, nil, time.Now().Add(time.Minute)), nil)
	sent := b.g.sent()
	if !strings.Contains(sent, "FAIL retries=0") || !strings.Contains(sent, `secret "PIN" is shorter than 8 characters`) {
		t.Fatalf("want an incident naming the short secret, got %s", sent)
	}
	select {
	case <-arrived:
		t.Fatal("a request was sent")
	default:
	}
}

// A token endpoint that quotes a client id given as a secret near the end of a long
// description: auth cuts the description to 500 characters, and used to cut it before the
// secret was scrubbed, leaving its first characters in the incident.
func TestSecretsLeakNotFromTokenEndpointCut(t *testing.T) {
	const id = "client-id-given-as-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client",
			"error_description": "AADSTS700016: " + strings.Repeat("d", 450) + " application " + r.FormValue("client_id") + " not found"})
	}))
	t.Cleanup(tokenSrv.Close)
	srv := newEchoServer(t)
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_ID"], b.env["SECRET_CLIENT"] = id, "client-secret-value-1"
	vars := map[string]any{"operationType": "triggerFlowRun", "organizationUri": srv.URL, "workflowId": workflowID,
		"connectionName": "c", "runMode": "unattended", "authentication": map[string]any{"type": "oauth-client-credentials-flow",
			"oauthTokenEndpoint": tokenSrv.URL + "/t/oauth2/v2.0/token", "clientId": "{{secrets.ID}}", "clientSecret": "{{secrets.CLIENT}}",
			"clientAuthentication": "credentialsBody"}}
	b.run(b.job("power-automate:1", vars, nil, time.Now().Add(time.Minute)), nil)
	if sent := b.g.sent(); !strings.Contains(sent, "FAIL retries=0") || !strings.Contains(sent, "AADSTS700016") {
		t.Fatalf("want the token endpoint's refusal as an incident, got %s", sent)
	}
	b.noLeak("token endpoint", id)
}

func TestSecretValueNeverInInputErrors(t *testing.T) {
	f := newFixture(t)
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_TOKEN"], b.env["SECRET_MODE"] = testToken, "sneaky-secret-value"
	b.run(b.job("power-automate:1", f.trigger(map[string]any{"runMode": "{{secrets.MODE}}"}), nil, time.Now().Add(time.Minute)), nil)
	if sent := b.g.sent(); !strings.Contains(sent, "FAIL retries=0") || !strings.Contains(sent, "runMode") {
		t.Fatalf("sent %s, want an incident naming runMode", sent)
	}
	b.noLeak("input error", "sneaky-secret-value")
}

// A server that echoes the Authorization header in its error: the access token the worker
// fetched must not reach the job's failure message.
func TestIssuedTokenNeverInMessages(t *testing.T) {
	const issued = "issued-access-token-4f9Qz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/token") {
			fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"access_token":%q}`, issued)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"code":"0x80048d19","message":"bad request with header %s"}}`, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	f := newFixture(t)
	b := newBoundary(t, "127.0.0.1")
	b.env["SECRET_TOKEN"], b.env["SECRET_CLIENT"] = testToken, clientSecret
	v := f.trigger(nil)
	v["organizationUri"] = srv.URL
	v["authentication"] = map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": srv.URL + "/t/oauth2/v2.0/token",
		"clientId": clientID, "clientSecret": "{{secrets.CLIENT}}"}
	b.run(b.job("power-automate:1", v, nil, time.Now().Add(time.Minute)), nil)
	if sent := b.g.sent(); !strings.Contains(sent, "FAIL retries=0") || !strings.Contains(sent, "0x80048d19") {
		t.Fatalf("sent %s, want the permanent 400", sent)
	}
	b.noLeak("the failure message", issued)
}
