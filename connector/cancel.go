package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/operations"
)

// MaxCancelWait bounds how long cancelFlowRun waits for an accepted cancel to take effect.
const MaxCancelWait = 2 * time.Minute

// cancelPause is the first pause between the status reads that follow a cancel.
var cancelPause = 500 * time.Millisecond

// cancelRun sends CancelDesktopFlowRun and answers once the cancel has taken effect. Dataverse
// accepts a cancel (204) and the run leaves Waiting or Running some time later, so the job reads
// the run's status until it has ended (Cancelled, or the end it reached first): a status read
// after the job then sees that end. The answer is Dataverse's answer to the cancel.
//
// A cancel refused with 400 or 409 for a run that has already ended is answered the same way
// (the run no longer runs; the refusal is the response, for the result expression); refused for
// a run that has not ended, it fails as before. A run still not ended after MaxCancelWait (or
// the job's deadline) completes the job with a warning: the cancel was accepted.
func (h *Handler) cancelRun(ctx context.Context, job Job, hd headers, b *bound) (*operations.Response, string, error) {
	res, err := h.send(ctx, job, hd, b, b.call)
	var he *operations.HTTPError
	refused := errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusConflict)
	if err != nil && !refused {
		return nil, "", err
	}
	_, org, id, ok := operations.Recognize(b.call.Method, b.call.URL)
	if !ok {
		return res, "", err
	}
	if refused {
		res = &operations.Response{Status: he.Status, Header: he.Header, Body: he.Body}
	}
	stop := time.Now().Add(MaxCancelWait)
	if d := job.deadline().Add(-cancelMargin); d.Before(stop) {
		stop = d
	}
	pauses := &backoff.Backoff{Min: cancelPause, Base: 2 * cancelPause, Factor: 1.5, Cap: 5 * time.Second}
	for {
		st, serr := h.send(ctx, job, hd, b, operations.Status(org, id))
		if serr != nil {
			if refused {
				return nil, "", err
			}
			return nil, "", fmt.Errorf("the cancel was accepted; reading the run's status after it: %w", serr)
		}
		row, _ := st.Body.(map[string]any)
		code, _ := row["statuscode"].(int64)
		if operations.Terminal(int(code)) {
			return res, "", nil
		}
		if refused {
			return nil, "", err // refused for a run that still runs
		}
		pause := pauses.Next()
		if time.Now().Add(pause).After(stop) {
			return res, fmt.Sprintf("the cancel of run %s was accepted, but the run was still %s when the job answered", id, operations.StatusName(int(code))), nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", ctx.Err()
		case <-t.C:
		}
	}
}

// cancelMargin is left before the job's deadline when cancelFlowRun stops waiting.
const cancelMargin = 5 * time.Second
