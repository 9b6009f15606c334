//go:build integration

package conformance

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func (e *engine) throwError(t testing.TB, jobKey int64, code, message, vars string) error {
	t.Helper()
	c := e.zc.NewThrowErrorCommand().JobKey(jobKey).ErrorCode(code).ErrorMessage(message)
	if vars != "" {
		var err error
		c, err = c.VariablesFromString(vars)
		must(t, err, "variables")
	}
	_, err := c.Send(ctxT(t, 15*time.Second))
	return err
}

// §F: an error caught by an interrupting boundary event.
func TestK57ThrowErrorCaughtByBoundary(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k57.bpmn")
	pik := e.create(t, "k57", nil)
	job := e.activateOne(t, "k57", "k57", time.Minute)
	must(t, e.throwError(t, job.GetKey(), "K57_ERR", "k57 message", ""), "ThrowError")
	e.waitRecord(t, ev("JOB", "ERROR_THROWN").k(job.GetKey()).f("errorCode", "K57_ERR").f("errorMessage", "k57 message"), 10*time.Second)
	term := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_TERMINATED").k(job.GetElementInstanceKey()).f("elementId", "Task"), 10*time.Second)
	b := e.elementCompleted(t, pik, "K57Boundary", 10*time.Second)
	if b.Value.S("bpmnElementType") != "BOUNDARY_EVENT" || b.Value.S("bpmnEventType") != "ERROR" {
		t.Errorf("boundary record %v: want BOUNDARY_EVENT / ERROR", b)
	}
	if b.Position <= term.Position {
		t.Errorf("boundary completed (%d) before the task terminated (%d)", b.Position, term.Position)
	}
	e.elementCompleted(t, pik, "CaughtEnd", 10*time.Second)
	e.processCompleted(t, pik, 10*time.Second)
	e.wantRejection(t, e.completeErr(t, job.GetKey()), codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND", notFoundComplete(job.GetKey()))
	e.none(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", "NormalEnd"), "the normal path is not taken")
}

// §F, §D: error variables reach the process only through the catch event's output mappings.
// The ThrowError sends errorCode itself, so the test does not depend on whether the engine also
// provides an errorCode variable on the catch event.
func TestK58ErrorVariablesOnlyViaOutputMappings(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k58-out.bpmn", "k58-noout.bpmn")
	for _, c := range []struct{ pid, want string }{
		{"k58-out", `{"errorCode":"K58_ERR","statusName":"Failed"}`},
		{"k58-noout", `{}`},
	} {
		t.Run(c.pid, func(t *testing.T) {
			t.Parallel()
			res := e.createWithResult(t, c.pid, nil)
			job := e.activateOne(t, c.pid, c.pid, time.Minute)
			must(t, e.throwError(t, job.GetKey(), "K58_ERR", "flow failed", `{"errorCode":"K58_ERR","statusName":"Failed","extra":1}`), "ThrowError")
			r := awaitResult(t, res)
			jsonEq(t, "process result", r.GetVariables(), c.want)
			pik := r.GetProcessInstanceKey()
			e.elementCompleted(t, pik, "EndFailed", 10*time.Second)
			boundary := e.elementCompleted(t, pik, "Failed", 10*time.Second)
			v := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "extra"), 10*time.Second)
			if v.Value.I("scopeKey") != boundary.Key {
				t.Errorf("error variable extra: scopeKey %d, want the catch event %d", v.Value.I("scopeKey"), boundary.Key)
			}
		})
	}
}

// §F: a boundary with the exact errorCode wins over a catch-all on the same task (the catch-all
// comes first in the XML).
func TestK59SpecificErrorBoundaryWinsOverCatchAll(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k59.bpmn")
	pik := e.create(t, "k59", nil)
	job := e.activateOne(t, "k59", "k59", time.Minute)
	must(t, e.throwError(t, job.GetKey(), "K59_ERR", "specific", ""), "ThrowError")
	e.elementCompleted(t, pik, "K59Specific", 10*time.Second)
	e.elementCompleted(t, pik, "SpecificEnd", 10*time.Second)
	e.processCompleted(t, pik, 10*time.Second)
	e.none(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", "K59CatchAll"), "the catch-all does not catch a specific match")
}

// §F: an uncaught error: OK, UNHANDLED_ERROR_EVENT incident, job in state ERROR_THROWN.
func TestK60UncaughtErrorRaisesIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k60.bpmn", "k60b.bpmn")
	for _, c := range []struct{ pid, suffix string }{
		{"k60", "No error events are available in the scope."},
		{"k60b", "Available error events are [OTHER]"},
	} {
		t.Run(c.pid, func(t *testing.T) {
			t.Parallel()
			pik := e.create(t, c.pid, nil)
			job := e.activateOne(t, c.pid, c.pid, time.Minute)
			must(t, e.throwError(t, job.GetKey(), "K60_ERR", "k60 msg", ""), "ThrowError")
			e.waitRecord(t, ev("JOB", "ERROR_THROWN").k(job.GetKey()), 10*time.Second)
			inc := e.waitRecord(t, ev("INCIDENT", "CREATED").pi(pik), 10*time.Second)
			want := "Expected to throw an error event with the code 'K60_ERR' with message 'k60 msg', but it was not caught. " + c.suffix
			if inc.Value.S("errorType") != "UNHANDLED_ERROR_EVENT" || inc.Value.S("errorMessage") != want || inc.Value.I("jobKey") != job.GetKey() {
				t.Errorf("incident %v\nwant UNHANDLED_ERROR_EVENT, jobKey %d, errorMessage %q", inc, job.GetKey(), want)
			}
			e.wantRejection(t, e.completeErr(t, job.GetKey()), codes.FailedPrecondition, "JOB", "COMPLETE", "INVALID_STATE",
				fmt.Sprintf("Expected to complete job with key '%d', but it is in state 'ERROR_THROWN'", job.GetKey()))
		})
	}
}
