package connector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/operations"
)

// FailedRunError is the BPMN error code runFlowAndWait throws for a run that ended without
// succeeding, unless the error expression decides otherwise.
const FailedRunError = "DESKTOP_FLOW_FAILED"

// runAndWait triggers a run and waits until it ends (triggerAndWait). A run that Dataverse
// failed as throttled before it started (throttledBeforeStart) is triggered again, after a
// pause, at most MaxThrottledRetriggers times: its script never ran, so the trigger still runs
// it at most once (docs/reliability.md, "Throttled runs"). Each new run is recorded in place of
// the throttled one, so a redelivered job resumes it. After the last one the throttled run is
// the outcome, as any failed run.
func (h *Handler) runAndWait(ctx context.Context, job Job, hd headers, b *bound, vars map[string]any) (*operations.Response, error) {
	pauses := &backoff.Backoff{Min: throttledRunPause, Base: 2 * throttledRunPause, Factor: 2, Cap: time.Minute}
	for n := 0; ; n++ {
		res, err := h.triggerAndWait(ctx, job, hd, b, vars)
		if err != nil || n >= MaxThrottledRetriggers || !throttledBeforeStart(res) {
			return res, err
		}
		summary, _ := res.Body.(map[string]any)
		pause := pauses.Next()
		h.Log.Warn().Int64("job_key", job.Key).Str("flow_session_id", fmt.Sprint(summary["flowSessionId"])).
			Int("retrigger", n+1).Int64("pause_ms", pause.Milliseconds()).
			Msg("the run failed as throttled (DesktopFlowsActionThrottled) before it started; triggering it again")
		if err := h.pause(ctx, job, pause); err != nil {
			return nil, err
		}
		// The throttled run's record is replaced by the next run's.
		vars = maps.Clone(vars)
		delete(vars, RecordedRunVariable)
	}
}

// pause waits d with the job's lease kept for it (keepLease), or until ctx ends.
func (h *Handler) pause(ctx context.Context, job Job, d time.Duration) error {
	if err := h.keepLease(ctx, job, d); err != nil {
		return err
	}
	return sleep(ctx, d)
}

// MaxThrottledRetriggers is how often runFlowAndWait triggers again a run that failed as
// throttled before it started.
const MaxThrottledRetriggers = 5

// throttledRunPause is the first pause before triggering a throttled run again (then doubling,
// with jitter, up to a minute: the per-connection limit counts runs over a sliding minute).
var throttledRunPause = 5 * time.Second

// ThrottledErrorCode is the flowsession errorcode of a run Dataverse failed because too many
// runs used its connection (documented: at most 70 runs per minute per connection).
const ThrottledErrorCode = "DesktopFlowsActionThrottled"

// throttledBeforeStart reports whether a finished run's summary is a run failed as throttled
// that never started (no startedOn): no machine ran its script.
func throttledBeforeStart(res *operations.Response) bool {
	s, _ := res.Body.(map[string]any)
	code, _ := s["statusCode"].(int64)
	return code == 8 && s["errorCode"] == ThrottledErrorCode && s["startedOn"] == nil
}

// triggerAndWait triggers a run (idempotently: a redelivered job resumes the recorded run), reads
// its status with a growing pause until it ends, keeping the job's lease alive, then reads its
// outputs. The answer's body holds the run's summary:
// {flowSessionId, statusCode, statusName, startedOn, completedOn, errorCode, errorMessage, outputs}.
func (h *Handler) triggerAndWait(ctx context.Context, job Job, hd headers, b *bound, vars map[string]any) (*operations.Response, error) {
	trig, err := h.call(ctx, job, hd, b, vars)
	if err != nil {
		return nil, err
	}
	body, _ := trig.Body.(map[string]any)
	id, _ := body["flowsessionId"].(string)
	if !operations.ValidID(id) {
		return nil, Permanentf("RunDesktopFlow answered without a flowsessionId")
	}
	job.waiting() // from here the job waits for its run: it gives its active slot back
	if b.waitMode == WaitCallback {
		replayed := trig.Header.Get("X-Pa-Connector-Replayed") != ""
		return h.waitForCallback(ctx, job, hd, b, id, replayed)
	}
	// Status reads with growing pauses (full jitter between 1 s and a ceiling growing by half
	// each round, up to pollInterval), so that runs started together are not read together.
	pauses := &backoff.Backoff{Min: time.Second, Base: 2 * time.Second, Factor: 1.5, Cap: max(b.pollInterval, time.Second)}
	var row map[string]any
	for {
		res, err := h.send(ctx, job, hd, b, operations.Status(b.org, id))
		if err != nil {
			return nil, err
		}
		row, _ = res.Body.(map[string]any)
		code, _ := row["statuscode"].(int64)
		if operations.Terminal(int(code)) {
			break
		}
		pause := pauses.Next()
		if err := h.pause(ctx, job, pause); err != nil {
			return nil, err
		}
	}
	summary, err := h.summarize(ctx, job, hd, b, id, row)
	if err != nil {
		return nil, err
	}
	return &operations.Response{Status: http.StatusOK, Header: http.Header{}, Body: summary}, nil
}

// summarize turns a finished run's flowsession row into the run's summary, reading its outputs
// when it succeeded.
func (h *Handler) summarize(ctx context.Context, job Job, hd headers, b *bound, id string, row map[string]any) (map[string]any, error) {
	code, _ := row["statuscode"].(int64)
	summary := map[string]any{
		"flowSessionId": id,
		"statusCode":    code,
		"statusName":    operations.StatusName(int(code)),
		"startedOn":     row["startedon"],
		"completedOn":   row["completedon"],
		"errorCode":     row["errorcode"],
		"errorMessage":  row["errormessage"],
		"outputs":       nil,
	}
	if operations.Succeeded(int(code)) {
		out, err := h.send(ctx, job, hd, b, operations.Outputs(b.org, id))
		var he *operations.HTTPError
		switch {
		case err == nil:
			summary["outputs"] = out.Body
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			// A run without outputs: Dataverse has no file to give.
		default:
			return nil, err
		}
	}
	return summary, nil
}

// keepLease extends the job's timeout when the next pause would outlast it. If the gateway
// cannot extend it, the job is handed back (retries unchanged) to resume from the recorded run.
func (h *Handler) keepLease(ctx context.Context, job Job, pause time.Duration) error {
	if err := h.extendLease(ctx, job, pause); err != nil {
		return &RetryError{Err: fmt.Errorf("the run is still going and the job's timeout could not be extended (%v); it resumes the same run when redelivered", err), KeepRetries: true}
	}
	return nil
}

// extendLease extends the job's timeout when the next pause would outlast it; the error is the
// gateway's refusal (ErrNoExtension without a lease).
func (h *Handler) extendLease(ctx context.Context, job Job, pause time.Duration) error {
	timeout := h.JobTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	margin := pause + min(max(timeout/3, time.Second), 30*time.Second)
	if time.Until(job.deadline()) > margin {
		return nil
	}
	if job.Lease == nil {
		return ErrNoExtension
	}
	return job.Lease.Extend(ctx, max(timeout, 2*margin))
}

// failedRun is runFlowAndWait's default outcome for a run that ended without succeeding.
func failedRun(summary map[string]any) error {
	msg, _ := summary["errorMessage"].(string)
	if msg == "" {
		msg = fmt.Sprintf("desktop flow run %v ended with status %v", summary["flowSessionId"], summary["statusName"])
	}
	return &BPMNError{Code: FailedRunError, Message: msg, Variables: map[string]any{
		"flowSessionId": summary["flowSessionId"],
		"statusCode":    summary["statusCode"],
		"statusName":    summary["statusName"],
		"errorCode":     summary["errorCode"],
		"errorMessage":  summary["errorMessage"],
	}}
}
