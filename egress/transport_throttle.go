package egress

import (
	"io"
	"net/http"
	"time"

	"github.com/pa-connector/pa-connector/operations"
)

// throttleMargin is left between the end of an in-process wait on 429 and the job's deadline,
// for the request sent after it.
const throttleMargin = 2 * time.Second

// throttleTransport waits out a 429 in process: it pauses the caller's other requests for
// Retry-After (1 s when the answer names none), waits, and sends the request again, while
// the wait ends before the job's deadline and fewer than maxWaits waits were made. Otherwise
// it returns the 429 as it is: the job is handed back with a backoff and its retries.
type throttleTransport struct {
	next       http.RoundTripper
	maxWaits   int              // default 5
	deadline   func() time.Time // the job's; nil: the request context's
	now        func() time.Time // the clock
	limits     *Limits          // nil: no pause
	identity   string           // the caller Limits pauses
	onThrottle func(time.Duration, bool)
}

func (t *throttleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	maxWaits := t.maxWaits
	if maxWaits <= 0 {
		maxWaits = 5
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		send := req
		if attempt > 0 {
			send = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				send.Body = body
			}
		}
		res, err := t.next.RoundTrip(send)
		if err != nil || res.StatusCode != http.StatusTooManyRequests {
			return res, err
		}
		wait := operations.RetryAfter(res.Header.Get("Retry-After"), t.now())
		if wait <= 0 {
			wait = time.Second
		}
		if t.identity != "" {
			t.limits.Pause(t.identity, wait)
		}
		resendable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		fits := resendable && attempt < maxWaits && t.now().Add(wait+throttleMargin).Before(t.jobDeadline(req))
		if t.onThrottle != nil {
			t.onThrottle(wait, fits)
		}
		if !fits {
			return res, nil
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection carry the resend
		res.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func (t *throttleTransport) jobDeadline(req *http.Request) time.Time {
	if t.deadline != nil {
		return t.deadline()
	}
	d, _ := req.Context().Deadline()
	return d
}
