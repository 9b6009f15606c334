// Command deploycheck deploys every examples/*.bpmn to a Zeebe gateway (pa-engine, or a Zeebe
// cluster) and, with -eval, walks each example process there with scripted job results: it
// checks the variables the engine hands to the worker after evaluating the templates' input
// mappings (for Camunda's own template: url, method, headers, body, authentication) and the
// routing (gateway conditions, timer loop, error boundary event, incident).
//
// -eval activates jobs of the types power-automate:1 and io.camunda:http-json:1: run it only
// against an engine of its own (no pa-connector worker connected), for example:
//
//	export ENGINE_DATA_DIR=/tmp/pa-deploycheck ENGINE_PORT=26600
//	ENGINE_CLEAN=1 scripts/engine.sh start
//	go run ./tools/templates/deploycheck -address 127.0.0.1:26600 -eval
//	scripts/engine.sh stop
//
// Without -address it uses ZEEBE_ADDRESS, else 127.0.0.1:26500.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

const (
	nativeType = "power-automate:1"
	restType   = "io.camunda:http-json:1"
	org        = "https://org.crm.dynamics.com"
	workflowID = "8a4f1c2e-2d6b-4c1e-9a57-0c7d3e5b6f10"
	sessionID  = "5b0e8a71-93d4-4f26-b1c8-2f6e9d4a7c33"
)

type checker struct {
	client zbc.Client
	failed int
}

func main() {
	address := flag.String("address", "", "gateway gRPC address (default $ZEEBE_ADDRESS, else 127.0.0.1:26500)")
	dir := flag.String("dir", "examples", "folder with the *.bpmn files")
	eval := flag.Bool("eval", false, "also run every example with scripted job results (activates jobs: use an engine of its own)")
	flag.Parse()
	if *address == "" {
		*address = os.Getenv("ZEEBE_ADDRESS")
	}
	if *address == "" {
		*address = "127.0.0.1:26500"
	}
	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: *address, UsePlaintextConnection: true})
	if err != nil {
		fatalf("client: %v", err)
	}
	defer client.Close()
	c := &checker{client: client}

	files, _ := filepath.Glob(filepath.Join(*dir, "*.bpmn"))
	sort.Strings(files)
	if len(files) == 0 {
		fatalf("no *.bpmn in %s", *dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			fatalf("%v", err)
		}
		dep, err := client.NewDeployResourceCommand().AddResource(raw, filepath.Base(f)).Send(ctx)
		if err != nil {
			c.failf("deploy %s: %v", f, err)
			continue
		}
		for _, d := range dep.GetDeployments() {
			if p := d.GetProcess(); p != nil {
				fmt.Printf("deployed %-45s process %-36s version %d key %d\n", f, p.GetBpmnProcessId(), p.GetVersion(), p.GetProcessDefinitionKey())
			}
		}
	}
	if *eval && c.failed == 0 {
		c.runAll()
	}
	if c.failed > 0 {
		fmt.Printf("deploycheck: %d check(s) failed\n", c.failed)
		os.Exit(1)
	}
	fmt.Println("deploycheck: all checks passed")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "deploycheck: "+format+"\n", args...)
	os.Exit(2)
}

func (c *checker) failf(format string, args ...any) {
	c.failed++
	fmt.Printf("FAIL "+format+"\n", args...)
}

// instance is one running process instance whose jobs the script answers.
type instance struct {
	c    *checker
	name string
	key  int64
}

func (c *checker) start(process string, vars map[string]any) *instance {
	in := &instance{c: c, name: process}
	cmd, err := c.client.NewCreateInstanceCommand().BPMNProcessId(process).LatestVersion().VariablesFromMap(vars)
	if err != nil {
		fatalf("variables: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cmd.Send(ctx)
	if err != nil {
		c.failf("%s: create instance: %v", process, err)
		return nil
	}
	in.key = resp.GetProcessInstanceKey()
	return in
}

// job activates the next job of jobType for this instance (waiting up to 20 s).
func (in *instance) job(jobType string) *entities.Job {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		jobs, err := in.c.client.NewActivateJobsCommand().JobType(jobType).MaxJobsToActivate(1).
			Timeout(15 * time.Second).WorkerName("deploycheck").Send(ctx)
		cancel()
		if err != nil {
			continue
		}
		for i := range jobs {
			if jobs[i].GetProcessInstanceKey() == in.key {
				return &jobs[i]
			}
		}
	}
	in.c.failf("%s: no %s job within 20 s", in.name, jobType)
	return nil
}

// expect checks the job's element and that each wanted variable equals the job's (JSON values).
func (in *instance) expect(j *entities.Job, element string, want map[string]any, headers map[string]string) {
	if j == nil {
		return
	}
	if j.GetElementId() != element {
		in.c.failf("%s: job for element %s, want %s", in.name, j.GetElementId(), element)
	}
	vars, err := j.GetVariablesAsMap()
	if err != nil {
		in.c.failf("%s/%s: variables: %v", in.name, element, err)
		return
	}
	for k, w := range want {
		w = normalize(w)
		if got, ok := vars[k]; !ok && w != nil {
			in.c.failf("%s/%s: variable %s missing, want %s", in.name, element, k, show(w))
		} else if !reflect.DeepEqual(got, w) {
			in.c.failf("%s/%s: variable %s = %s, want %s", in.name, element, k, show(got), show(w))
		}
	}
	hs, _ := j.GetCustomHeadersAsMap()
	for k, w := range headers {
		if hs[k] != w {
			in.c.failf("%s/%s: header %s = %q, want %q", in.name, element, k, hs[k], w)
		}
	}
	fmt.Printf("ok   %s/%s (%s): %d variables and %d headers as expected\n", in.name, element, j.GetType(), len(want), len(headers))
}

func (in *instance) complete(j *entities.Job, vars map[string]any) {
	if j == nil {
		return
	}
	cmd, _ := in.c.client.NewCompleteJobCommand().JobKey(j.GetKey()).VariablesFromMap(vars)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cmd.Send(ctx); err != nil {
		in.c.failf("%s: complete %s: %v", in.name, j.GetElementId(), err)
	}
}

// ended waits until the instance is gone: cancelling it then answers NOT_FOUND.
func (in *instance) ended(what string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if !in.active() {
			fmt.Printf("ok   %s: %s\n", in.name, what)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	in.c.failf("%s: still active after 20 s, want: %s", in.name, what)
	in.cancel()
}

// active reports whether the instance still runs, without changing it: a variables update on
// the instance scope with no variables is rejected with NOT_FOUND once it has ended.
func (in *instance) active() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd, _ := in.c.client.NewSetVariablesCommand().ElementInstanceKey(in.key).VariablesFromMap(map[string]any{})
	_, err := cmd.Send(ctx)
	return err == nil || !strings.Contains(err.Error(), "NotFound")
}

func (in *instance) cancel() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = in.c.client.NewCancelInstanceCommand().ProcessInstanceKey(in.key).Send(ctx)
}

func normalize(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

func show(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

var bearer = map[string]any{"type": "bearer", "token": "test-token"}

func nativeTrigger() map[string]any {
	return map[string]any{
		"operationType": "triggerFlowRun", "organizationUri": org, "authentication": bearer,
		"workflowId": workflowID, "connectionName": "conn-1", "connectionType": "1",
		"runMode": "unattended", "runPriority": "normal", "runInputs": map[string]any{"Name": "Ada"},
		"connectionTimeoutInSeconds": "20",
	}
}

func nativeSession(op string) map[string]any {
	return map[string]any{
		"operationType": op, "organizationUri": org, "authentication": bearer,
		"flowSessionId": sessionID, "connectionTimeoutInSeconds": "20",
	}
}

func (c *checker) runAll() {
	statusExpr := "={statusCode: response.body.statuscode, statusName: response.statusName}"
	runVars := map[string]any{
		"organizationUri": org, "authentication": bearer, "workflowId": workflowID,
		"connectionName": "conn-1", "runMode": "unattended", "runInputs": map[string]any{"Name": "Ada"},
		"pollInterval": "PT1S",
	}

	// (a) run-desktop-flow: trigger, one poll still running (timer loop), succeeded, outputs.
	if in := c.start("run-desktop-flow", runVars); in != nil {
		j := in.job(nativeType)
		in.expect(j, "TriggerFlow", nativeTrigger(), map[string]string{
			"resultExpression": "={flowSessionId: response.body.flowsessionId}", "retryBackoff": "PT30S"})
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		j = in.job(nativeType)
		in.expect(j, "GetStatus", nativeSession("getStatusOfFlowRun"), map[string]string{"resultExpression": statusExpr})
		in.complete(j, map[string]any{"statusCode": 2, "statusName": "Running"})
		j = in.job(nativeType) // after the PT1S timer
		in.expect(j, "GetStatus", nativeSession("getStatusOfFlowRun"), nil)
		in.complete(j, map[string]any{"statusCode": 4, "statusName": "Succeeded"})
		j = in.job(nativeType)
		in.expect(j, "GetOutputs", nativeSession("getFlowOutputs"), map[string]string{"resultExpression": "={flowOutputs: response.body}"})
		in.complete(j, map[string]any{"flowOutputs": map[string]any{"Result": "ok"}})
		in.ended("succeeded path (trigger, poll, timer, poll, outputs) completed")
	}
	// (a) without runInputs and pollInterval: runInputs arrives as null, the timer defaults.
	noInputs := map[string]any{}
	for k, v := range runVars {
		if k != "runInputs" && k != "pollInterval" {
			noInputs[k] = v
		}
	}
	if in := c.start("run-desktop-flow", noInputs); in != nil {
		j := in.job(nativeType)
		in.expect(j, "TriggerFlow", map[string]any{"runInputs": nil}, nil)
		in.cancel()
	}
	// (a) failed run: the error expression's BPMN error is caught by the boundary event.
	if in := c.start("run-desktop-flow", runVars); in != nil {
		j := in.job(nativeType)
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		j = in.job(nativeType)
		if j != nil {
			cmd, _ := c.client.NewThrowErrorCommand().JobKey(j.GetKey()).ErrorCode("DESKTOP_FLOW_FAILED").
				ErrorMessage("The desktop flow run failed.").VariablesFromMap(map[string]any{"errorCode": "DesktopFlowRunFailed"})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := cmd.Send(ctx); err != nil {
				c.failf("run-desktop-flow: throw error: %v", err)
			}
			cancel()
		}
		in.ended("BPMN error DESKTOP_FLOW_FAILED caught by the boundary event (EndFailed)")
	}
	// (a) run ended otherwise (cancelled, 7): the gateway leaves the loop.
	if in := c.start("run-desktop-flow", runVars); in != nil {
		j := in.job(nativeType)
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		j = in.job(nativeType)
		in.complete(j, map[string]any{"statusCode": 7, "statusName": "Cancelled"})
		in.ended("status 7 leaves through 'Ended otherwise'")
	}

	// (b) Camunda's template: Zeebe evaluates the template's FEEL into REST connector variables.
	camundaVars := map[string]any{
		"organizationUri": org, "workflowId": workflowID, "connectionName": "conn-1",
		"runInputs": map[string]any{"Name": "Ada"}, "pollInterval": "PT1S",
	}
	restAuth := map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}"}
	jsonHeaders := map[string]any{"Content-Type": "application/json"}
	if in := c.start("run-desktop-flow-camunda-template", camundaVars); in != nil {
		j := in.job(restType)
		in.expect(j, "TriggerFlow", map[string]any{
			"operationType": "triggerFlowRun", "method": "post", "authentication": restAuth, "headers": jsonHeaders,
			"url": org + "/api/data/v9.2/workflows(" + workflowID + ")/Microsoft.Dynamics.CRM.RunDesktopFlow",
			"body": map[string]any{
				"runMode": "unattended", "runPriority": "normal", "connectionName": "conn-1", "timeout": 7200,
				"inputs": map[string]any{"Name": "Ada"}, "connectionType": "1", "callbackUrl": nil,
			},
			"connectionTimeoutInSeconds": "20",
		}, map[string]string{"resultExpression": "={flowSessionId: response.body.flowsessionId}", "retryBackoff": "PT30S"})
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		j = in.job(restType)
		in.expect(j, "GetStatus", map[string]any{
			"operationType": "getStatusOfFlowRun", "method": "get", "authentication": restAuth, "headers": jsonHeaders,
			"url": org + "/api/data/v9.2/flowsessions(" + sessionID + ")?$select=statuscode,statecode,startedon,completedon",
		}, map[string]string{"resultExpression": "={statusCode: response.body.statuscode}"})
		in.complete(j, map[string]any{"statusCode": 3})
		j = in.job(restType)
		in.expect(j, "GetStatus", nil, nil)
		in.complete(j, map[string]any{"statusCode": 4})
		j = in.job(restType)
		in.expect(j, "GetOutputs", map[string]any{
			"operationType": "getFlowOutputs", "method": "get",
			"url": org + "/api/data/v9.2/flowsessions(" + sessionID + ")/outputs/$value",
		}, map[string]string{"resultExpression": "={flowOutputs: response.body}"})
		in.complete(j, map[string]any{"flowOutputs": map[string]any{"Result": "ok"}})
		in.ended("succeeded path with Camunda's template completed")
	}

	// (c) cancel-desktop-flow: trigger, cancel, status.
	if in := c.start("cancel-desktop-flow", runVars); in != nil {
		j := in.job(nativeType)
		in.expect(j, "TriggerFlow", nativeTrigger(), nil)
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		j = in.job(nativeType)
		in.expect(j, "CancelFlow", nativeSession("cancelFlowRun"), map[string]string{"retryBackoff": "PT30S"})
		in.complete(j, nil)
		j = in.job(nativeType)
		in.expect(j, "GetStatus", nativeSession("getStatusOfFlowRun"), map[string]string{"resultExpression": statusExpr})
		in.complete(j, map[string]any{"statusCode": 7, "statusName": "Cancelled"})
		in.ended("trigger, cancel, status completed")
	}

	// (d) incident-on-bad-input: the flowSessionId reaches the worker as given.
	if in := c.start("incident-on-bad-input", map[string]any{
		"organizationUri": org, "authentication": bearer, "flowSessionId": "not-a-guid"}); in != nil {
		j := in.job(nativeType)
		in.expect(j, "GetStatus", map[string]any{"operationType": "getStatusOfFlowRun", "flowSessionId": "not-a-guid", "authentication": bearer}, nil)
		if j != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if _, err := c.client.NewFailJobCommand().JobKey(j.GetKey()).Retries(0).
				ErrorMessage("flowSessionId: must be a GUID").Send(ctx); err != nil {
				c.failf("incident-on-bad-input: fail job: %v", err)
			}
			cancel()
			time.Sleep(500 * time.Millisecond)
			if !in.active() {
				c.failf("incident-on-bad-input: instance ended, want it held by an incident")
			} else {
				fmt.Println("ok   incident-on-bad-input: job failed with retries 0, instance stays active (incident)")
			}
		}
		in.cancel()
	}

	// (e) trigger-with-oauth: OAuth fields from process variables and a secret.
	if in := c.start("trigger-with-oauth", map[string]any{
		"organizationUri": org, "tokenEndpoint": "https://login.example.test/tenant/oauth2/v2.0/token",
		"clientId": "client-1", "workflowId": workflowID, "connectionName": "conn-1"}); in != nil {
		j := in.job(nativeType)
		in.expect(j, "TriggerFlow", map[string]any{
			"operationType": "triggerFlowRun", "organizationUri": org, "workflowId": workflowID,
			"connectionName": "conn-1", "runMode": "unattended",
			"authentication": map[string]any{
				"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": "https://login.example.test/tenant/oauth2/v2.0/token",
				"clientId": "client-1", "clientSecret": "{{secrets.DV_CLIENT_SECRET}}", "scopes": org + "/.default",
				"clientAuthentication": "credentialsBody",
			},
		}, nil)
		in.complete(j, map[string]any{"flowSessionId": sessionID})
		in.ended("trigger with OAuth completed")
	}
}
