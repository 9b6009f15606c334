package connector

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// recorder stands in for the gateway's SetVariables on the element instance.
type recorder struct {
	mu   sync.Mutex
	vars map[string]any
}

func (r *recorder) setLocal(_ context.Context, v map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vars == nil {
		r.vars = map[string]any{}
	}
	for k, x := range v {
		r.vars[k] = x
	}
	return nil
}

// redeliver merges the recorded local variables into the job's variables, as Zeebe does when
// it activates the job again.
func (f *fixture) redeliver(vars map[string]any, r *recorder) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw, _ := marshal(r.vars)
	var again map[string]any
	unmarshal(raw, &again) // the recorded variables come back as JSON, like from the gateway
	out := map[string]any{}
	for k, v := range vars {
		out[k] = v
	}
	for k, v := range again {
		out[k] = v
	}
	return out
}

func (f *fixture) runJob(job Job) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.h.Handle(ctx, job)
}

func TestTriggerIsIdempotentPerElementInstance(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	vars := f.trigger(nil)
	job := f.job(vars, triggerHeaders)
	job.SetLocal = rec.setLocal
	first, err := f.runJob(job)
	if err != nil {
		t.Fatal(err)
	}
	// The job is redelivered (worker crashed before completing): same element instance.
	job2 := f.job(f.redeliver(vars, rec), triggerHeaders)
	job2.SetLocal = rec.setLocal
	second, err := f.runJob(job2)
	if err != nil {
		t.Fatal(err)
	}
	if first.Variables["flowSessionId"] != second.Variables["flowSessionId"] {
		t.Fatalf("redelivery returned %v, want the recorded run %v", second.Variables["flowSessionId"], first.Variables["flowSessionId"])
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Fatalf("%d RunDesktopFlow calls, want exactly 1", n)
	}
	// A different element instance (nothing recorded) triggers a new run.
	if _, err := f.run(vars, triggerHeaders); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 2 {
		t.Fatalf("%d RunDesktopFlow calls, want 2", n)
	}
}

func (f *fixture) waitVars(workflow string) map[string]any {
	v := f.trigger(map[string]any{"workflowId": workflow, "runInputs": map[string]any{"Input1": "waited"}, "pollInterval": "PT1S"})
	v["operationType"] = "runFlowAndWait"
	return v
}

func TestRunFlowAndWaitSucceeds(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{QueueDelay: 300 * time.Millisecond, Duration: 700 * time.Millisecond,
			Outputs: map[string]any{"Output1": "${inputs.Input1}"}}
	})
	res, err := f.run(f.waitVars(workflowID), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Variables["flowOutputs"].(map[string]any)
	if res.Variables["statusName"] != "Succeeded" || res.Variables["statusCode"] != int64(4) || out["Output1"] != "waited" {
		t.Fatalf("variables = %v", res.Variables)
	}
	if n := f.srv.Count(dataversetest.OpGetFlowSession); n < 2 {
		t.Fatalf("%d status reads, want the run to be polled until it ended", n)
	}
}

func TestRunFlowAndWaitFailureIsBPMNError(t *testing.T) {
	f := newFixture(t)
	_, err := f.run(f.waitVars(failingFlow), nil)
	var b *BPMNError
	if !errors.As(err, &b) || b.Code != FailedRunError || b.Variables["errorCode"] != "NoCandidateMachine" || b.Message != "No machine could run the flow." {
		t.Fatalf("err = %#v, want BPMN error %s with the run's error code and message", err, FailedRunError)
	}
	// The error expression decides first.
	_, err = f.run(f.waitVars(failingFlow), map[string]string{"errorExpression": `=if response.body.statusName = "Failed" then ignoreError({failed: true}) else null`})
	if err != nil {
		t.Fatalf("ignoreError from the error expression: %v", err)
	}
}

func TestRunFlowAndWaitResumesRecordedRun(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{Duration: 500 * time.Millisecond}
	})
	rec := &recorder{}
	vars := f.waitVars(workflowID)
	// The first delivery is cut short (the worker dies while waiting).
	ctx, cancel := context.WithCancel(context.Background())
	job := f.job(vars, nil)
	job.SetLocal = rec.setLocal
	go func() {
		for f.srv.Count(dataversetest.OpGetFlowSession) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := f.h.Handle(ctx, job); err == nil {
		t.Fatal("the cancelled delivery should not complete")
	}
	job2 := f.job(f.redeliver(vars, rec), nil)
	res, err := f.runJob(job2)
	if err != nil || res.Variables["statusName"] != "Succeeded" {
		t.Fatalf("redelivery: %v, %v", res.Variables, err)
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Fatalf("%d RunDesktopFlow calls, want 1: the redelivered job must resume the recorded run", n)
	}
}

func TestRunFlowAndWaitExtendsTheLease(t *testing.T) {
	f := newFixture(t, func(o *dataversetest.Options) {
		o.Flows[workflowID] = dataversetest.Flow{Duration: 1500 * time.Millisecond}
	})
	var extended []time.Duration
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	job := f.job(f.waitVars(workflowID), nil)
	job.Lease = &fakeLease{deadline: time.Now().Add(10 * time.Second), extended: &extended}
	if _, err := f.h.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	if len(extended) == 0 {
		t.Fatal("a lease shorter than the wait margin was not extended")
	}
	// Without a way to extend, the job is handed back keeping its retries.
	job = f.job(f.waitVars(workflowID), nil)
	job.Deadline = time.Now().Add(10 * time.Second)
	_, err := f.runJob(job)
	var r *RetryError
	if !errors.As(err, &r) || !r.KeepRetries {
		t.Fatalf("err = %#v, want a hand-back keeping retries", err)
	}
}

func TestClientLimitsPreventConcurrency429(t *testing.T) {
	for _, limited := range []bool{false, true} {
		f := newFixture(t, func(o *dataversetest.Options) { o.Limits.Concurrent = 3 })
		if limited {
			f.h.Limits = &egress.Limits{Concurrent: 3}
		}
		for i := 0; i < 12; i++ {
			f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Delay: 150 * time.Millisecond})
		}
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); f.run(f.trigger(nil), nil) }()
		}
		wg.Wait()
		got429 := 0
		for _, c := range f.srv.Calls() {
			if c.Status == 429 {
				got429++
			}
		}
		if limited && got429 != 0 {
			t.Fatalf("with the client-side limit, %d requests got 429", got429)
		}
		if !limited && got429 == 0 {
			t.Fatal("without the client-side limit the emulator's concurrency limit should have tripped (test cannot fail otherwise)")
		}
	}
}

func TestJobTimeoutHeaderSetsTheDeadline(t *testing.T) {
	f := newFixture(t)
	var got []time.Duration
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	job := f.job(f.trigger(nil), map[string]string{"jobTimeout": "PT10M"})
	job.Lease = &fakeLease{deadline: time.Now().Add(time.Minute), extended: &got}
	if _, err := f.h.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 10*time.Minute || time.Until(job.Lease.Deadline()) < 9*time.Minute {
		t.Fatalf("extensions %v, deadline in %s; want the job's timeout set to 10 minutes", got, time.Until(job.Lease.Deadline()))
	}
}

// fakeLease is a job's lease as the Zeebe adapter keeps it, minus the timer: Extend moves the
// deadline and records the timeout asked for; holds are not tracked.
type fakeLease struct {
	mu       sync.Mutex
	deadline time.Time
	extended *[]time.Duration
}

func (l *fakeLease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

func (l *fakeLease) Extend(_ context.Context, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.extended = append(*l.extended, d)
	l.deadline = time.Now().Add(d)
	return nil
}

func (l *fakeLease) Hold(context.Context, time.Duration) error { return nil }
func (l *fakeLease) Sending(string)                            {}
func (l *fakeLease) Release()                                  {}
