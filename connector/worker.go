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

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
// streaming where the gateway offers it), runs each with a context bound to the job's deadline,
// recovers panics, and answers with Complete, Fail or ThrowError.
type Worker struct {
	Gateway        Gateway
	Handler        JobHandler
	Types          []string
	Name           string
	FetchVariables []string
	MaxJobsActive  int
	JobTimeout     time.Duration
	RequestTimeout time.Duration // long-polling request timeout
	PollInterval   time.Duration // pause after an empty poll while a stream is open
	Streaming      string        // "auto" (by gateway version), "true", "false"
	Grace          time.Duration // how long in-flight jobs may finish at shutdown
	Log            zerolog.Logger
	Metrics        *Metrics

	slots    chan struct{}
	inflight sync.WaitGroup
	ready    atomic.Bool
	draining atomic.Bool
}

// Ready reports whether the gateway answers and the worker is taking jobs.
func (w *Worker) Ready() bool { return w.ready.Load() && !w.draining.Load() }

// Run activates and handles jobs until ctx ends, then drains: in-flight jobs get Grace to
// finish, the rest are handed back with their retries unchanged. It returns nil after a clean drain.
func (w *Worker) Run(ctx context.Context) error {
	if w.MaxJobsActive <= 0 {
		w.MaxJobsActive = 32
	}
	w.slots = make(chan struct{}, w.MaxJobsActive)
	stream := w.waitForGateway(ctx)
	if ctx.Err() != nil {
		return nil
	}

	// Jobs run under jobsCtx, which outlives ctx by the grace period.
	jobsCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var loops sync.WaitGroup
	for _, t := range w.Types {
		loops.Add(1)
		go func() { defer loops.Done(); w.poll(ctx, jobsCtx, t, stream) }()
		if stream {
			loops.Add(1)
			go func() { defer loops.Done(); w.stream(ctx, jobsCtx, t) }()
		}
	}
	<-ctx.Done()
	w.draining.Store(true)
	w.Log.Info().Dur("grace", w.Grace).Msg("stopping: no new jobs; waiting for in-flight jobs")
	loops.Wait()
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	t := time.NewTimer(w.Grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.Log.Warn().Msg("grace period over: handing unfinished jobs back with their retries unchanged")
		cancelJobs()
		<-done
	}
	w.Log.Info().Msg("stopped")
	return nil
}

// waitForGateway asks for the topology until the gateway answers, backing off, with one log
// line per failure streak; it decides whether to stream.
func (w *Worker) waitForGateway(ctx context.Context) bool {
	backoff := newBackoff()
	for failures := 0; ; failures++ {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		topo, err := w.Gateway.NewTopologyCommand().Send(rctx)
		cancel()
		if err == nil {
			w.ready.Store(true)
			version := topo.GetGatewayVersion()
			stream := streamingFor(w.Streaming, version)
			w.Log.Info().Str("gateway_version", version).Bool("streaming", stream).Msg("connected to the Zeebe gateway")
			return stream
		}
		if ctx.Err() != nil {
			return false
		}
		d := backoff.next()
		if failures == 0 || failures%10 == 0 {
			ev := w.Log.Error().Err(gatewayError(err)).Dur("retry_in", d).Int("attempt", failures+1)
			if strings.Contains(err.Error(), "access token") {
				ev = ev.Str("hint", "the authorization server refused the gateway credentials: check ZEEBE_CLIENT_ID, ZEEBE_CLIENT_SECRET, ZEEBE_AUTHORIZATION_SERVER_URL and ZEEBE_TOKEN_AUDIENCE")
			}
			ev.Msg("Zeebe gateway not reachable")
		}
		sleep(ctx, d)
	}
}

// streamingFor decides on job streaming: the gateway offers it from 8.4 on.
func streamingFor(setting, version string) bool {
	switch strings.ToLower(setting) {
	case "true", "on", "yes", "1":
		return true
	case "false", "off", "no", "0":
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 8 || (major == 8 && minor >= 4)
}

// poll long-polls for jobs of one type while there are free slots.
func (w *Worker) poll(ctx, jobsCtx context.Context, jobType string, streaming bool) {
	backoff := newBackoff()
	failures := 0
	for ctx.Err() == nil {
		// Without a stream, slots are reserved before polling, so a poll never activates more
		// than the worker can run. With a stream, reserving them would make pushed jobs wait
		// behind the open poll: the poll asks for what is free now and each job it returns
		// takes a slot as it arrives, as streamed jobs do.
		var n int
		if streaming {
			if n = cap(w.slots) - len(w.slots); n <= 0 {
				sleep(ctx, w.PollInterval)
				continue
			}
		} else if n = w.acquire(ctx); n == 0 {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, w.pollTimeout(streaming))
		jobs, err := w.Gateway.NewActivateJobsCommand().JobType(jobType).MaxJobsToActivate(int32(n)).
			Timeout(w.JobTimeout).WorkerName(w.Name).FetchVariables(w.FetchVariables...).
			Send(rctx)
		cancel()
		if streaming {
			for _, j := range jobs {
				if w.acquire1(ctx) {
					w.dispatch(jobsCtx, j)
				} else {
					w.handBack(j, "worker is shutting down")
				}
			}
		} else {
			w.release(n - len(jobs))
			for _, j := range jobs {
				w.dispatch(jobsCtx, j)
			}
		}
		if err != nil && ctx.Err() == nil && !isDeadline(err) {
			w.ready.Store(false)
			d := backoff.next()
			if failures == 0 || failures%10 == 0 {
				w.Log.Error().Err(gatewayError(err)).Str("job_type", jobType).Dur("retry_in", d).Msg("activating jobs failed")
			}
			failures++
			sleep(ctx, d)
			continue
		}
		if failures > 0 {
			w.Log.Info().Str("job_type", jobType).Msg("gateway reachable again")
		}
		failures = 0
		backoff.reset()
		w.ready.Store(true)
		if len(jobs) == 0 && streaming {
			sleep(ctx, w.PollInterval)
		}
	}
}

// pollTimeout is the long-polling timeout. While a stream is open, polling only picks up jobs
// the stream missed (a job yielded back by a stream that was still registering does not wake a
// long poll), so it polls in short rounds instead of waiting out a long poll.
func (w *Worker) pollTimeout(streaming bool) time.Duration {
	if streaming {
		return min(w.RequestTimeout, 2*time.Second)
	}
	return w.RequestTimeout
}

// stream receives pushed jobs; a gateway without streaming (UNIMPLEMENTED) ends it, leaving polling.
func (w *Worker) stream(ctx, jobsCtx context.Context, jobType string) {
	backoff := newBackoff()
	failures := 0
	for ctx.Err() == nil {
		ch := make(chan entities.Job)
		done := make(chan error, 1)
		opened := time.Now()
		go func() {
			done <- w.Gateway.NewStreamJobsCommand().JobType(jobType).Consumer(ch).Timeout(w.JobTimeout).
				WorkerName(w.Name).FetchVariables(w.FetchVariables...).Send(ctx)
		}()
		var err error
		delivered := false
	recv:
		for {
			select {
			case j := <-ch:
				delivered = true
				if w.acquire1(ctx) {
					w.dispatch(jobsCtx, j)
				} else {
					w.handBack(j, "worker is shutting down")
				}
			case err = <-done:
				break recv
			}
		}
		if ctx.Err() != nil {
			return
		}
		if status.Code(err) == codes.Unimplemented {
			w.Log.Warn().Str("job_type", jobType).Msg("the gateway does not offer job streaming; polling only")
			return
		}
		// A stream that worked (delivered a job, or stayed open for 30 s)
		// starts a new failure streak; within a streak, one line at first and every tenth.
		if delivered || time.Since(opened) > 30*time.Second {
			backoff.reset()
			failures = 0
		}
		d := backoff.next()
		if failures == 0 || failures%10 == 0 {
			w.Log.Warn().Err(gatewayError(err)).Str("job_type", jobType).Dur("retry_in", d).Int("attempt", failures+1).
				Msg("job stream closed; reopening")
		}
		failures++
		sleep(ctx, d)
	}
}

// acquire waits for one free slot, then takes what else is free. It returns 0 when ctx ends.
func (w *Worker) acquire(ctx context.Context) int {
	if !w.acquire1(ctx) {
		return 0
	}
	n := 1
	for n < w.MaxJobsActive {
		select {
		case w.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (w *Worker) acquire1(ctx context.Context) bool {
	select {
	case w.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *Worker) release(n int) {
	for i := 0; i < n; i++ {
		<-w.slots
	}
}

// dispatch runs a job that holds a slot.
func (w *Worker) dispatch(jobsCtx context.Context, j entities.Job) {
	w.inflight.Add(1)
	w.Metrics.activated(j.Type)
	go func() {
		defer w.inflight.Done()
		defer w.release(1)
		w.run(jobsCtx, j)
	}()
}

type opKey struct{}

// SetOperation records the job's operation for its log line and metrics.
func SetOperation(ctx context.Context, op string) {
	if p, ok := ctx.Value(opKey{}).(*string); ok {
		*p = op
	}
}

func (w *Worker) run(jobsCtx context.Context, j entities.Job) {
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
	}
	if j.CustomHeaders != "" {
		if err := json.Unmarshal([]byte(j.CustomHeaders), &job.Headers); err != nil {
			job.Headers = nil
		}
	}
	op := ""
	ctx, cancel := context.WithCancel(context.WithValue(jobsCtx, opKey{}, &op))
	defer cancel()
	job.Lease = NewLease(job.Deadline, cancel, func(ctx context.Context, d time.Duration) error {
		_, err := w.Gateway.NewUpdateJobTimeoutCommand().JobKey(job.Key).Timeout(d.Milliseconds()).Send(ctx)
		return err
	})
	defer job.Lease.Stop()
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
	w.Metrics.inFlight(1)
	res, err := w.safeHandle(ctx, job)
	w.Metrics.inFlight(-1)

	outcome, cmdErr := w.answer(jobsCtx, job, res, err)
	if cmdErr != nil {
		outcome = "command-failed" // the broker did not take the answer; the job comes back after its timeout
	}
	dur := time.Since(start)
	w.Metrics.handled(job.Type, op, outcome, dur)
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
		Str("job_type", job.Type).Str("operation", op).
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

// answer sends the command for the handler's result and names the outcome.
func (w *Worker) answer(jobsCtx context.Context, job Job, res Result, err error) (string, error) {
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch {
	case err == nil:
		cmd, cerr := w.Gateway.NewCompleteJobCommand().JobKey(job.Key).VariablesFromMap(orEmpty(res.Variables))
		if cerr != nil {
			return w.failPermanently(cctx, job, fmt.Errorf("output variables: %w", cerr))
		}
		cerr = resend(cctx, func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
		return "completed", cerr
	case jobsCtx.Err() != nil:
		// Shutdown: hand the job back at once, retries unchanged.
		cmd := w.Gateway.NewFailJobCommand().JobKey(job.Key).Retries(job.Retries).
			ErrorMessage("pa-connector shut down before the job finished; it will run again")
		cerr := resend(cctx, func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
		return "handed-back", cerr
	case time.Now().After(job.deadline()) && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		// The job timed out; the broker makes it activatable again on its own.
		return "timed-out", nil
	}
	d := Decide(err, job.Retries)
	if d.Kind == "bpmn-error" {
		cmd := w.Gateway.NewThrowErrorCommand().JobKey(job.Key).ErrorCode(d.Code).ErrorMessage(d.Message)
		var cerr error
		if len(d.Variables) > 0 {
			var c commands.DispatchThrowErrorCommand
			c, cerr = cmd.VariablesFromMap(d.Variables)
			if cerr == nil {
				cerr = resend(cctx, func(ctx context.Context) error { _, err := c.Send(ctx); return err })
			}
		} else {
			cerr = resend(cctx, func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
		}
		return "bpmn-error", cerr
	}
	return w.fail(cctx, job, d)
}

func (w *Worker) failPermanently(ctx context.Context, job Job, err error) (string, error) {
	return w.fail(ctx, job, Decide(Permanent(err), job.Retries))
}

// MaxMessageLength is the longest fail message sent, as Camunda's runtime truncates.
const MaxMessageLength = 6000

func (w *Worker) fail(ctx context.Context, job Job, d Decision) (string, error) {
	msg := d.Message
	if len(msg) > MaxMessageLength {
		msg = msg[:MaxMessageLength]
	}
	cmd := w.Gateway.NewFailJobCommand().JobKey(job.Key).Retries(d.Retries).ErrorMessage(msg)
	if d.Backoff > 0 {
		cmd = cmd.RetryBackoff(d.Backoff)
	}
	var err error
	if len(d.Variables) > 0 {
		var c commands.DispatchFailJobCommand
		if c, err = cmd.VariablesFromMap(d.Variables); err == nil {
			err = resend(ctx, func(ctx context.Context) error { _, err := c.Send(ctx); return err })
		}
	} else {
		err = resend(ctx, func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
	}
	if d.Retries == 0 {
		return "incident", err
	}
	return "failed", err
}

// resend sends a command again while the broker pushes back (RESOURCE_EXHAUSTED) or is briefly
// unavailable, backing off from 50 ms to 1 s, until ctx ends: a refused complete would leave
// the job waiting out its timeout, a refused record of a started run would let a redelivered
// job start it again.
func resend(ctx context.Context, send func(context.Context) error) error {
	pause := 50 * time.Millisecond
	for {
		err := send(ctx)
		switch status.Code(err) {
		case codes.ResourceExhausted, codes.Unavailable:
		default:
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(pause*2, time.Second)
	}
}

// handBack fails a job the worker will not run, retries unchanged.
func (w *Worker) handBack(j entities.Job, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.Gateway.NewFailJobCommand().JobKey(j.Key).Retries(j.Retries).ErrorMessage(why).Send(ctx); err != nil {
		w.Log.Warn().Int64("job_key", j.Key).Err(err).Msg("handing a job back failed; it returns after its timeout")
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// gatewayError shortens a gRPC error for a log line.
func gatewayError(err error) error {
	if s, ok := status.FromError(err); ok {
		return fmt.Errorf("%s: %s", s.Code(), s.Message())
	}
	return err
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = 250 * time.Millisecond
	} else {
		b.d = min(b.d*2, 10*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
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
