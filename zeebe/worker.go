// Package zeebe is the one adapter that talks to Zeebe: it activates jobs (polling and job
// streaming), holds them in slots, keeps their leases, runs each with the job handler, answers
// with Complete, Fail or ThrowError, drains at shutdown, and publishes messages for the
// callback receiver.
package zeebe

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/secrets"
)

// Gateway is the part of the Zeebe client the adapter uses; *zbc.ClientImpl is one.
type Gateway interface {
	NewTopologyCommand() *commands.TopologyCommand
	NewActivateJobsCommand() commands.ActivateJobsCommandStep1
	NewStreamJobsCommand() commands.StreamJobsCommandStep1
	NewCompleteJobCommand() commands.CompleteJobCommandStep1
	NewFailJobCommand() commands.FailJobCommandStep1
	NewThrowErrorCommand() commands.ThrowErrorCommandStep1
	NewSetVariablesCommand() commands.SetVariablesCommandStep1
	NewUpdateJobTimeoutCommand() commands.UpdateJobTimeoutCommandStep1
}

// JobHandler runs one job.
type JobHandler interface {
	Handle(ctx context.Context, job connector.Job) (connector.Result, error)
}

// Worker is the one adapter that talks to Zeebe: it activates jobs (long polling, plus job
// streaming where the gateway offers it), runs each with a context bound to the job's lease,
// recovers panics, and answers with Complete, Fail or ThrowError.
//
// Capacity: MaxJobsActive bounds the jobs the worker holds while they work, and with them the
// jobs it reserves: a poll asks for free slots only, a job pushed while none is free is handed
// back at once with a retry backoff (the stream stays open), and no activated job waits in a
// queue.
// A runFlowAndWait job that waits for its run moves to one of MaxJobsWaiting slots.
type Worker struct {
	Gateway        Gateway
	Handler        JobHandler
	Types          []string
	Name           string
	FetchVariables []string
	MaxJobsActive  int // 0: DefaultMaxJobsActive
	MaxJobsWaiting int // 0: DefaultMaxJobsWaiting; negative: waiting jobs keep their active slot
	JobTimeout     time.Duration
	RequestTimeout time.Duration // long-polling request timeout
	PollInterval   time.Duration // pause after an empty poll while a stream is open
	Streaming      string        // "auto" (by gateway version), "true", "false"
	Grace          time.Duration // how long in-flight jobs may finish at shutdown
	Log            zerolog.Logger
	Metrics        *Metrics
	// Secrets holds the secret values in use; each job holds its own until it is answered and
	// logged, and every command's message and variables are scrubbed of them.
	Secrets *secrets.Registry

	initOnce sync.Once
	active   *slots // jobs at work
	waiting  *slots // runFlowAndWait jobs waiting for their run
	inflight sync.WaitGroup
	busy     bounces // the busy backoff of jobs handed back for want of a slot
	ready    atomic.Bool
	draining atomic.Bool
	mu       sync.Mutex
	leases   map[int64]*Lease // running jobs, interrupted at the end of the grace period
	// newBackoff, when set, replaces gatewayBackoff in the gateway loops (tests).
	newBackoff func() *backoff.Backoff
}

// Defaults of the capacity settings.
const (
	DefaultMaxJobsActive  = 32
	DefaultMaxJobsWaiting = 500
)

func (w *Worker) init() {
	w.initOnce.Do(func() {
		if w.MaxJobsActive <= 0 {
			w.MaxJobsActive = DefaultMaxJobsActive
		}
		if w.MaxJobsWaiting == 0 {
			w.MaxJobsWaiting = DefaultMaxJobsWaiting
		}
		w.active = newSlots(w.MaxJobsActive)
		w.waiting = newSlots(max(w.MaxJobsWaiting, 0))
		w.leases = map[int64]*Lease{}
	})
}

// Ready reports whether the gateway answers and the worker is taking jobs.
func (w *Worker) Ready() bool { return w.ready.Load() && !w.draining.Load() }

// Run activates and handles jobs until ctx ends, then drains: in-flight jobs get Grace to
// finish; then jobs whose unrepeatable request may have reached its server (a trigger, a
// cloud flow, a create, an action) raise an incident saying what may have happened, the
// others are handed back with their retries unchanged. It returns nil after a clean drain.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	stream := w.waitForGateway(ctx)
	if ctx.Err() != nil {
		return nil
	}
	var loops sync.WaitGroup
	for _, t := range w.Types {
		loops.Add(1)
		go func() { defer loops.Done(); w.poll(ctx, t, stream) }()
		if stream {
			loops.Add(1)
			go func() { defer loops.Done(); w.stream(ctx, t) }()
		}
	}
	<-ctx.Done()
	w.draining.Store(true)
	w.Log.Info().Dur("grace", w.Grace).Msg("stopping: no new jobs; waiting for in-flight jobs")
	loops.Wait()
	w.drain()
	w.Log.Info().Msg("stopped")
	return nil
}

// drain waits up to Grace for the running jobs, then interrupts the rest (ErrShutdown) and
// waits for their answers.
func (w *Worker) drain() {
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	t := time.NewTimer(w.Grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.Log.Warn().Msg("grace period over: handing unfinished jobs back with their retries unchanged (a request that cannot be repeated raises an incident instead)")
		w.mu.Lock()
		for _, l := range w.leases {
			l.Interrupt(ErrShutdown)
		}
		w.mu.Unlock()
		<-done
	}
}

// startMargin is the least time left on a job's lease for the worker to start it.
func (w *Worker) startMargin() time.Duration {
	return max(min(holdMargin, w.JobTimeout/2), 0)
}

// start runs an activated job that holds an active slot, unless its lease is over or about to
// be: a job that passed its deadline is the broker's again (nothing is sent), one about to
// pass it is handed back unstarted.
func (w *Worker) start(j entities.Job) {
	switch left := time.Until(time.UnixMilli(j.Deadline)); {
	case left <= 0:
		w.active.release(1)
		w.Log.Warn().Int64("job_key", j.Key).Str("job_type", j.Type).Msg("job not started: its timeout passed before it could start")
	case left < w.startMargin():
		w.active.release(1)
		w.handBack(j, 0, "pa-connector did not start the job: its timeout was about to pass")
	default:
		w.dispatch(j)
	}
}

// dispatch runs a job that holds an active slot.
func (w *Worker) dispatch(j entities.Job) {
	w.inflight.Add(1)
	w.Metrics.activated(j.Type)
	ctx, cancel := context.WithCancelCause(context.Background())
	lease := NewLease(time.UnixMilli(j.Deadline), cancel, func(ctx context.Context, d time.Duration) error {
		_, err := w.Gateway.NewUpdateJobTimeoutCommand().JobKey(j.Key).Timeout(d.Milliseconds()).Send(ctx)
		return err
	})
	w.mu.Lock()
	w.leases[j.Key] = lease
	w.mu.Unlock()
	go func() {
		defer w.inflight.Done()
		defer cancel(nil)
		defer func() {
			w.mu.Lock()
			delete(w.leases, j.Key)
			w.mu.Unlock()
		}()
		w.run(ctx, lease, j)
	}()
}

func (w *Worker) run(ctx context.Context, lease *Lease, j entities.Job) {
	start := time.Now()
	job := connector.Job{
		Key:                j.Key,
		Type:               j.Type,
		Retries:            j.Retries,
		Deadline:           time.UnixMilli(j.Deadline),
		ProcessInstanceKey: j.ProcessInstanceKey,
		BpmnProcessID:      j.BpmnProcessId,
		ElementID:          j.ElementId,
		ElementInstanceKey: j.ElementInstanceKey,
		Variables:          j.Variables,
		Lease:              lease,
		Secrets:            w.Secrets.NewSet(),
	}
	defer job.Secrets.Release() // after the answer and its log line
	if j.CustomHeaders != "" {
		if err := json.Unmarshal([]byte(j.CustomHeaders), &job.Headers); err != nil {
			job.Headers = nil
		}
	}
	job.SetLocal = func(ctx context.Context, vars map[string]any) error {
		cmd, err := w.Gateway.NewSetVariablesCommand().ElementInstanceKey(job.ElementInstanceKey).VariablesFromMap(vars)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithDeadline(ctx, job.Lease.Deadline())
		defer cancel()
		local := cmd.Local(true)
		return resend(ctx, func(ctx context.Context) error { _, err := local.Send(ctx); return err })
	}
	// The job holds an active slot until it starts waiting for a run, then a waiting slot if
	// one is free (else it keeps the active one).
	var slot struct {
		sync.Mutex
		waiting, freed bool
	}
	job.Waiting = func() {
		slot.Lock()
		defer slot.Unlock()
		if !slot.waiting && !slot.freed && w.waiting.tryTake(1) == 1 {
			slot.waiting = true
			w.active.release(1)
		}
	}
	freeSlot := func() {
		slot.Lock()
		defer slot.Unlock()
		if slot.freed {
			return
		}
		slot.freed = true
		if slot.waiting {
			w.waiting.release(1)
		} else {
			w.active.release(1)
		}
	}
	defer freeSlot()

	w.Metrics.inFlight(1)
	res, err := w.safeHandle(ctx, job)
	w.Metrics.inFlight(-1)
	lease.Stop() // the cause is settled: nothing interrupts the job from here on
	// The work is done: the slot frees before the answer, so that a job the gateway pushes in
	// reply (the process's next task) finds it free.
	freeSlot()

	outcome, cmdErr := w.answer(ctx, job, res, err)
	dur := time.Since(start)
	w.Metrics.handled(job.Type, res.Operation, outcome, dur)
	// One line per outcome, its fields on the event itself (no per-job sub-logger).
	ev := w.Log.Info()
	switch {
	case cmdErr != nil:
		ev = w.Log.Error().AnErr("command_error", cmdErr)
	case outcome != "completed" || res.Warning != "":
		ev = w.Log.Warn()
	}
	if err != nil {
		ev = ev.Str("error", err.Error())
	}
	if res.Warning != "" {
		ev = ev.Str("warning", res.Warning)
	}
	ev.Int64("job_key", job.Key).Int64("process_instance_key", job.ProcessInstanceKey).
		Str("bpmn_process_id", job.BpmnProcessID).Str("element_id", job.ElementID).
		Str("job_type", job.Type).Str("operation", res.Operation).
		Str("outcome", outcome).Int64("duration_ms", dur.Milliseconds()).Msg("job " + outcome)
}

func (w *Worker) safeHandle(ctx context.Context, job connector.Job) (res connector.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.Log.Error().Int64("job_key", job.Key).Str("stack", string(debug.Stack())).Msg("handler panicked")
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return w.Handler.Handle(ctx, job)
}
