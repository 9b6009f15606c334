package connector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// A run whose record on the element instance failed (SetVariables refused) cannot be found by
// a redelivered job, which would trigger a second run. So once a job has started a run it could
// not record, a failure that would hand it back for a retry (here a 503 on a status read) is an
// incident naming the run instead: one run per trigger, whatever fails after it.
func TestUnrecordedRunIsNeverRetried(t *testing.T) {
	f := newFixture(t)
	vars := f.trigger(nil)
	vars["operationType"] = "runFlowAndWait"
	f.h.Observe = func(op operations.Op, _ int, _ time.Duration) {
		if op == operations.OpTrigger { // the run started: Dataverse now fails every status read
			f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpGetFlowSession, Status: 503, Count: 1000})
		}
	}
	job := f.job(vars, nil)
	job.SetLocal = func(context.Context, map[string]any) error { return errors.New("gateway unavailable") }
	_, err := f.runJob(job)
	var perm *PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("outcome %T %v, want an incident (a retry would trigger a second run)", err, err)
	}
	id := f.srv.Sessions()[0].ID
	for _, want := range []string{"503", id, "could not be recorded", "second run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("incident %q does not say %q", err, want)
		}
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Errorf("%d RunDesktopFlow calls, want 1", n)
	}
}

// The same for a run triggered again after Dataverse failed the first as throttled before it
// started: the first run's record is valid, so a redelivered job would resume it, see it
// throttled and trigger a third. The second run's unrecorded start makes the job an incident.
func TestUnrecordedRetriggeredRunIsNeverRetried(t *testing.T) {
	clock := &shiftClock{}
	f, vars := throttledFixture(t, clock)
	var (
		mu       sync.Mutex
		once     sync.Once
		triggers int
	)
	f.h.Observe = func(op operations.Op, _ int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case operations.OpStatus:
			once.Do(func() { clock.add(61 * time.Second) }) // the throttled run was read: a minute passes
		case operations.OpTrigger:
			if triggers++; triggers == 2 { // the re-trigger was answered: status reads fail
				f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpGetFlowSession, Status: 503, Count: 1000})
			}
		}
	}
	rec := &recorder{}
	writes := 0
	job := f.job(vars, nil)
	job.SetLocal = func(ctx context.Context, v map[string]any) error {
		if writes++; writes == 2 {
			return errors.New("gateway unavailable")
		}
		return rec.setLocal(ctx, v)
	}
	_, err := f.runJob(job)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "could not be recorded") {
		t.Fatalf("outcome %T %v, want the unrecorded-run incident", err, err)
	}
	started := 0
	for _, s := range f.srv.Sessions() {
		if s.ErrorCode != ThrottledErrorCode {
			started++
		}
	}
	if started != 2 { // another client's run, and the one re-triggered run
		t.Errorf("%d runs not throttled, want 2 (another client's and this job's one)", started)
	}
}
