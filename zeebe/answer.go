package zeebe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/secrets"
)

// answer sends the command for the handler's result and names the outcome. A job whose context
// was cancelled before the handler returned an error is answered by the cancellation's cause.
func (w *Worker) answer(ctx context.Context, job connector.Job, res connector.Result, err error) (string, error) {
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mayHave *OutcomeUnknown
	cause := context.Cause(ctx)
	switch {
	case err == nil:
		cmd, cerr := w.Gateway.NewCompleteJobCommand().JobKey(job.Key).VariablesFromMap(w.Secrets.Map(zeebeNumbers(orEmpty(res.Variables)).(map[string]any)))
		if cerr != nil {
			return w.failPermanently(cctx, job, fmt.Errorf("output variables: %w", cerr))
		}
		return w.deliver(cctx, job, "completed", "complete the job", func(ctx context.Context) error { _, err := cmd.Send(ctx); return err })
	case errors.As(cause, &mayHave):
		// The held request may have been done: an incident, never a blind retry.
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
	d := scrubDecision(w.Secrets, connector.Decide(err, job.Retries))
	if d.Kind == "bpmn-error" {
		cmd := w.Gateway.NewThrowErrorCommand().JobKey(job.Key).ErrorCode(d.Code).ErrorMessage(w.message(d.Message))
		send := func(ctx context.Context) error { _, err := cmd.Send(ctx); return err }
		if len(d.Variables) > 0 {
			c, cerr := cmd.VariablesFromMap(zeebeNumbers(d.Variables).(map[string]any))
			if cerr != nil {
				return w.failPermanently(cctx, job, fmt.Errorf("BPMN error %s: variables: %w", d.Code, cerr))
			}
			send = func(ctx context.Context) error { _, err := c.Send(ctx); return err }
		}
		return w.deliver(cctx, job, "bpmn-error", "throw the BPMN error "+d.Code, send)
	}
	return w.fail(cctx, job, d)
}

func (w *Worker) failPermanently(ctx context.Context, job connector.Job, err error) (string, error) {
	return w.fail(ctx, job, scrubDecision(w.Secrets, connector.Decide(connector.Permanent(err), job.Retries)))
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

func (w *Worker) fail(ctx context.Context, job connector.Job, d connector.Decision) (string, error) {
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
func (w *Worker) deliver(ctx context.Context, job connector.Job, outcome, what string, send func(context.Context) error) (string, error) {
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
	pauses := &backoff.Backoff{Base: 50 * time.Millisecond, Cap: time.Second}
	for {
		err := send(ctx)
		if !transient(err) {
			return err
		}
		t := time.NewTimer(pauses.Next())
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

// scrubDecision removes every held secret from what a FailJob or ThrowError command carries
// besides its message (Worker.message scrubs that): the error code and the variables.
func scrubDecision(live *secrets.Registry, d connector.Decision) connector.Decision {
	d.Code = live.Text(d.Code)
	d.Variables = live.Map(d.Variables)
	return d
}
