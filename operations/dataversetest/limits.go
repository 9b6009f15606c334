package dataversetest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// usage is one caller's service-protection account on one web server.
type usage struct {
	inflight int
	requests []time.Time // accepted requests, oldest first (emulator clock)
	exec     []execSpan  // handling time of finished requests, oldest first
	// penalty: after the requests or execution-time limit tripped, every request
	// is refused until blockedUntil; one sent meanwhile extends it by step.
	blockedUntil time.Time
	step         time.Duration
	refusal      *odataError
}

type execSpan struct {
	at time.Time
	d  time.Duration
}

func (u *usage) prune(now time.Time, window time.Duration) {
	cut := now.Add(-window)
	i := 0
	for i < len(u.requests) && !u.requests[i].After(cut) {
		i++
	}
	u.requests = u.requests[i:]
	j := 0
	for j < len(u.exec) && !u.exec[j].at.After(cut) {
		j++
	}
	u.exec = u.exec[j:]
}

func (u *usage) execTotal() time.Duration {
	var t time.Duration
	for _, s := range u.exec {
		t += s.d
	}
	return t
}

// retrySeconds rounds a wait up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// admit applies the concurrency, request-count and execution-time limits to
// one request of caller on a web server (account = usageKey). On success the
// request is counted and in flight; the caller must call release with the
// request's handling time.
//
// A caller refused by the requests or execution-time limit is refused until
// the window lets it in again (Retry-After); each request it sends before
// then extends that wait by the first Retry-After, up to MaxPenalty, so
// Retry-After grows for clients that keep sending and stays for those that wait.
func (e *Emulator) admit(account string) (release func(time.Duration), _ *odataError) {
	l := e.opts.Limits
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.usage[account]
	if u == nil {
		u = &usage{}
		e.usage[account] = u
	}
	u.prune(now, l.Window)
	if now.Before(u.blockedUntil) {
		u.blockedUntil = minTime(u.blockedUntil.Add(u.step), now.Add(l.MaxPenalty))
		err := *u.refusal
		err.retryAfter = retrySeconds(u.blockedUntil.Sub(now))
		return nil, &err
	}
	if l.Concurrent > 0 && u.inflight >= l.Concurrent {
		err := newError(http.StatusTooManyRequests, CodeConcurrencyLimit, fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", l.Concurrent))
		err.retryAfter = retryAfterConcurrencySec
		return nil, err
	}
	if l.Requests > 0 && len(u.requests) >= l.Requests {
		err := newError(http.StatusTooManyRequests, CodeRequestsLimit, fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", l.Requests, int(l.Window.Seconds())))
		return nil, u.block(err, u.requests[len(u.requests)-l.Requests].Add(l.Window).Sub(now), now)
	}
	if l.ExecutionTime > 0 {
		if total := u.execTotal(); total >= l.ExecutionTime {
			// Wait until enough spans age out to bring the total under the limit.
			at := now
			for _, s := range u.exec {
				total -= s.d
				at = s.at
				if total < l.ExecutionTime {
					break
				}
			}
			err := newError(http.StatusTooManyRequests, CodeExecutionTimeLimit, fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %s  milliseconds over time window of %d seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", thousands(l.ExecutionTime.Milliseconds()), int(l.Window.Seconds())))
			return nil, u.block(err, at.Add(l.Window).Sub(now), now)
		}
	}
	u.inflight++
	u.requests = append(u.requests, now)
	return func(d time.Duration) {
		e.mu.Lock()
		defer e.mu.Unlock()
		u.inflight--
		u.exec = append(u.exec, execSpan{at: e.now(), d: d})
	}, nil
}

// block starts a penalty of wait (rounded up to whole seconds, as Retry-After
// says it) and returns the refusal with its Retry-After.
func (u *usage) block(err *odataError, wait time.Duration, now time.Time) *odataError {
	secs := retrySeconds(wait)
	u.step = time.Duration(secs) * time.Second
	u.blockedUntil = now.Add(u.step)
	u.refusal = err
	err.retryAfter = secs
	return err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// setRateHeaders sets Dataverse's debugging headers of the remaining budget.
func (e *Emulator) setRateHeaders(w http.ResponseWriter, account string) {
	l := e.opts.Limits
	e.mu.Lock()
	var reqs int
	var exec time.Duration
	if u := e.usage[account]; u != nil {
		reqs, exec = len(u.requests), u.execTotal()
	}
	e.mu.Unlock()
	if l.Requests > 0 {
		w.Header().Set("x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(max(l.Requests-reqs, 0)))
	}
	if l.ExecutionTime > 0 {
		w.Header().Set("x-ms-ratelimit-time-remaining-xrm-requests", secondsRemaining(max(l.ExecutionTime-exec, 0)))
	}
}

// admitTrigger applies the per-connection run limit: it counts the trigger
// when it is within the limit. Above it, the answer is a 429 (Throttle429) or
// nil with throttled true: the run is to fail as throttled (ThrottleFailedRun).
// A throttled trigger is not counted.
func (e *Emulator) admitTrigger(connection string) (throttled bool, _ *odataError) {
	limit := e.opts.Limits.TriggersPerMinute
	if limit <= 0 {
		return false, nil
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	times := e.triggers[connection]
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(times) && !times[i].After(cut) {
		i++
	}
	times = times[i:]
	e.triggers[connection] = times
	if len(times) < limit {
		e.triggers[connection] = append(times, now)
		return false, nil
	}
	if e.opts.Limits.TriggerThrottle != Throttle429 {
		return true, nil
	}
	err := newError(http.StatusTooManyRequests, CodeTriggerLimit, fmt.Sprintf("Rate limit exceeded: at most %d desktop flow runs per minute are allowed per connection. Try again later.", limit))
	err.retryAfter = retrySeconds(times[len(times)-limit].Add(time.Minute).Sub(now))
	return true, err
}

// throttledRunMessage is the errormessage of a run that failed as throttled (ours).
func throttledRunMessage(limit int) string {
	return fmt.Sprintf("The desktop flow run was throttled: more than %d runs per minute were requested on its connection. Spread the runs over more connections or over time.", limit)
}

// thousands formats n with comma separators, as Dataverse's messages do.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// secondsRemaining formats a duration as Dataverse's time-remaining header
// does: seconds with two decimals and comma thousands separators ("1,200.00").
func secondsRemaining(d time.Duration) string {
	cents := d.Milliseconds() / 10
	return fmt.Sprintf("%s.%02d", thousands(cents/100), cents%100)
}
