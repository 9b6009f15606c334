//go:build integration

package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// §C: version -1 is the latest; version 0 never exists.
func TestK10CreateLatestVersionAndVersionZero(t *testing.T) {
	t.Parallel()
	e := eng
	deploy := func(file string) *pb.ProcessMetadata {
		resp, err := e.zc.NewDeployResourceCommand().AddResource(fixture(t, file), "k10.bpmn").Send(ctxT(t, 30*time.Second))
		must(t, err, "deploy "+file)
		return resp.GetDeployments()[0].GetProcess()
	}
	v1 := deploy("k10-v1.bpmn")
	v2 := deploy("k10-v2.bpmn")
	if v1.GetVersion() != 1 || v2.GetVersion() != 2 {
		t.Fatalf("versions %d, %d, want 1, 2", v1.GetVersion(), v2.GetVersion())
	}
	latest, err := e.zc.NewCreateInstanceCommand().BPMNProcessId("k10").LatestVersion().Send(ctxT(t, 15*time.Second))
	must(t, err, "create latest")
	if latest.GetVersion() != 2 || latest.GetProcessDefinitionKey() != v2.GetProcessDefinitionKey() || latest.GetBpmnProcessId() != "k10" ||
		latest.GetTenantId() != "<default>" || latest.GetProcessInstanceKey() <= 0 {
		t.Errorf("latest: %v, want version 2 key %d bpmnProcessId k10 tenantId <default> and an instance key", latest, v2.GetProcessDefinitionKey())
	}
	one, err := e.zc.NewCreateInstanceCommand().BPMNProcessId("k10").Version(1).Send(ctxT(t, 15*time.Second))
	must(t, err, "create version 1")
	if one.GetVersion() != 1 || one.GetProcessDefinitionKey() != v1.GetProcessDefinitionKey() {
		t.Errorf("version 1: %v, want version 1 key %d", one, v1.GetProcessDefinitionKey())
	}
	byKey, err := e.zc.NewCreateInstanceCommand().ProcessDefinitionKey(v1.GetProcessDefinitionKey()).Send(ctxT(t, 15*time.Second))
	must(t, err, "create by key")
	if byKey.GetVersion() != 1 || byKey.GetBpmnProcessId() != "k10" {
		t.Errorf("by key: %v, want k10 version 1", byKey)
	}
	_, err = e.zc.NewCreateInstanceCommand().BPMNProcessId("k10").Version(0).Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "PROCESS_INSTANCE_CREATION", "CREATE", "NOT_FOUND",
		"Expected to find process definition with process ID 'k10' and version '0', but none found")
}

// §C: unknown process id (and unknown definition key).
func TestK11CreateUnknownProcessIsNotFound(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.zc.NewCreateInstanceCommand().BPMNProcessId("k11-nope").LatestVersion().Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "PROCESS_INSTANCE_CREATION", "CREATE", "NOT_FOUND",
		"Expected to find process definition with process ID 'k11-nope', but none found")
	_, err = e.zc.NewCreateInstanceCommand().ProcessDefinitionKey(unknownKey).Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "PROCESS_INSTANCE_CREATION", "CREATE", "NOT_FOUND",
		fmt.Sprintf("Expected to find process definition with key '%d', but none found", unknownKey))
}

// §C: gateway-side variable validation (raw request: the Go client validates JSON itself).
func TestK12CreateWithNonObjectOrBadJSONVariables(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k12.bpmn")
	_, err := e.gw.CreateProcessInstance(ctxT(t, 15*time.Second), &pb.CreateProcessInstanceRequest{BpmnProcessId: "k12", Version: -1, Variables: "[1]"})
	wantErr(t, err, codes.InvalidArgument, "Expected document to be a root level object, but was 'ARRAY'")
	_, err = e.gw.CreateProcessInstance(ctxT(t, 15*time.Second), &pb.CreateProcessInstanceRequest{BpmnProcessId: "k12", Version: -1, Variables: "{bad"})
	wantErrPrefix(t, err, codes.InvalidArgument, "Invalid JSON value: {bad")
	e.none(t, recFilter(func(r rec) bool {
		return r.ValueType == "PROCESS_INSTANCE_CREATION" && r.Value.S("bpmnProcessId") == "k12"
	}), "gateway-side validation writes no record")
}

// §C, §I: creation variables are created at the root before the start event runs.
func TestK13CreateVariablesPrecedeStartEvent(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k13.bpmn")
	pik := e.create(t, "k13", map[string]any{"a": 1, "b": "x"})
	start := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("bpmnElementType", "START_EVENT"), 15*time.Second)
	for name, value := range map[string]string{"a": "1", "b": `"x"`} {
		v := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", name), 10*time.Second)
		if v.Value.I("scopeKey") != pik || v.Value.S("value") != value || v.Value.S("bpmnProcessId") != "k13" {
			t.Errorf("VARIABLE CREATED %s: scopeKey %d value %q bpmnProcessId %q, want scopeKey %d value %q k13", name, v.Value.I("scopeKey"), v.Value.S("value"), v.Value.S("bpmnProcessId"), pik, value)
		}
		if v.Position >= start.Position {
			t.Errorf("VARIABLE CREATED %s at position %d, after the start event's ELEMENT_ACTIVATING at %d", name, v.Position, start.Position)
		}
	}
}

// §C: the result carries the root variables, or only the fetched ones that exist.
func TestK14CreateWithResultReturnsVariables(t *testing.T) {
	t.Parallel()
	e := eng
	dep := e.deploy(t, "k14.bpmn")
	all := e.createWithResult(t, "k14", map[string]any{"a": 1, "b": 2})
	some := e.createWithResult(t, "k14", map[string]any{"a": 1, "b": 2}, "a", "missing")
	r := awaitResult(t, all)
	jsonEq(t, "result variables", r.GetVariables(), `{"a":1,"b":2}`)
	if r.GetBpmnProcessId() != "k14" || r.GetVersion() != 1 || r.GetProcessInstanceKey() <= 0 ||
		r.GetProcessDefinitionKey() != dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey() || r.GetTenantId() != "<default>" {
		t.Errorf("result %v: want k14 version 1, the definition key, an instance key, tenant <default>", r)
	}
	e.processCompleted(t, r.GetProcessInstanceKey(), 10*time.Second)
	jsonEq(t, "fetchVariables [a missing]", awaitResult(t, some).GetVariables(), `{"a":1}`)
}

// §C: an instance that never completes answers DEADLINE_EXCEEDED after requestTimeout (15 s when
// requestTimeout is 0). Raw requests: the Go client derives requestTimeout from the context.
func TestK15CreateWithResultCancelledTimesOut(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k15a.bpmn", "k15b.bpmn")
	cases := []struct {
		pid       string
		timeoutMs int64
		wait      time.Duration
		iso       string
	}{{"k15a", 3000, 3 * time.Second, "PT3S"}, {"k15b", 0, 15 * time.Second, "PT15S"}}
	for _, c := range cases {
		t.Run(c.pid, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			errc := make(chan error, 1)
			go func() {
				_, err := e.gw.CreateProcessInstanceWithResult(ctx, &pb.CreateProcessInstanceWithResultRequest{
					Request: &pb.CreateProcessInstanceRequest{BpmnProcessId: c.pid, Version: -1}, RequestTimeout: c.timeoutMs})
				errc <- err
			}()
			created := e.waitRecord(t, ev("PROCESS_INSTANCE_CREATION", "CREATED").f("bpmnProcessId", c.pid), 15*time.Second)
			pik := created.Value.I("processInstanceKey")
			if _, err := e.zc.NewCancelInstanceCommand().ProcessInstanceKey(pik).Send(ctxT(t, 15*time.Second)); err != nil {
				t.Errorf("%s: cancel %d: %v", c.pid, pik, err)
			}
			e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_TERMINATED").k(pik), 15*time.Second)
			err := <-errc
			elapsed := time.Since(start)
			wantErr(t, err, codes.DeadlineExceeded, "Time out between gateway and broker: Request timed out after "+c.iso)
			if elapsed < c.wait || elapsed > c.wait+10*time.Second {
				t.Errorf("%s (requestTimeout %d): answered after %s, want %s (+ up to 10 s)", c.pid, c.timeoutMs, elapsed.Round(time.Millisecond), c.wait)
			}
		})
	}
}

// §C, §E: cancel terminates the process and cancels its job.
func TestK16CancelRunningInstance(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k16.bpmn")
	pik := e.create(t, "k16", nil)
	job := e.jobOf(t, pik)
	_, err := e.zc.NewCancelInstanceCommand().ProcessInstanceKey(pik).Send(ctxT(t, 15*time.Second))
	must(t, err, "cancel")
	terminating := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_TERMINATING").k(pik).f("bpmnElementType", "PROCESS"), 15*time.Second)
	terminated := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_TERMINATED").k(pik).f("bpmnElementType", "PROCESS"), 15*time.Second)
	canceled := e.waitRecord(t, ev("JOB", "CANCELED").k(job.Key), 15*time.Second)
	if !(terminating.Position < canceled.Position && canceled.Position < terminated.Position) {
		t.Errorf("positions: process ELEMENT_TERMINATING %d, JOB CANCELED %d, process ELEMENT_TERMINATED %d; want the job cancelled while the process terminates", terminating.Position, canceled.Position, terminated.Position)
	}
	err = e.completeErr(t, job.Key)
	e.wantRejection(t, err, codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND",
		fmt.Sprintf("Expected to complete job with key '%d', but no such job was found", job.Key))
}

// §C: completed instance, a task's element instance, and a second cancel.
func TestK17CancelNotFoundCases(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k17-done.bpmn", "k17-task.bpmn")
	reason := func(k int64) string {
		return fmt.Sprintf("Expected to cancel a process instance with key '%d', but no such process was found", k)
	}
	cancel := func(k int64) error {
		_, err := e.zc.NewCancelInstanceCommand().ProcessInstanceKey(k).Send(ctxT(t, 15*time.Second))
		return err
	}
	done := e.create(t, "k17-done", nil)
	e.processCompleted(t, done, 15*time.Second)
	e.wantRejection(t, cancel(done), codes.NotFound, "PROCESS_INSTANCE", "CANCEL", "NOT_FOUND", reason(done))

	pik := e.create(t, "k17-task", nil)
	eik := e.jobOf(t, pik).Value.I("elementInstanceKey")
	e.wantRejection(t, cancel(eik), codes.NotFound, "PROCESS_INSTANCE", "CANCEL", "NOT_FOUND", reason(eik))

	must(t, cancel(pik), "first cancel")
	e.wantRejection(t, cancel(pik), codes.NotFound, "PROCESS_INSTANCE", "CANCEL", "NOT_FOUND", reason(pik))
}

// §G, §I: the PROCESS element's ELEMENT_COMPLETED ends the instance.
func TestK74ProcessCompletionRecord(t *testing.T) {
	t.Parallel()
	e := eng
	dep := e.deploy(t, "k74.bpmn")
	r := awaitResult(t, e.createWithResult(t, "k74", nil))
	pik := r.GetProcessInstanceKey()
	c := e.processCompleted(t, pik, 10*time.Second)
	v := c.Value
	if v.S("elementId") != "k74" || v.I("processInstanceKey") != pik || v.I("flowScopeKey") != -1 || v.S("bpmnProcessId") != "k74" ||
		v.I("version") != 1 || v.I("processDefinitionKey") != dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey() {
		t.Errorf("ELEMENT_COMPLETED of the process: %v; want elementId k74, processInstanceKey %d, flowScopeKey -1, version 1, the definition key", c, pik)
	}
	for _, s := range []string{`"intent":"ELEMENT_COMPLETED"`, `"elementId":"k74"`, fmt.Sprintf(`"processInstanceKey":%d,`, pik)} {
		if !strings.Contains(c.Raw, s) {
			t.Errorf("raw record lacks %s: %s", s, c.Raw)
		}
	}
	// the end event completed before the process
	end := e.elementCompleted(t, pik, "End", 5*time.Second)
	if end.Position >= c.Position {
		t.Errorf("End completed at position %d, after the process (%d)", end.Position, c.Position)
	}
	if _, err := e.zc.NewCancelInstanceCommand().ProcessInstanceKey(pik).Send(ctxT(t, 15*time.Second)); status.Code(err) != codes.NotFound {
		t.Errorf("cancel after completion: %v, want NOT_FOUND", err)
	}
}
