package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/connector/secrets"
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
	NewPublishMessageCommand() commands.PublishMessageCommandStep1
}

// JobHandler runs one job.
type JobHandler interface {
	Handle(ctx context.Context, job Job) (Result, error)
}

// Worker is the one adapter that talks to Zeebe: it activates jobs (long polling, plus job
// streaming where the gateway offers it), runs each with a context bound to the job's lease,
// recovers panics, and answers with Complete, Fail or ThrowError.
//
// Capacity: MaxJobsActive bounds the jobs the worker holds while they work, and with them the
// jobs it reserves: a poll asks for free slots only, a job pushed while none is free is handed
// back at once (and the stream closed until one frees), and no activated job waits in a queue.
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
	ready    atomic.Bool
	draining atomic.Bool
	mu       sync.Mutex
	leases   map[int64]*Lease // running jobs, interrupted at the end of the grace period
	// newBackoff, when set, replaces gatewayBackoff in the gateway loops (tests).
	newBackoff func() *Backoff
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
// finish; then jobs whose trigger may have reached Dataverse raise an incident saying a run
// may have started, the others are handed back with their retries unchanged. It returns nil
// after a clean drain.
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
		w.Log.Warn().Msg("grace period over: handing unfinished jobs back with their retries unchanged (a trigger in flight raises an incident instead)")
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
	job := Job{
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
	case outcome != "completed":
		ev = w.Log.Warn()
	}
	if err != nil {
		ev = ev.Str("error", err.Error())
	}
	ev.Int64("job_key", job.Key).Int64("process_instance_key", job.ProcessInstanceKey).
		Str("bpmn_process_id", job.BpmnProcessID).Str("element_id", job.ElementID).
		Str("job_type", job.Type).Str("operation", res.Operation).
		Str("outcome", outcome).Int64("duration_ms", dur.Milliseconds()).Msg("job " + outcome)
}

func (w *Worker) safeHandle(ctx context.Context, job Job) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.Log.Error().Int64("job_key", job.Key).Str("stack", string(debug.Stack())).Msg("handler panicked")
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return w.Handler.Handle(ctx, job)
}

// answer sends the command for the handler's result and names the outcome. A job whose context
// was cancelled before the handler returned an error is answered by the cancellation's cause.
func (w *Worker) answer(ctx context.Context, job Job, res Result, err error) (string, error) {
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mayHave *RunMayHaveStarted
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		cmd, cerr := w.Gateway.NewCompleteJobCommand().JobKey(job.Key).VariablesFromMap(w.Secrets.Map(orEmpty(res.Variables)))
		if cerr != nil {
			return w.failPermanently(cctx, job, fmt.Errorf("output variables: %w", cerr))
		}
		return w.deliver(cctx, job, "completed", "complete the job", func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
	case errors.As(cause, &mayHave):
		// The trigger may have reached Dataverse: an incident, never a blind retry.
		return w.failPermanently(cctx, job, mayHave)
	case errors.Is(cause, ErrShutdown):
		// Hand the job back at once, retries unchanged.
		cmd := w.Gateway.NewFailJobCommand().JobKey(job.Key).Retries(job.Retries).
			ErrorMessage("pa-connector shut down before the job finished; it will run again")
		return w.deliver(cctx, job, "handed-back", "hand the job back", func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
	case errors.Is(cause, ErrLeaseExpired):
		// The job timed out; the broker makes it activatable again on its own.
		return "timed-out", nil
	}
	d := scrubDecision(w.Secrets, Decide(err, job.Retries))
	if d.Kind == "bpmn-error" {
		cmd := w.Gateway.NewThrowErrorCommand().JobKey(job.Key).ErrorCode(d.Code).ErrorMessage(w.message(d.Message))
		send := func(ctx context.Context) error { _, err := cmd.Send(ctx); return err }
		if len(d.Variables) > 0 {
			c, cerr := cmd.VariablesFromMap(d.Variables)
			if cerr != nil {
				return w.failPermanently(cctx, job, fmt.Errorf("BPMN error %s: variables: %w", d.Code, cerr))
			}
			send = func(ctx context.Context) error { _, err := c.Send(ctx); return err }
		}
		return w.deliver(cctx, job, "bpmn-error", "throw the BPMN error "+d.Code, send)
	}
	return w.fail(cctx, job, d)
}

func (w *Worker) failPermanently(ctx context.Context, job Job, err error) (string, error) {
	return w.fail(ctx, job, scrubDecision(w.Secrets, Decide(Permanent(err), job.Retries)))
}

// MaxMessageLength is the longest message (in bytes) sent with FailJob or ThrowError, as
// Camunda's runtime truncates.
const MaxMessageLength = 6000

// message builds the text of a FailJob or ThrowError: scrubbed of every held secret, then valid
// UTF-8, at most MaxMessageLength bytes, cut on a character boundary (a cut before scrubbing
// could leave a prefix of a secret). Every message leaves the worker through here.
func (w *Worker) message(s string) string {
	return truncateUTF8(strings.ToValidUTF8(w.Secrets.Message(s), "\uFFFD"), MaxMessageLength)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (w *Worker) fail(ctx context.Context, job Job, d Decision) (string, error) {
	outcome := "failed"
	if d.Retries == 0 {
		outcome = "incident"
	}
	cmd := w.Gateway.NewFailJobCommand().JobKey(job.Key).Retries(d.Retries).ErrorMessage(w.message(d.Message))
	if d.Backoff > 0 {
		cmd = cmd.RetryBackoff(d.Backoff)
	}
	send := func(ctx context.Context) error { _, err := cmd.Send(ctx); return err }
	if len(d.Variables) > 0 {
		c, err := cmd.VariablesFromMap(d.Variables)
		if err != nil {
			return w.failPermanently(ctx, job, fmt.Errorf("job error variables: %w", err))
		}
		send = func(ctx context.Context) error { _, err := c.Send(ctx); return err }
	}
	return w.deliver(ctx, job, outcome, "fail the job", send)
}

// deliver sends an answer, resending it while the gateway pushes back. A job the gateway no
// longer knows is logged, not retried. An answer the gateway refuses for a reason that is not
// transient (a message or variables over its limit, invalid content) is replaced by a small
// FailJob with retries 0 that says why, so that the job ends as a clear incident instead of
// coming back after every timeout.
func (w *Worker) deliver(ctx context.Context, job Job, outcome, what string, send func(context.Context) error) (string, error) {
	err := resend(ctx, send)
	switch {
	case err == nil:
		return outcome, nil
	case jobGone(err):
		return "job-gone", err
	case !refused(err):
		return "command-failed", err // the job comes back after its timeout
	}
	msg := w.message(fmt.Sprintf("pa-connector could not %s: the gateway refused it (%s)", what, gatewayError(err)))
	cmd := w.Gateway.NewFailJobCommand().JobKey(job.Key).Retries(0).ErrorMessage(msg)
	if rerr := resend(ctx, func(ctx context.Context) error { _, err := cmd.Send(ctx); return err }); rerr != nil {
		return "command-failed", fmt.Errorf("%w; the replacing incident was refused too: %v", err, gatewayError(rerr))
	}
	w.Log.Warn().Int64("job_key", job.Key).Str("command_error", gatewayError(err).Error()).
		Msg("the gateway refused the job's answer; raised an incident instead")
	return "incident", nil
}

// resend sends a command again while the broker pushes back (RESOURCE_EXHAUSTED) or is briefly
// unavailable, backing off (full jitter, 50 ms to 1 s) until ctx ends: a refused complete would
// leave the job waiting out its timeout, a refused record of a started run would let a
// redelivered job start it again. Other errors are returned at once.
func resend(ctx context.Context, send func(context.Context) error) error {
	backoff := &Backoff{Base: 50 * time.Millisecond, Cap: time.Second}
	for {
		err := send(ctx)
		if !transient(err) {
			return err
		}
		t := time.NewTimer(backoff.Next())
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transient reports whether the gateway may take the same command a moment later: it pushes
// back or is unavailable. A message over the gateway's size limit is RESOURCE_EXHAUSTED too,
// but sending it again cannot help.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable:
		return true
	case codes.ResourceExhausted:
		return !tooLarge(err)
	}
	return false
}

// tooLarge reports a message over gRPC's size limit (grpc-go: "message larger than max";
// grpc-java, Zeebe's gateway: "message exceeds maximum size").
func tooLarge(err error) bool {
	msg := strings.ToLower(status.Convert(err).Message())
	return strings.Contains(msg, "larger than max") || strings.Contains(msg, "exceeds maximum size")
}

// jobGone reports that the job is not this worker's to answer any more: it does not exist
// (completed, cancelled, timed out and taken) or is not in a state that takes the command.
func jobGone(err error) bool {
	c := status.Code(err)
	return c == codes.NotFound || c == codes.FailedPrecondition
}

// refused reports a command the gateway (or the client, before sending) will never take as it
// is: anything but success, backpressure, a lost connection, a job gone or an ended context.
func refused(err error) bool {
	if err == nil || transient(err) || jobGone(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded:
		return false
	}
	return true
}

// handBack fails a job the worker will not run, retries unchanged, activatable again after
// backoff.
func (w *Worker) handBack(j entities.Job, backoff time.Duration, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.Gateway.NewFailJobCommand().JobKey(j.Key).Retries(j.Retries).RetryBackoff(backoff).ErrorMessage(why).Send(ctx); err != nil {
		w.Log.Warn().Int64("job_key", j.Key).Err(gatewayError(err)).Msg("handing a job back failed; it returns after its timeout")
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// gatewayError shortens a gRPC error for a log line.
func gatewayError(err error) error {
	if s, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %s", s.Code(), s.Message())
	}
	return err
}

// PublishMessage publishes a message (for the callback receiver): the one adapter stays the
// only code that talks to Zeebe. A message whose id is still buffered gives ErrMessageExists.
func (w *Worker) PublishMessage(ctx context.Context, m Message) error {
	cmd, err := w.Gateway.NewPublishMessageCommand().MessageName(m.Name).CorrelationKey(m.CorrelationKey).
		MessageId(m.ID).TimeToLive(m.TTL).VariablesFromMap(orEmpty(m.Variables))
	if err != nil {
		return fmt.Errorf("message variables: %w", err)
	}
	if _, err := cmd.Send(ctx); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return ErrMessageExists
		}
		return fmt.Errorf("publishing message %s: %w", m.Name, gatewayError(err))
	}
	return nil
}
