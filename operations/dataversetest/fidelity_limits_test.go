package dataversetest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The fidelity suite: service-protection section of the audit. When a limit
// trips exactly is not asserted (rows 63 and 64 allow a client to go over for a
// while): each test sends until the limit answers, within a bound.

// untilLimited sends GETs as token until one is answered 429 (at most max).
func untilLimited(t *testing.T, s *Server, token string, max int) answer {
	t.Helper()
	for range max {
		a := call(t, s, http.MethodGet, sessionPath(otherWFID), token, nil)
		if a.status == http.StatusTooManyRequests {
			return a
		}
	}
	t.Fatalf("no 429 after %d requests", max)
	return answer{}
}

// Row 59: the limits are evaluated per user: another caller is unaffected.
func TestFidelity_Row59_LimitsPerCaller(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Tokens: []string{staticToken, "other-token"}, Limits: Limits{Requests: 3}})
	untilLimited(t, s, staticToken, 30)
	if a := call(t, s, http.MethodGet, sessionPath(otherWFID), "other-token", nil); a.status != http.StatusNotFound {
		t.Errorf("another static token: %d, want its own budget (404 for the unknown run)", a.status)
	}
	tok := issueToken(t, s)
	if a := call(t, s, http.MethodGet, sessionPath(otherWFID), tok, nil); a.status != http.StatusNotFound {
		t.Errorf("a client's token: %d, want its own budget", a.status)
	}
}

// Row 60: 6000 requests per 5-minute sliding window, then 429 0x80072322
// "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
func TestFidelity_Row60_RequestsLimit(t *testing.T) {
	t.Parallel()
	if DefaultRequestsPerWindow != 6000 || DefaultLimitWindow != 5*time.Minute {
		t.Errorf("defaults %d per %v, want 6000 per 5m", DefaultRequestsPerWindow, DefaultLimitWindow)
	}
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Limits: Limits{Requests: 4}})
	a := untilLimited(t, s, staticToken, 40)
	wantErr(t, "requests limit", a, http.StatusTooManyRequests, CodeRequestsLimit, "Number of requests exceeded the limit of 4 over time window of 300 seconds.")
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want seconds", a.header.Get("Retry-After"))
	}
	clock.Add(DefaultLimitWindow + time.Hour) // the window slides past every request
	if a := call(t, s, http.MethodGet, sessionPath(otherWFID), staticToken, nil); a.status != http.StatusNotFound {
		t.Errorf("after the window: %d", a.status)
	}
}

// Row 61: 20 minutes of combined execution time per window, then 429 0x80072321
// with the documented message.
func TestFidelity_Row61_ExecutionTimeLimit(t *testing.T) {
	t.Parallel()
	if DefaultExecutionTime != 20*time.Minute {
		t.Errorf("DefaultExecutionTime = %v, want 20m", DefaultExecutionTime)
	}
	s := start(t, Options{Limits: Limits{ExecutionTime: 10 * time.Millisecond}})
	s.Inject(Fault{Op: OpGetFlowSession, Delay: 15 * time.Millisecond}) // one slow request spends the budget
	a := untilLimited(t, s, staticToken, 40)
	wantErr(t, "execution time", a, http.StatusTooManyRequests, CodeExecutionTimeLimit,
		"Combined execution time of incoming requests exceeded limit of 10  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.")
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q, want seconds", a.header.Get("Retry-After"))
	}
}

// Row 62: 52 concurrent requests; one more is refused at once with 429 0x80072326.
func TestFidelity_Row62_ConcurrencyLimit(t *testing.T) {
	t.Parallel()
	if DefaultConcurrentRequests != 52 {
		t.Errorf("DefaultConcurrentRequests = %d, want 52", DefaultConcurrentRequests)
	}
	s := start(t, Options{Limits: Limits{Concurrent: 2}})
	s.Inject(Fault{Op: OpGetFlowSession, Count: 2, Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			callCtx(ctx, t, s, http.MethodGet, sessionPath(otherWFID), staticToken, nil)
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "2 requests in flight", func() bool { return s.InFlight() == 2 })
	a := call(t, s, http.MethodGet, sessionPath(otherWFID), staticToken, nil)
	wantErr(t, "third concurrent request", a, http.StatusTooManyRequests, CodeConcurrencyLimit, "Number of concurrent requests exceeded the limit of 2.")
	cancel()
	wg.Wait()
	eventually(t, "the held requests to end", func() bool { return s.InFlight() == 0 })
	if a := call(t, s, http.MethodGet, sessionPath(otherWFID), staticToken, nil); a.status != http.StatusNotFound {
		t.Errorf("after the held requests: %d", a.status)
	}
}

// Row 66: x-ms-ratelimit-burst-remaining-xrm-requests is an integer, per caller.
func TestFidelity_Row66_BurstHeader(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Tokens: []string{staticToken, "other-token"}})
	remaining := func(token string) int {
		a := call(t, s, http.MethodGet, sessionPath(otherWFID), token, nil)
		n, err := strconv.Atoi(a.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"))
		if err != nil {
			t.Fatalf("burst header %q is not an integer", a.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"))
		}
		return n
	}
	first := remaining(staticToken)
	if first <= 0 || first > DefaultRequestsPerWindow {
		t.Errorf("first answer: %d remaining", first)
	}
	for range 3 {
		remaining(staticToken)
	}
	if after := remaining(staticToken); after >= first {
		t.Errorf("remaining went from %d to %d after 4 more requests", first, after)
	}
	if other := remaining("other-token"); other != first {
		t.Errorf("another caller's first answer: %d remaining, want %d (its own budget)", other, first)
	}
}

// Row 20: up to 70 desktop flow runs per minute for every connection. The
// behaviour above the limit (part 2, U1) is pinned by TestFidelity_U1_ThrottledRunFails,
// which this runs under the row's name.
func TestFidelity_Row20_SeventyRunsPerMinute(t *testing.T) {
	t.Parallel()
	if DefaultTriggersPerMinute != 70 {
		t.Errorf("DefaultTriggersPerMinute = %d, want 70", DefaultTriggersPerMinute)
	}
	TestFidelity_U1_ThrottledRunFails(t)
}
