//go:build integration

package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
)

func notFoundComplete(k int64) string {
	return fmt.Sprintf("Expected to complete job with key '%d', but no such job was found", k)
}

// §E: ActivateJobs validation is a broker rejection (records) with INVALID_ARGUMENT.
func TestK30ActivateValidation(t *testing.T) {
	t.Parallel()
	e := eng
	const prefix = "Expected to activate job batch with "
	for _, c := range []struct {
		name   string
		req    *pb.ActivateJobsRequest
		reason string
	}{
		{"max 0", &pb.ActivateJobsRequest{Type: "k30", Worker: "k30-max", Timeout: 1000, MaxJobsToActivate: 0, RequestTimeout: -1},
			prefix + "max jobs to activate to be greater than zero, but it was '0'"},
		{"timeout 0", &pb.ActivateJobsRequest{Type: "k30", Worker: "k30-timeout", Timeout: 0, MaxJobsToActivate: 1, RequestTimeout: -1},
			prefix + "timeout to be greater than zero, but it was '0'"},
		{"blank type", &pb.ActivateJobsRequest{Type: "", Worker: "k30-type", Timeout: 1000, MaxJobsToActivate: 1, RequestTimeout: -1},
			prefix + "type to be present, but it was blank"},
	} {
		t.Run(c.name, func(t *testing.T) {
			jobs, err := e.activate(ctxT(t, 15*time.Second), c.req)
			if len(jobs) != 0 {
				t.Errorf("jobs %v", jobs)
			}
			e.wantRejection(t, err, codes.InvalidArgument, "JOB_BATCH", "ACTIVATE", "INVALID_ARGUMENT", c.reason)
		})
	}
}

// §E: batch size, key order, deadline, worker, retries, custom headers.
func TestK31ActivateBatchShape(t *testing.T) {
	t.Parallel()
	e := eng
	dep := e.deploy(t, "k31.bpmn", "k31b.bpmn")
	var keys []int64
	for range 3 {
		pik := e.create(t, "k31", nil)
		keys = append(keys, e.jobOf(t, pik).Key)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	before := time.Now().UnixMilli()
	jobs, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k31", Worker: "k31-w", Timeout: 30000, MaxJobsToActivate: 2, RequestTimeout: -1})
	after := time.Now().UnixMilli()
	must(t, err, "ActivateJobs")
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2 (maxJobsToActivate) of 3", len(jobs))
	}
	if jobs[0].GetKey() != keys[0] || jobs[1].GetKey() != keys[1] {
		t.Errorf("job keys %d, %d; want the two lowest, ascending: %d, %d", jobs[0].GetKey(), jobs[1].GetKey(), keys[0], keys[1])
	}
	defKey := dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey()
	for _, j := range jobs {
		if d := j.GetDeadline(); d < before+30000-100 || d > after+30000+1000 {
			t.Errorf("job %d deadline %d, want now+30000 (between %d and %d)", j.GetKey(), d, before+30000, after+30000)
		}
		if j.GetWorker() != "k31-w" || j.GetRetries() != 3 || j.GetType() != "k31" || j.GetElementId() != "Task" ||
			j.GetBpmnProcessId() != "k31" || j.GetProcessDefinitionVersion() != 1 || j.GetProcessDefinitionKey() != defKey || j.GetTenantId() != "<default>" {
			t.Errorf("job %v: want worker k31-w, retries 3 (default), type k31, elementId Task, k31 v1 key %d, tenant <default>", j, defKey)
		}
		jsonEq(t, "customHeaders", j.GetCustomHeaders(), `{"h1":"v1","h2":"=raw"}`)
	}
	rest, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k31", Worker: "k31-w", Timeout: 30000, MaxJobsToActivate: 5, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	if len(rest) != 1 || rest[0].GetKey() != keys[2] {
		t.Errorf("second batch %v, want only job %d", rest, keys[2])
	}
	e.create(t, "k31b", nil)
	b := e.activateOne(t, "k31b", "k31-w", time.Minute)
	if b.GetRetries() != 5 {
		t.Errorf("k31b retries %d, want 5 (from taskDefinition)", b.GetRetries())
	}
	jsonEq(t, "customHeaders without headers", b.GetCustomHeaders(), `{}`)
	for _, j := range append(append(jobs, rest...), b) {
		e.complete(t, j.GetKey(), "{}")
	}
}

// §E: requestTimeout -1 answers at once. The item says < 100 ms; here the fastest of three
// attempts must answer within 1 s (a busy 2-core machine delays single calls; what must not happen
// is a long poll, 10 s by default).
func TestK32ActivateNoWaitReturnsImmediately(t *testing.T) {
	t.Parallel()
	fastest := time.Hour
	for range 3 {
		start := time.Now()
		jobs, err := eng.activate(ctxT(t, 30*time.Second), &pb.ActivateJobsRequest{Type: "k32-none", Worker: "k32", Timeout: 1000, MaxJobsToActivate: 1, RequestTimeout: -1})
		fastest = min(fastest, time.Since(start))
		must(t, err, "ActivateJobs")
		if len(jobs) != 0 {
			t.Errorf("jobs %v", jobs)
		}
	}
	if fastest > time.Second {
		t.Errorf("the fastest of 3 attempts answered after %s, want at once", fastest.Round(time.Millisecond))
	}
}

// §E: a long poll with nothing to activate ends OK and empty after requestTimeout (10 s for 0).
func TestK33ActivateLongPollTimesOut(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rt   int64
		wait time.Duration
	}{{2000, 2 * time.Second}, {0, 10 * time.Second}} {
		t.Run(fmt.Sprintf("requestTimeout %d", c.rt), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			jobs, err := eng.activate(ctxT(t, 60*time.Second), &pb.ActivateJobsRequest{Type: fmt.Sprintf("k33-none-%d", c.rt), Worker: "k33", Timeout: 1000, MaxJobsToActivate: 1, RequestTimeout: c.rt})
			elapsed := time.Since(start)
			must(t, err, "ActivateJobs")
			if len(jobs) != 0 {
				t.Errorf("jobs %v", jobs)
			}
			if elapsed < c.wait || elapsed > c.wait+6*time.Second {
				t.Errorf("answered after %s, want %s (+ up to 6 s)", elapsed.Round(time.Millisecond), c.wait)
			}
		})
	}
}

// §E: a held long poll answers as soon as a job of its type is created. The item says ~100 ms;
// the bound here is 1 s on the engine's clock (the 10 s probe must not be what wakes it).
func TestK34HeldPollWakesOnNewJob(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k34.bpmn")
	type answer struct {
		jobs []*pb.ActivatedJob
		err  error
		at   time.Time
	}
	ch := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		jobs, err := e.activate(ctx, &pb.ActivateJobsRequest{Type: "k34", Worker: "k34-held", Timeout: 60000, MaxJobsToActivate: 5, RequestTimeout: 30000})
		ch <- answer{jobs, err, time.Now()}
	}()
	// the poll's first (empty) attempt is in the log: it is held now
	e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("type", "k34").f("worker", "k34-held"), 15*time.Second)
	select {
	case a := <-ch:
		t.Fatalf("the poll answered before any job existed: %v %v", a.jobs, a.err)
	default:
	}
	created := time.Now()
	pik := e.create(t, "k34", nil)
	var a answer
	select {
	case a = <-ch:
	case <-time.After(40 * time.Second):
		t.Fatal("the held poll never answered")
	}
	must(t, a.err, "held ActivateJobs")
	if len(a.jobs) != 1 || a.jobs[0].GetProcessInstanceKey() != pik {
		t.Fatalf("held poll answered %v, want the job of instance %d", a.jobs, pik)
	}
	// measured on the engine's clock (a busy machine delays the client more than the engine):
	// JOB CREATED → the batch that hands the job to the held poll
	jc := e.jobOf(t, pik)
	b := e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("worker", "k34-held").f("jobKeys", []int64{jc.Key}), 10*time.Second)
	if d := b.Timestamp - jc.Timestamp; d > 1000 {
		t.Errorf("the held poll got the job %d ms after JOB CREATED (engine clock), want ~100 ms (bound 1 s; a 10 s probe must not be what wakes it)", d)
	}
	if d := a.at.Sub(created); d > 5*time.Second {
		t.Errorf("held poll answered %s after the instance was created, want ~100 ms (bound 5 s on the client's clock)", d.Round(time.Millisecond))
	}
	e.complete(t, a.jobs[0].GetKey(), "{}")
}

// §E, §I: every attempt writes JOB_BATCH ACTIVATE and ACTIVATED; there is no JOB ACTIVATED.
func TestK35ActivateWritesBatchRecords(t *testing.T) {
	t.Parallel()
	e := eng
	jobs, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k35", Worker: "k35-empty", Timeout: 5000, MaxJobsToActivate: 3, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	if len(jobs) != 0 {
		t.Fatalf("jobs %v", jobs)
	}
	c := e.waitRecord(t, cmd("JOB_BATCH", "ACTIVATE").f("type", "k35").f("worker", "k35-empty"), 10*time.Second)
	if c.Key != -1 || c.Value.I("maxJobsToActivate") != 3 || c.Value.I("timeout") != 5000 {
		t.Errorf("JOB_BATCH ACTIVATE: %v; want key -1, maxJobsToActivate 3, timeout 5000", c)
	}
	a := e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("type", "k35").f("worker", "k35-empty"), 10*time.Second)
	if a.SourceRecordPosition != c.Position || len(a.Value.L("jobKeys")) != 0 || a.Key <= 0 {
		t.Errorf("empty JOB_BATCH ACTIVATED: %v; want sourceRecordPosition %d, no jobKeys, a new key", a, c.Position)
	}

	e.deploy(t, "k35.bpmn")
	pik := e.create(t, "k35", nil)
	jobKey := e.jobOf(t, pik).Key
	job := e.activateOne(t, "k35", "k35-one", time.Minute)
	if job.GetKey() != jobKey {
		t.Fatalf("activated %d, want %d", job.GetKey(), jobKey)
	}
	b := e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("type", "k35").f("worker", "k35-one").f("jobKeys", []int64{jobKey}), 10*time.Second)
	src := e.waitRecord(t, recFilter(func(r rec) bool { return r.Position == b.SourceRecordPosition }), 10*time.Second)
	if src.RecordType != "COMMAND" || src.ValueType != "JOB_BATCH" || src.Intent != "ACTIVATE" {
		t.Errorf("the batch's source record is %v, want its JOB_BATCH ACTIVATE command", src)
	}
	if jl := b.Value.L("jobs"); len(jl) != 1 {
		t.Errorf("JOB_BATCH ACTIVATED jobs = %v, want one job value", jl)
	}
	e.complete(t, jobKey, "{}")
	e.none(t, ev("JOB", "ACTIVATED"), "there is no JOB ACTIVATED record")
}

// §E: an activated job is not handed out again before its deadline.
func TestK36ActivatedJobNotReactivatedBeforeDeadline(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k36.bpmn")
	e.create(t, "k36", nil)
	job := e.activateOne(t, "k36", "k36-a", 10*time.Second)
	start := time.Now()
	jobs, err := e.activate(ctxT(t, 30*time.Second), &pb.ActivateJobsRequest{Type: "k36", Worker: "k36-b", Timeout: 10000, MaxJobsToActivate: 1, RequestTimeout: 3000})
	must(t, err, "ActivateJobs")
	if len(jobs) != 0 {
		t.Errorf("job %d activated again %s into its 10 s timeout", jobs[0].GetKey(), time.Since(start).Round(time.Millisecond))
	}
	e.complete(t, job.GetKey(), "{}")
}

// §E: after its deadline a job times out within ~1 s and is activatable again, retries unchanged.
func TestK37TimedOutJobIsActivatableAgain(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k37.bpmn")
	e.create(t, "k37", nil)
	job := e.activateOne(t, "k37", "k37-a", time.Second)
	if job.GetRetries() != 4 {
		t.Errorf("retries %d, want 4", job.GetRetries())
	}
	c := e.waitRecord(t, cmd("JOB", "TIME_OUT").k(job.GetKey()), 15*time.Second)
	to := e.waitRecord(t, ev("JOB", "TIMED_OUT").k(job.GetKey()), 15*time.Second)
	if to.Position <= c.Position {
		t.Errorf("TIMED_OUT (%d) does not follow TIME_OUT (%d)", to.Position, c.Position)
	}
	if to.Timestamp < job.GetDeadline() || to.Timestamp > job.GetDeadline()+4000 {
		t.Errorf("TIMED_OUT at %d, deadline %d: want within ~1 s after the deadline (bound 4 s)", to.Timestamp, job.GetDeadline())
	}
	if to.Value.I("retries") != 4 {
		t.Errorf("TIMED_OUT retries %d, want 4", to.Value.I("retries"))
	}
	again := e.activateOne(t, "k37", "k37-b", time.Minute)
	if again.GetKey() != job.GetKey() || again.GetRetries() != 4 || again.GetWorker() != "k37-b" {
		t.Errorf("re-activated %d retries %d worker %s, want %d retries 4 worker k37-b", again.GetKey(), again.GetRetries(), again.GetWorker(), job.GetKey())
	}
	e.complete(t, again.GetKey(), "{}")
}

// §E: CompleteJob of an unknown key.
func TestK42CompleteUnknownJobIsNotFound(t *testing.T) {
	t.Parallel()
	e := eng
	e.wantRejection(t, e.completeErr(t, unknownKey), codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND", notFoundComplete(unknownKey))
}

// §E: the second CompleteJob is NOT_FOUND.
func TestK43CompleteTwiceIsNotFound(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k43.bpmn")
	pik := e.create(t, "k43", nil)
	job := e.activateOne(t, "k43", "k43", time.Minute)
	e.complete(t, job.GetKey(), "{}")
	e.wantRejection(t, e.completeErr(t, job.GetKey()), codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND", notFoundComplete(job.GetKey()))
	e.processCompleted(t, pik, 10*time.Second)
}

// §E: no worker fencing in 8.5 ([src]; [docs] reads as "only the owner"): the first answer wins,
// whoever sends it.
func TestK44CompleteAfterTimeoutAndReactivation(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k44.bpmn")
	pik := e.create(t, "k44", nil)
	a := e.activateOne(t, "k44", "k44-A", time.Second)
	e.waitRecord(t, ev("JOB", "TIMED_OUT").k(a.GetKey()), 15*time.Second)
	b := e.activateOne(t, "k44", "k44-B", time.Minute)
	if b.GetKey() != a.GetKey() || b.GetWorker() != "k44-B" {
		t.Fatalf("worker B got %d (%s), want %d", b.GetKey(), b.GetWorker(), a.GetKey())
	}
	e.complete(t, a.GetKey(), `{"by":"A"}`) // worker A's late answer is accepted
	e.wantRejection(t, e.completeErr(t, b.GetKey()), codes.NotFound, "JOB", "COMPLETE", "NOT_FOUND", notFoundComplete(b.GetKey()))
	e.processCompleted(t, pik, 10*time.Second)
}

// §E: a never-activated (ACTIVATABLE) job can be completed ([src]).
func TestK45CompleteNeverActivatedJob(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k45.bpmn")
	pik := e.create(t, "k45", nil)
	job := e.jobOf(t, pik)
	e.complete(t, job.Key, "{}")
	e.waitRecord(t, ev("JOB", "COMPLETED").k(job.Key), 10*time.Second)
	e.processCompleted(t, pik, 10*time.Second)
}

// §E: a job failed with retries 0 rejects CompleteJob.
func TestK46CompleteFailedJobIsFailedPrecondition(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k46.bpmn")
	e.create(t, "k46", nil)
	job, _ := e.failToIncident(t, "k46", "k46 failed")
	e.wantRejection(t, e.completeErr(t, job.GetKey()), codes.FailedPrecondition, "JOB", "COMPLETE", "INVALID_STATE",
		fmt.Sprintf("Expected to complete job with key '%d', but it is in state 'FAILED'", job.GetKey()))
}

// §E: during a retry backoff the job is FAILED; afterwards it can be completed.
func TestK47CompleteDuringBackoff(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k47.bpmn")
	pik := e.create(t, "k47", nil)
	job := e.activateOne(t, "k47", "k47", time.Minute)
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 2, ErrorMessage: "later", RetryBackOff: 3000}), "FailJob with backoff")
	e.wantRejection(t, e.completeErr(t, job.GetKey()), codes.FailedPrecondition, "JOB", "COMPLETE", "INVALID_STATE",
		fmt.Sprintf("Expected to complete job with key '%d', but it is in state 'FAILED'", job.GetKey()))
	e.waitRecord(t, ev("JOB", "RECURRED_AFTER_BACKOFF").k(job.GetKey()), 15*time.Second)
	e.complete(t, job.GetKey(), "{}")
	e.processCompleted(t, pik, 10*time.Second)
}

// §E: FailJob with retries left and no backoff: activatable at once with the new retries.
func TestK48FailWithRetriesNoBackoff(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k48.bpmn")
	e.create(t, "k48", nil)
	job := e.activateOne(t, "k48", "k48", time.Minute)
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 2, ErrorMessage: "boom"}), "FailJob")
	f := e.waitRecord(t, ev("JOB", "FAILED").k(job.GetKey()), 10*time.Second)
	if f.Value.I("retries") != 2 || f.Value.S("errorMessage") != "boom" || f.Value.I("retryBackoff") != 0 {
		t.Errorf("JOB FAILED %v: want retries 2, errorMessage boom, retryBackoff 0", f)
	}
	// requestTimeout -1: the job must be activatable at once, not after a long poll
	jobs, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k48", Worker: "k48-b", Timeout: 60000, MaxJobsToActivate: 1, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	if len(jobs) != 1 || jobs[0].GetKey() != job.GetKey() || jobs[0].GetRetries() != 2 {
		t.Fatalf("immediate activation after FailJob: %v, want job %d with retries 2", jobs, job.GetKey())
	}
	e.complete(t, job.GetKey(), "{}")
}

// §E: FailJob with a backoff: not activatable until RECURRED_AFTER_BACKOFF, ~1 s later.
func TestK49FailWithBackoff(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k49.bpmn")
	e.create(t, "k49", nil)
	job := e.activateOne(t, "k49", "k49", time.Minute)
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 3, ErrorMessage: "backoff", RetryBackOff: 1000}), "FailJob")
	early, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k49", Worker: "k49-early", Timeout: 60000, MaxJobsToActivate: 1, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	c := e.waitRecord(t, cmd("JOB", "FAIL").k(job.GetKey()), 10*time.Second)
	f := e.waitRecord(t, ev("JOB", "FAILED").k(job.GetKey()), 10*time.Second)
	rt := f.Value.I("recurringTime")
	if f.Value.I("retryBackoff") != 1000 || f.Value.I("retries") != 3 {
		t.Errorf("JOB FAILED %v: want retryBackoff 1000, retries 3", f)
	}
	if rt < c.Timestamp+1000 || rt > f.Timestamp+1000 {
		t.Errorf("recurringTime %d, want command time + 1000 (FAIL at %d, FAILED at %d)", rt, c.Timestamp, f.Timestamp)
	}
	e.waitRecord(t, cmd("JOB", "RECUR_AFTER_BACKOFF").k(job.GetKey()), 15*time.Second)
	r := e.waitRecord(t, ev("JOB", "RECURRED_AFTER_BACKOFF").k(job.GetKey()), 15*time.Second)
	if r.Timestamp < rt || r.Timestamp > rt+4000 {
		t.Errorf("RECURRED_AFTER_BACKOFF at %d, recurringTime %d: want within ~1 s after it (bound 4 s)", r.Timestamp, rt)
	}
	var again *pb.ActivatedJob
	if len(early) > 0 {
		// on a busy machine the "early" poll may have been processed after the backoff: the
		// engine's batch record tells when it activated the job
		b := e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("worker", "k49-early").f("jobKeys", []int64{job.GetKey()}), 10*time.Second)
		if b.Timestamp < rt || b.Position < r.Position {
			t.Errorf("job activated during its backoff (batch at %d, position %d; recurringTime %d, RECURRED_AFTER_BACKOFF at position %d)", b.Timestamp, b.Position, rt, r.Position)
		}
		again = early[0]
	} else {
		again = e.activateOne(t, "k49", "k49-late", time.Minute)
	}
	if again.GetKey() != job.GetKey() || again.GetRetries() != 3 {
		t.Errorf("after the backoff: %d retries %d, want %d retries 3", again.GetKey(), again.GetRetries(), job.GetKey())
	}
	e.complete(t, job.GetKey(), "{}")
}

// §E, §I: FailJob(retries 0) → JOB FAILED then INCIDENT CREATED, both from the FAIL command.
func TestK50FailWithNoRetriesRaisesIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k50.bpmn")
	pik := e.create(t, "k50", nil)
	job, inc := e.failToIncident(t, "k50", "k50 failed")
	c := e.waitRecord(t, cmd("JOB", "FAIL").k(job.GetKey()), 10*time.Second)
	f := e.waitRecord(t, ev("JOB", "FAILED").k(job.GetKey()), 10*time.Second)
	if f.Value.I("retries") != 0 || f.Value.S("errorMessage") != "k50 failed" {
		t.Errorf("JOB FAILED %v: want retries 0, errorMessage k50 failed", f)
	}
	if f.SourceRecordPosition != c.Position || inc.SourceRecordPosition != c.Position {
		t.Errorf("sources: FAILED %d, INCIDENT %d; want both %d (the FAIL command)", f.SourceRecordPosition, inc.SourceRecordPosition, c.Position)
	}
	if inc.Position <= f.Position {
		t.Errorf("INCIDENT CREATED at %d before JOB FAILED at %d", inc.Position, f.Position)
	}
	v := inc.Value
	eik := job.GetElementInstanceKey()
	if v.S("errorType") != "JOB_NO_RETRIES" || v.S("errorMessage") != "k50 failed" || v.I("jobKey") != job.GetKey() ||
		v.I("elementInstanceKey") != eik || v.I("variableScopeKey") != eik || v.S("elementId") != "Task" ||
		v.I("processInstanceKey") != pik || v.S("bpmnProcessId") != "k50" {
		t.Errorf("INCIDENT CREATED %v: want JOB_NO_RETRIES, errorMessage k50 failed, jobKey %d, elementInstanceKey = variableScopeKey = %d, elementId Task, instance %d", inc, job.GetKey(), eik, pik)
	}
	if inc.Key <= job.GetKey() {
		t.Errorf("incident key %d, want a new key", inc.Key)
	}
}

// §E: an empty errorMessage gives "No more retries left.".
func TestK51FailWithEmptyMessageDefaultsIncidentMessage(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k51.bpmn")
	e.create(t, "k51", nil)
	_, inc := e.failToIncident(t, "k51", "")
	if inc.Value.S("errorMessage") != "No more retries left." {
		t.Errorf("incident errorMessage %q, want %q", inc.Value.S("errorMessage"), "No more retries left.")
	}
}

// §E: errorMessage is truncated to 10 000 characters + "...".
func TestK52FailMessageTruncated(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k52.bpmn")
	e.create(t, "k52", nil)
	job := e.activateOne(t, "k52", "k52", time.Minute)
	var b strings.Builder
	for i := 0; b.Len() < 12000; i++ {
		fmt.Fprintf(&b, "%07d;", i)
	}
	msg := b.String()[:12000]
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 1, ErrorMessage: msg}), "FailJob")
	f := e.waitRecord(t, ev("JOB", "FAILED").k(job.GetKey()), 10*time.Second)
	if got, want := f.Value.S("errorMessage"), msg[:10000]+"..."; got != want {
		t.Errorf("errorMessage: %d chars ending %q, want %d chars ending %q", len(got), tail(got, 20), len(want), tail(want, 20))
	}
	e.complete(t, job.GetKey(), "{}")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// §D, §E: FailJob variables are local to the task.
func TestK53FailVariablesAreLocal(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k53.bpmn")
	pik := e.create(t, "k53", nil)
	job := e.activateOne(t, "k53", "k53", time.Minute)
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 1, ErrorMessage: "with variables", Variables: `{"fv":"x"}`}), "FailJob")
	v := e.waitRecord(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "fv"), 10*time.Second)
	if v.Value.I("scopeKey") != job.GetElementInstanceKey() || v.Value.S("value") != `"x"` {
		t.Errorf("VARIABLE CREATED fv: scopeKey %d value %s, want scopeKey %d (the task) value \"x\"", v.Value.I("scopeKey"), v.Value.S("value"), job.GetElementInstanceKey())
	}
	again := e.activateOne(t, "k53", "k53", time.Minute)
	jsonEq(t, "variables after the failure", again.GetVariables(), `{"fv":"x"}`)
	e.complete(t, job.GetKey(), "{}")
	e.processCompleted(t, pik, 10*time.Second)
	e.none(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "fv").f("scopeKey", pik), "FailJob variables stay on the task")
}

// §E: FailJob of an unknown job; of a FAILED (incident) job.
func TestK54FailNotFoundAndFailedPrecondition(t *testing.T) {
	t.Parallel()
	e := eng
	err := e.fail(t, &pb.FailJobRequest{JobKey: unknownKey, Retries: 1, ErrorMessage: "x"})
	e.wantRejection(t, err, codes.NotFound, "JOB", "FAIL", "NOT_FOUND",
		fmt.Sprintf("Expected to fail job with key '%d', but no such job was found", unknownKey))
	e.deploy(t, "k54.bpmn")
	e.create(t, "k54", nil)
	job, _ := e.failToIncident(t, "k54", "k54 failed")
	err = e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 0, ErrorMessage: "again"})
	e.wantRejection(t, err, codes.FailedPrecondition, "JOB", "FAIL", "INVALID_STATE",
		fmt.Sprintf("Expected to fail job with key '%d', but it is in state 'FAILED'", job.GetKey()))
}

// §E: UpdateJobTimeout moves the deadline; the job does not time out at the old one.
func TestK55UpdateJobTimeoutExtendsDeadline(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k55.bpmn")
	e.create(t, "k55", nil)
	job := e.activateOne(t, "k55", "k55", 2*time.Second)
	oldDeadline := job.GetDeadline()
	before := time.Now().UnixMilli()
	_, err := e.zc.NewUpdateJobTimeoutCommand().JobKey(job.GetKey()).Timeout(6000).Send(ctxT(t, 15*time.Second))
	after := time.Now().UnixMilli()
	must(t, err, "UpdateJobTimeout")
	u := e.waitRecord(t, ev("JOB", "TIMEOUT_UPDATED").k(job.GetKey()), 10*time.Second)
	newDeadline := u.Value.I("deadline")
	if newDeadline < before+6000-100 || newDeadline > after+6000+1000 {
		t.Errorf("TIMEOUT_UPDATED deadline %d, want now+6000 (between %d and %d)", newDeadline, before+6000, after+6000)
	}
	// past the old deadline plus the checker interval and slack: still not timed out
	for time.Now().UnixMilli() < oldDeadline+2500 {
		if got := e.find(ev("JOB", "TIMED_OUT").k(job.GetKey())); len(got) > 0 {
			t.Fatalf("job timed out at %d, old deadline %d, new deadline %d", got[0].Timestamp, oldDeadline, newDeadline)
		}
		time.Sleep(50 * time.Millisecond) // observation window, not synchronisation
	}
	to := e.waitRecord(t, ev("JOB", "TIMED_OUT").k(job.GetKey()), 15*time.Second)
	if to.Timestamp < newDeadline {
		t.Errorf("timed out at %d, before the new deadline %d", to.Timestamp, newDeadline)
	}
	e.complete(t, job.GetKey(), "{}")
}

// §E: UpdateJobTimeout on an ACTIVATABLE job; on a completed or unknown job.
func TestK56UpdateJobTimeoutRejections(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k56.bpmn")
	pik := e.create(t, "k56", nil)
	job := e.jobOf(t, pik)
	update := func(k int64) error {
		_, err := e.zc.NewUpdateJobTimeoutCommand().JobKey(k).Timeout(10000).Send(ctxT(t, 15*time.Second))
		return err
	}
	e.wantRejection(t, update(job.Key), codes.FailedPrecondition, "JOB", "UPDATE_TIMEOUT", "INVALID_STATE",
		fmt.Sprintf("Expected to update the timeout of job with key '%d', but it is not active", job.Key))
	e.complete(t, job.Key, "{}")
	for _, k := range []int64{job.Key, unknownKey} {
		e.wantRejection(t, update(k), codes.NotFound, "JOB", "UPDATE_TIMEOUT", "NOT_FOUND",
			fmt.Sprintf("Expected to update job deadline with key '%d', but no such job was found", k))
	}
}
