package connector

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// shiftClock is an emulator clock the test moves forward from a worker hook.
type shiftClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *shiftClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// throttledFixture is an emulator that allows one run per minute on a connection, with that
// minute used up by another client's run, and a waiting job on that connection.
func throttledFixture(t *testing.T, clock *shiftClock) (*fixture, map[string]any) {
	t.Helper()
	old := throttledRunPause
	throttledRunPause = 10 * time.Millisecond
	t.Cleanup(func() { throttledRunPause = old })
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Clock = clock.Now
		o.Limits.TriggersPerMinute = 1
	})
	vars := f.trigger(nil)
	vars["operationType"] = "runFlowAndWait"
	f.startRun(nil) // another run on the connection: the minute is used up
	return f, vars
}

// A run Dataverse failed as throttled before it started never ran its script: runFlowAndWait
// triggers it again (here once the minute has passed), records the new run in place of the
// throttled one, and answers with the new run's outcome.
func TestRunFlowAndWaitRetriggersARunThrottledBeforeItStarted(t *testing.T) {
	clock := &shiftClock{}
	f, vars := throttledFixture(t, clock)
	var once sync.Once
	f.h.Observe = func(op operations.Op, status int, _ time.Duration) {
		if op == operations.OpStatus { // the throttled run's status was read: a minute passes
			once.Do(func() { clock.add(61 * time.Second) })
		}
	}
	rec := &recorder{}
	job := f.job(vars, nil)
	job.SetLocal = rec.setLocal
	res, err := f.runJob(job)
	if err != nil {
		t.Fatalf("runFlowAndWait: %v", err)
	}
	if res.Variables["statusCode"] != int64(4) {
		t.Fatalf("variables %v, want the new run's statusCode 4", res.Variables)
	}
	runs := f.srv.Sessions()
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3 (another client's, the throttled one, the new one)", len(runs))
	}
	throttled := 0
	for _, r := range runs {
		if r.ErrorCode == ThrottledErrorCode {
			throttled++
			if r.StartedOn != nil {
				t.Errorf("the throttled run started: %+v", r)
			}
		}
	}
	if throttled != 1 {
		t.Errorf("%d throttled runs, want 1", throttled)
	}
	recorded, _ := rec.vars[RecordedRunVariable].(map[string]any)
	body, _ := recorded["body"].(map[string]any)
	if body["flowsessionId"] != res.Variables["flowSessionId"] {
		t.Errorf("recorded run %v, want the new run %v (a redelivered job must resume it)", body["flowsessionId"], res.Variables["flowSessionId"])
	}
}

// Throttled every time: after MaxThrottledRetriggers new triggers the throttled run is the
// outcome, a DESKTOP_FLOW_FAILED BPMN error carrying its errorCode.
func TestRunFlowAndWaitStopsRetriggeringAfterItsBound(t *testing.T) {
	f, vars := throttledFixture(t, &shiftClock{})
	_, err := f.run(vars, nil)
	var be *BPMNError
	if !errors.As(err, &be) || be.Code != FailedRunError || be.Variables["errorCode"] != ThrottledErrorCode {
		t.Fatalf("err = %v, want %s with errorCode %s", err, FailedRunError, ThrottledErrorCode)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1+1+MaxThrottledRetriggers {
		t.Errorf("%d RunDesktopFlow calls, want %d (another client's, the job's, %d again)", n, 2+MaxThrottledRetriggers, MaxThrottledRetriggers)
	}
}

// A run that failed with DesktopFlowsActionThrottled after it started (its script may have run)
// is not triggered again.
func TestRunFlowAndWaitDoesNotRetriggerARunThatStarted(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{FinalStatus: 8, ErrorCode: ThrottledErrorCode, ErrorMessage: "throttled while running"}
	})
	vars := f.trigger(nil)
	vars["operationType"] = "runFlowAndWait"
	_, err := f.run(vars, nil)
	var be *BPMNError
	if !errors.As(err, &be) || be.Variables["errorCode"] != ThrottledErrorCode {
		t.Fatalf("err = %v, want the failed run", err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Errorf("%d RunDesktopFlow calls, want 1: a run that started is never triggered again", n)
	}
}

// The emulator's 429 answer (limits.triggerThrottle: 429) still reaches the worker as before: a
// 429 it waits out in process, spending no retries (TestThrottlingWaitsInProcessWithoutSpendingRetries
// covers the wait), here handed back when Retry-After outlasts the job.
func TestTriggerThrottled429IsHandedBackKeepingRetries(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Limits.TriggersPerMinute, o.Limits.TriggerThrottle = 1, dataversetest.Throttle429
	})
	f.startRun(nil)
	_, err := f.run(f.trigger(nil), triggerHeaders)
	var retry *RetryError
	if !errors.As(err, &retry) || !retry.KeepRetries || retry.Backoff < 30*time.Second {
		t.Fatalf("err = %v, want a hand-back keeping retries for Retry-After", err)
	}
	if n := len(f.srv.Sessions()); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// cancelFlowRun answers once the cancel has taken effect: the emulator keeps the run Running for
// CancelDelay after its 204; the job's answer comes after the run is Cancelled.
func TestCancelAnswersOnceTheRunHasEnded(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) { o.CancelDelay = 700 * time.Millisecond })
	id := f.startRun(map[string]any{"workflowId": slowFlow})
	v := f.base("cancelFlowRun")
	v["flowSessionId"] = id
	res, err := f.run(v, map[string]string{"resultVariable": "r"})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Variables["r"].(map[string]any)["status"]; st != int64(204) {
		t.Errorf("response status %v, want Dataverse's 204", st)
	}
	if s, _ := f.srv.Session(id); s.StatusCode != 7 {
		t.Fatalf("the job answered while the run was %d, want 7 (Cancelled)", s.StatusCode)
	}
	if res.Warning != "" {
		t.Errorf("warning %q", res.Warning)
	}
}

// A cancel Dataverse refuses because the run has ended completes the job with the refusal as the
// response; refused while the run still runs, it is an incident as before.
func TestCancelRefusedForAFinishedRun(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) { o.RefuseCancelOfFinishedRun = true })
	id := f.startRun(nil)
	f.waitStatus(id)
	v := f.base("cancelFlowRun")
	v["flowSessionId"] = id
	res, err := f.run(v, map[string]string{"resultVariable": "r"})
	if err != nil {
		t.Fatalf("cancel of a finished run: %v", err)
	}
	if st := res.Variables["r"].(map[string]any)["status"]; st != int64(http.StatusBadRequest) {
		t.Errorf("response status %v, want the refusal's 400", st)
	}

	running := f.startRun(map[string]any{"workflowId": slowFlow})
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCancelDesktopFlowRun, Status: http.StatusBadRequest, Code: "0x80040203", Message: "refused"})
	v["flowSessionId"] = running
	_, err = f.run(v, nil)
	var perm *PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("cancel refused for a running run: %v, want an incident", err)
	}
}
