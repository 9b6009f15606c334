package zeebe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// fakeGateway records the commands the adapter sends; it answers each with success unless
// refuse returns an error for it.
type fakeGateway struct {
	pb.GatewayClient // nil: any other call panics, which the tests would see
	mu               sync.Mutex
	completed        []*pb.CompleteJobRequest
	failed           []*pb.FailJobRequest
	failedAt         []time.Time
	thrown           []*pb.ThrowErrorRequest
	updated          []*pb.UpdateJobTimeoutRequest
	setVars          []*pb.SetVariablesRequest
	// refuse, when set, answers a command ("complete", "fail", "throw", "update", "set") with
	// an error instead.
	refuse func(command string) error
}

func (f *fakeGateway) refused(command string) error {
	if f.refuse == nil {
		return nil
	}
	return f.refuse(command)
}

func (f *fakeGateway) CompleteJob(_ context.Context, r *pb.CompleteJobRequest, _ ...grpc.CallOption) (*pb.CompleteJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refused("complete"); err != nil {
		return nil, err
	}
	f.completed = append(f.completed, r)
	return &pb.CompleteJobResponse{}, nil
}

func (f *fakeGateway) FailJob(_ context.Context, r *pb.FailJobRequest, _ ...grpc.CallOption) (*pb.FailJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refused("fail"); err != nil {
		return nil, err
	}
	f.failed = append(f.failed, r)
	f.failedAt = append(f.failedAt, time.Now())
	return &pb.FailJobResponse{}, nil
}

func (f *fakeGateway) ThrowError(_ context.Context, r *pb.ThrowErrorRequest, _ ...grpc.CallOption) (*pb.ThrowErrorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refused("throw"); err != nil {
		return nil, err
	}
	f.thrown = append(f.thrown, r)
	return &pb.ThrowErrorResponse{}, nil
}

func (f *fakeGateway) UpdateJobTimeout(_ context.Context, r *pb.UpdateJobTimeoutRequest, _ ...grpc.CallOption) (*pb.UpdateJobTimeoutResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refused("update"); err != nil {
		return nil, err
	}
	f.updated = append(f.updated, r)
	return &pb.UpdateJobTimeoutResponse{}, nil
}

func (f *fakeGateway) SetVariables(_ context.Context, r *pb.SetVariablesRequest, _ ...grpc.CallOption) (*pb.SetVariablesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refused("set"); err != nil {
		return nil, err
	}
	f.setVars = append(f.setVars, r)
	return &pb.SetVariablesResponse{}, nil
}

// snapshot returns copies of what was sent so far.
func (f *fakeGateway) snapshot() (completed []*pb.CompleteJobRequest, failed []*pb.FailJobRequest, thrown []*pb.ThrowErrorRequest, updated []*pb.UpdateJobTimeoutRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(completed, f.completed...), append(failed, f.failed...), append(thrown, f.thrown...), append(updated, f.updated...)
}

func never(context.Context, error) bool { return false }

func (f *fakeGateway) NewTopologyCommand() *commands.TopologyCommand {
	return commands.NewTopologyCommand(f, never)
}
func (f *fakeGateway) NewActivateJobsCommand() commands.ActivateJobsCommandStep1 {
	return commands.NewActivateJobsCommand(f, never)
}
func (f *fakeGateway) NewStreamJobsCommand() commands.StreamJobsCommandStep1 {
	return commands.NewStreamJobsCommand(f, never)
}
func (f *fakeGateway) NewCompleteJobCommand() commands.CompleteJobCommandStep1 {
	return commands.NewCompleteJobCommand(f, never)
}
func (f *fakeGateway) NewFailJobCommand() commands.FailJobCommandStep1 {
	return commands.NewFailJobCommand(f, never)
}
func (f *fakeGateway) NewThrowErrorCommand() commands.ThrowErrorCommandStep1 {
	return commands.NewThrowErrorCommand(f, never)
}
func (f *fakeGateway) NewSetVariablesCommand() commands.SetVariablesCommandStep1 {
	return commands.NewSetVariablesCommand(f, never)
}
func (f *fakeGateway) NewUpdateJobTimeoutCommand() commands.UpdateJobTimeoutCommandStep1 {
	return commands.NewUpdateJobTimeoutCommand(f, never)
}
func (f *fakeGateway) NewPublishMessageCommand() commands.PublishMessageCommandStep1 {
	return commands.NewPublishMessageCommand(f, never)
}

type handlerFunc func(context.Context, connector.Job) (connector.Result, error)

func (h handlerFunc) Handle(ctx context.Context, j connector.Job) (connector.Result, error) {
	return h(ctx, j)
}

func activated(key int64) entities.Job {
	return entities.Job{ActivatedJob: &pb.ActivatedJob{
		Key: key, Type: "power-automate:1", Retries: 3, Deadline: time.Now().Add(time.Minute).UnixMilli(),
		ProcessInstanceKey: 7, BpmnProcessId: "p", ElementId: "Task", CustomHeaders: `{"a":"b"}`, Variables: `{}`,
	}}
}

// runOne runs one activated job through the worker's dispatch, as the activation loops do, and
// waits for its answer.
func runOne(w *Worker, j entities.Job) {
	w.init()
	if w.active.tryTake(1) != 1 {
		panic("no free slot")
	}
	w.start(j)
	w.inflight.Wait()
}

func TestAdapterAnswers(t *testing.T) {
	cases := []struct {
		name    string
		handler handlerFunc
		check   func(t *testing.T, g *fakeGateway, log string)
	}{
		{"success completes with the variables", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{Operation: "triggerFlowRun", Variables: map[string]any{"x": 1}}, nil
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.completed) != 1 || g.completed[0].Variables != `{"x":1}` {
				t.Fatalf("completed = %v", g.completed)
			}
			var line map[string]any
			json.Unmarshal([]byte(strings.TrimSpace(log)), &line)
			for _, k := range []string{"job_key", "process_instance_key", "bpmn_process_id", "element_id", "operation", "outcome", "duration_ms"} {
				if _, ok := line[k]; !ok {
					t.Errorf("the outcome log line lacks %s: %s", k, log)
				}
			}
			if line["operation"] != "triggerFlowRun" {
				t.Errorf("operation = %v, want the one the handler returned", line["operation"])
			}
		}},
		{"a handler's warning goes on the job's line, at warn level, and the job completes", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{Operation: "runFlowAndWait", Variables: map[string]any{"x": 1}, Warning: "callback skipped: polling"}, nil
		}, func(t *testing.T, g *fakeGateway, log string) {
			var line map[string]any
			json.Unmarshal([]byte(strings.TrimSpace(log)), &line)
			if len(g.completed) != 1 || line["level"] != "warn" || line["warning"] != "callback skipped: polling" || line["outcome"] != "completed" {
				t.Fatalf("completed %d, log line %s", len(g.completed), log)
			}
		}},
		{"the operation is logged with an error too", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{Operation: "getStatusOfFlowRun"}, connector.Permanentf("bad input")
		}, func(t *testing.T, g *fakeGateway, log string) {
			if !strings.Contains(log, `"operation":"getStatusOfFlowRun"`) {
				t.Fatalf("log: %s", log)
			}
		}},
		{"panic fails with one retry fewer and the process lives on", func(context.Context, connector.Job) (connector.Result, error) {
			panic("boom in handler")
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 2 || !strings.Contains(g.failed[0].ErrorMessage, "boom in handler") {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"permanent error raises an incident", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, connector.Permanentf("bad input")
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 0 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"transient error with backoff", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, &connector.RetryError{Err: errors.New("503"), Backoff: 30 * time.Second}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 2 || g.failed[0].RetryBackOff != 30000 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"throttled keeps retries", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, &connector.RetryError{Err: errors.New("429"), Backoff: time.Minute, KeepRetries: true}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 3 || g.failed[0].RetryBackOff != 60000 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"BPMN error is thrown with variables", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, &connector.BPMNError{Code: "DESKTOP_FLOW_FAILED", Message: "m", Variables: map[string]any{"e": "x"}}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.thrown) != 1 || g.thrown[0].ErrorCode != "DESKTOP_FLOW_FAILED" || g.thrown[0].Variables != `{"e":"x"}` {
				t.Fatalf("thrown = %v", g.thrown)
			}
		}},
		{"long messages are truncated", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, connector.Permanentf("%s", strings.Repeat("x", 10000))
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed[0].ErrorMessage) != MaxMessageLength {
				t.Fatalf("message length %d", len(g.failed[0].ErrorMessage))
			}
		}},
		// A non-ASCII error body cut by bytes gave invalid UTF-8, which the gateway refuses: the
		// job then looped through timeouts without ever spending a retry.
		{"long non-ASCII messages are cut on a character boundary", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, connector.Permanentf("x%s", strings.Repeat("€", 3000)) // byte 6000 is inside a €
		}, func(t *testing.T, g *fakeGateway, log string) {
			m := g.failed[0].ErrorMessage
			if !utf8.ValidString(m) || len(m) > MaxMessageLength || len(m) < MaxMessageLength-3 {
				t.Fatalf("message of %d bytes, valid UTF-8 %v", len(m), utf8.ValidString(m))
			}
		}},
		{"invalid UTF-8 in a message is replaced", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, &connector.BPMNError{Code: "E", Message: "body \xff\xfe end"}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.thrown) != 1 || !utf8.ValidString(g.thrown[0].ErrorMessage) || !strings.Contains(g.thrown[0].ErrorMessage, "end") {
				t.Fatalf("thrown = %v", g.thrown)
			}
		}},
		{"long BPMN error messages are truncated too", func(context.Context, connector.Job) (connector.Result, error) {
			return connector.Result{}, &connector.BPMNError{Code: "E", Message: strings.Repeat("ü", 5<<20)}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.thrown) != 1 || len(g.thrown[0].ErrorMessage) > MaxMessageLength || !utf8.ValidString(g.thrown[0].ErrorMessage) {
				t.Fatalf("thrown %d, message of %d bytes", len(g.thrown), len(g.thrown[0].ErrorMessage))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &fakeGateway{}
			var buf bytes.Buffer
			w := &Worker{Gateway: g, Handler: c.handler, Log: zerolog.New(&buf), MaxJobsActive: 1}
			runOne(w, activated(42))
			c.check(t, g, buf.String())
		})
	}
}

// A command the gateway refuses for good is replaced by a small FailJob with retries 0 that
// says why; only backpressure and unavailability are resent; a job gone is not retried.
func TestRefusedAnswers(t *testing.T) {
	bpmn := handlerFunc(func(context.Context, connector.Job) (connector.Result, error) {
		return connector.Result{}, &connector.BPMNError{Code: "TOO_BIG", Message: "m", Variables: map[string]any{"big": strings.Repeat("x", 1000)}}
	})
	cases := []struct {
		name   string
		refuse func(n int) error // answer to the n-th refused-kind command (from 0)
		check  func(t *testing.T, g *fakeGateway, attempts int, log string)
	}{
		{"over the gateway's size limit: an incident, no resends", func(int) error {
			return status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5243000 vs. 4194304)")
		}, func(t *testing.T, g *fakeGateway, attempts int, log string) {
			if attempts != 1 {
				t.Errorf("the oversized command was sent %d times, want once", attempts)
			}
			if len(g.failed) != 1 || g.failed[0].Retries != 0 || g.failed[0].Variables != "" ||
				!strings.Contains(g.failed[0].ErrorMessage, "throw the BPMN error TOO_BIG") || !strings.Contains(g.failed[0].ErrorMessage, "larger than max") {
				t.Fatalf("failed = %v, want one FailJob with retries 0 saying why", g.failed)
			}
			if !strings.Contains(log, `"outcome":"incident"`) {
				t.Fatalf("log: %s", log)
			}
		}},
		{"invalid argument: an incident", func(int) error {
			return status.Error(codes.InvalidArgument, "Command 'THROW_ERROR' rejected with code 'INVALID_ARGUMENT': bad")
		}, func(t *testing.T, g *fakeGateway, attempts int, log string) {
			if attempts != 1 || len(g.failed) != 1 || g.failed[0].Retries != 0 || !strings.Contains(g.failed[0].ErrorMessage, "INVALID_ARGUMENT") {
				t.Fatalf("attempts %d, failed = %v", attempts, g.failed)
			}
		}},
		{"backpressure is resent", func(n int) error {
			if n < 3 {
				return status.Error(codes.ResourceExhausted, "Reached maximum capacity of requests handled")
			}
			return nil
		}, func(t *testing.T, g *fakeGateway, attempts int, log string) {
			if attempts != 4 || len(g.thrown) != 1 || len(g.failed) != 0 {
				t.Fatalf("attempts %d, thrown %d, failed %d", attempts, len(g.thrown), len(g.failed))
			}
		}},
		{"a job gone is logged, not retried", func(int) error {
			return status.Error(codes.NotFound, "Command 'THROW_ERROR' rejected with code 'NOT_FOUND'")
		}, func(t *testing.T, g *fakeGateway, attempts int, log string) {
			if attempts != 1 || len(g.failed) != 0 || !strings.Contains(log, `"outcome":"job-gone"`) {
				t.Fatalf("attempts %d, failed %d, log %s", attempts, len(g.failed), log)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			attempts := 0
			g := &fakeGateway{}
			g.refuse = func(cmd string) error {
				if cmd != "throw" {
					return nil
				}
				attempts++
				return c.refuse(attempts - 1)
			}
			var buf bytes.Buffer
			w := &Worker{Gateway: g, Handler: bpmn, Log: zerolog.New(&buf)}
			runOne(w, activated(9))
			c.check(t, g, attempts, buf.String())
		})
	}
}

func TestAnswerResentUnderBackpressure(t *testing.T) {
	refusals := 3
	g := &fakeGateway{refuse: func(cmd string) error {
		if cmd == "complete" && refusals > 0 {
			refusals--
			return status.Error(codes.ResourceExhausted, "writer buffer is full")
		}
		return nil
	}}
	var buf bytes.Buffer
	w := &Worker{Gateway: g, Log: zerolog.New(&buf), Handler: handlerFunc(func(context.Context, connector.Job) (connector.Result, error) {
		return connector.Result{Variables: map[string]any{"ok": true}}, nil
	})}
	runOne(w, activated(5))
	if len(g.completed) != 1 {
		t.Fatalf("completed %d times, want the refused complete resent until the broker took it", len(g.completed))
	}
	if !strings.Contains(buf.String(), `"outcome":"completed"`) {
		t.Fatalf("log: %s", buf.String())
	}
}

// startedJob dispatches a job whose handler signals when it runs and then blocks until its
// context ends; it returns when the handler runs.
func startedJob(t *testing.T, w *Worker, j entities.Job, inHandler func(ctx context.Context, job connector.Job) error) {
	t.Helper()
	started := make(chan struct{})
	w.Handler = handlerFunc(func(ctx context.Context, job connector.Job) (connector.Result, error) {
		if inHandler != nil {
			if err := inHandler(ctx, job); err != nil {
				close(started)
				return connector.Result{}, err
			}
		}
		close(started)
		<-ctx.Done()
		return connector.Result{}, ctx.Err()
	})
	w.init()
	w.active.tryTake(1)
	w.start(j)
	<-started
}

// SIGTERM: a job that has not sent a trigger is handed back at the end of the grace period,
// retries unchanged.
func TestShutdownHandsBackJobsOutsideTriggers(t *testing.T) {
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Log: zerolog.Nop(), Grace: 50 * time.Millisecond}
	startedJob(t, w, activated(1), nil)
	w.drain()
	if len(g.failed) != 1 || g.failed[0].Retries != 3 || g.failed[0].RetryBackOff != 0 {
		t.Fatalf("failed = %v, want the job handed back with retries unchanged and no backoff", g.failed)
	}
}

// SIGTERM while a trigger's request is on its way: the job is not handed back for a blind
// retry but raises an incident saying a run may have started.
func TestShutdownDuringATriggerRaisesAnIncident(t *testing.T) {
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Log: zerolog.Nop(), Grace: 50 * time.Millisecond}
	startedJob(t, w, activated(2), func(ctx context.Context, job connector.Job) error {
		if err := job.Lease.Hold(ctx, time.Minute); err != nil {
			return err
		}
		job.Lease.Sending("the trigger's outcome is unknown, a run may have started")
		return nil
	})
	w.drain()
	_, failed, _, _ := g.snapshot()
	if len(failed) != 1 || failed[0].Retries != 0 || !strings.Contains(failed[0].ErrorMessage, "a run may have started") ||
		!strings.Contains(failed[0].ErrorMessage, "shut down") {
		t.Fatalf("failed = %v, want an incident saying a run may have started", failed)
	}
}

// A trigger held but not yet sent (waiting for the client-side limiter) is handed back.
func TestShutdownBeforeTheTriggerIsSentHandsBack(t *testing.T) {
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Log: zerolog.Nop(), Grace: 50 * time.Millisecond}
	startedJob(t, w, activated(3), func(ctx context.Context, job connector.Job) error { return job.Lease.Hold(ctx, time.Minute) })
	w.drain()
	if len(g.failed) != 1 || g.failed[0].Retries != 3 {
		t.Fatalf("failed = %v, want the job handed back with retries unchanged", g.failed)
	}
}

// The lease ends while a trigger's request is on its way and the gateway refuses to extend
// it: the incident goes out before the lease ends.
func TestRefusedExtensionDuringATriggerRaisesTheIncidentInTime(t *testing.T) {
	extensions := 0
	g := &fakeGateway{}
	g.refuse = func(cmd string) error {
		if cmd != "update" {
			return nil
		}
		if extensions++; extensions > 1 {
			return status.Error(codes.Unavailable, "gateway unavailable")
		}
		return nil
	}
	w := &Worker{Gateway: g, Log: zerolog.Nop()}
	j := activated(4)
	j.Deadline = time.Now().Add(500 * time.Millisecond).UnixMilli()
	var deadline time.Time
	startedJob(t, w, j, func(ctx context.Context, job connector.Job) error {
		if err := job.Lease.Hold(ctx, time.Second); err != nil { // extends to 1 s + 2 margins
			return err
		}
		deadline = job.Lease.Deadline()
		job.Lease.Sending("the trigger's outcome is unknown, a run may have started")
		return nil
	})
	w.inflight.Wait()
	_, failed, _, updated := g.snapshot()
	if len(updated) != 1 || len(failed) != 1 || failed[0].Retries != 0 || !strings.Contains(failed[0].ErrorMessage, "a run may have started") {
		t.Fatalf("extensions %d, failed = %v; want one extension and then an incident", len(updated), failed)
	}
	if !g.failedAt[0].Before(deadline) {
		t.Fatalf("the incident went out at %s, after the lease ended at %s", g.failedAt[0].Format(time.StampMilli), deadline.Format(time.StampMilli))
	}
}

// Jobs whose lease is over, or about to be, are not started.
func TestJobsOutOfTimeAreNotStarted(t *testing.T) {
	g := &fakeGateway{}
	started := 0
	w := &Worker{Gateway: g, Log: zerolog.Nop(), JobTimeout: time.Minute, Handler: handlerFunc(func(context.Context, connector.Job) (connector.Result, error) {
		started++
		return connector.Result{}, nil
	})}
	past, soon := activated(5), activated(6)
	past.Deadline = time.Now().Add(-time.Second).UnixMilli()
	soon.Deadline = time.Now().Add(300 * time.Millisecond).UnixMilli()
	runOne(w, past)
	runOne(w, soon)
	if started != 0 {
		t.Fatalf("%d jobs started", started)
	}
	if len(g.failed) != 1 || g.failed[0].JobKey != 6 || g.failed[0].Retries != 3 {
		t.Fatalf("failed = %v, want only the job about to time out handed back, retries unchanged", g.failed)
	}
	if w.active.free() != w.MaxJobsActive {
		t.Fatalf("%d slots free of %d: a job not started kept its slot", w.active.free(), w.MaxJobsActive)
	}
}

// A trigger whose lease ends while Dataverse is still answering: the lease is extended while
// the call lasts, and the job completes with the one run (it used to be dropped unanswered at
// its deadline, and the redelivered job started a second run).
func TestTriggerOutlivesItsLease(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Delay: 1500 * time.Millisecond})
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Handler: f.h, Log: zerolog.Nop()}
	j := activated(7)
	raw, _ := json.Marshal(f.trigger(nil))
	j.Variables = string(raw)
	j.Deadline = time.Now().Add(500 * time.Millisecond).UnixMilli()
	runOne(w, j)
	completed, failed, _, updated := g.snapshot()
	if len(completed) != 1 || len(failed) != 0 {
		t.Fatalf("completed %d, failed %v; want the trigger completed", len(completed), failed)
	}
	if len(updated) == 0 {
		t.Fatal("the lease was not extended")
	}
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 1 {
		t.Fatalf("%d runs", n)
	}
	if len(g.setVars) != 1 {
		t.Fatalf("the run was recorded %d times, want once", len(g.setVars))
	}
}

// The extension a trigger needs before it is sent is refused: nothing is sent, and the job
// fails with one retry fewer.
func TestTriggerNotSentWithoutALease(t *testing.T) {
	f := newFixture(t)
	g := &fakeGateway{refuse: func(cmd string) error {
		if cmd == "update" {
			return status.Error(codes.NotFound, "job gone")
		}
		return nil
	}}
	w := &Worker{Gateway: g, Handler: f.h, Log: zerolog.Nop()}
	j := activated(8)
	raw, _ := json.Marshal(f.trigger(nil))
	j.Variables = string(raw)
	j.Deadline = time.Now().Add(time.Second).UnixMilli()
	runOne(w, j)
	if n := f.srv.Count(dataversetest.OpRunDesktopFlow); n != 0 {
		t.Fatalf("%d runs started without a lease to cover the call", n)
	}
	if len(g.failed) != 1 || g.failed[0].Retries != 2 {
		t.Fatalf("failed = %v", g.failed)
	}
}

// signalTransport closes sent when the first RunDesktopFlow request starts (not the flow's
// input-schema read before it: a shutdown then hands the job back, rightly).
type signalTransport struct {
	base http.RoundTripper
	once sync.Once
	sent chan struct{}
}

func (s *signalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/Microsoft.Dynamics.CRM.RunDesktopFlow") {
		s.once.Do(func() { close(s.sent) })
	}
	return s.base.RoundTrip(r)
}

// Through the real handler: SIGTERM while Dataverse is answering a trigger raises the
// incident; the job is not handed back.
func TestShutdownDuringATriggerThroughTheHandler(t *testing.T) {
	f := newFixture(t)
	f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Delay: time.Minute})
	sig := &signalTransport{base: f.h.Transport, sent: make(chan struct{})}
	f.h.Transport = sig
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Handler: f.h, Log: zerolog.Nop(), Grace: 10 * time.Millisecond}
	j := activated(10)
	raw, _ := json.Marshal(f.trigger(nil))
	j.Variables = string(raw)
	w.init()
	w.active.tryTake(1)
	w.start(j)
	<-sig.sent
	w.drain()
	if len(g.failed) != 1 || g.failed[0].Retries != 0 || !strings.Contains(g.failed[0].ErrorMessage, "a run may have started") {
		t.Fatalf("failed = %v, want an incident saying a run may have started", g.failed)
	}
}

// A runFlowAndWait job waiting for its run gives its MAX_JOBS_ACTIVE slot back (for a
// waiting one), so a worker full of waiting jobs still runs other jobs.
func TestWaitingJobsGiveTheirSlotBack(t *testing.T) {
	f := newFixture(t)
	g := &fakeGateway{}
	w := &Worker{Gateway: g, Handler: f.h, Log: zerolog.Nop(), MaxJobsActive: 1, MaxJobsWaiting: 1, Grace: 10 * time.Millisecond}
	w.init()
	waitJob := activated(20)
	raw, _ := json.Marshal(f.waitVars(slowFlow))
	waitJob.Variables = string(raw)
	w.active.tryTake(1)
	w.start(waitJob)
	// The worker's one active slot frees once the job waits.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !w.active.take(ctx) {
		t.Fatal("the waiting job kept the only active slot")
	}
	trigger := activated(21)
	raw, _ = json.Marshal(f.trigger(nil))
	trigger.Variables = string(raw)
	w.start(trigger) // holds the slot just taken
	if w.waiting.free() != 0 {
		t.Fatalf("%d waiting slots free, want the waiting job to hold the one", w.waiting.free())
	}
	// A second waiting job finds no waiting slot free: it keeps its active slot.
	second := activated(22)
	raw, _ = json.Marshal(f.waitVars(slowFlow))
	second.Variables = string(raw)
	if !w.active.take(ctx) {
		t.Fatal("the trigger job did not give its slot back")
	}
	w.start(second)
	for f.srv.Count(dataversetest.OpGetFlowSession) < 2 {
		if ctx.Err() != nil {
			t.Fatal("the second job did not start waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w.active.free() != 0 {
		t.Fatal("a waiting job with no waiting slot free gave its active slot back")
	}
	w.drain()
	completed, failed, _, _ := g.snapshot()
	if len(completed) != 1 || len(failed) != 2 || failed[0].Retries != 3 || failed[1].Retries != 3 {
		t.Fatalf("completed %d, failed %v: want the trigger completed and both waiting jobs handed back", len(completed), failed)
	}
	if w.active.free() != 1 || w.waiting.free() != 1 {
		t.Fatalf("slots free after the drain: %d active, %d waiting", w.active.free(), w.waiting.free())
	}
}
