package connector

import (
	"context"
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/operations"
)

// waitForCallback is runFlowAndWait's wait when the run reports back by callback: the job does
// not poll. The callback receiver on this replica reads the run's status and outputs once and
// hands that summary over. The job reads the status itself only
//   - at once when it resumes a recorded run (the callback may have come while no worker
//     waited for it: the previous one crashed or timed out), and
//   - every Callbacks.SafetyPoll, in case the callback was lost or landed on another replica.
//
// Meanwhile the job's lease is extended in steps of a third of the job timeout, so a crashed
// worker's job comes back after about one job timeout, not after a safety-poll period.
func (h *Handler) waitForCallback(ctx context.Context, job Job, hd headers, b *bound, id string, resumed bool) (*operations.Response, error) {
	ch, done := h.Callbacks.Await(id)
	defer done()
	answer := func(summary map[string]any) (*operations.Response, error) {
		return &operations.Response{Status: http.StatusOK, Header: http.Header{}, Body: summary}, nil
	}
	poll := func() (map[string]any, error) {
		res, err := h.send(ctx, job, hd, b, operations.Status(b.org, id))
		if err != nil {
			return nil, err
		}
		row, _ := res.Body.(map[string]any)
		if code, _ := row["statuscode"].(int64); !operations.Terminal(int(code)) {
			return nil, nil
		}
		return h.summarize(ctx, job, hd, b, id, row)
	}
	if resumed {
		select {
		case s := <-ch:
			return answer(s)
		default:
		}
		if s, err := poll(); err != nil || s != nil {
			if err != nil {
				return nil, err
			}
			return answer(s)
		}
	}
	step := h.leaseStep()
	nextPoll := time.Now().Add(h.Callbacks.SafetyPoll)
	for {
		wait := max(min(time.Until(nextPoll), step), 0)
		if err := h.keepLease(ctx, job, wait); err != nil {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case s := <-ch:
			t.Stop()
			return answer(s)
		case <-t.C:
		}
		if time.Now().Before(nextPoll) {
			continue
		}
		s, err := poll()
		if err != nil {
			return nil, err
		}
		if s != nil {
			return answer(s)
		}
		nextPoll = time.Now().Add(h.Callbacks.SafetyPoll)
	}
}

// leaseStep is how long a job waiting for a callback sleeps between lease checks.
func (h *Handler) leaseStep() time.Duration {
	timeout := h.JobTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	return max(timeout/3, time.Second)
}
