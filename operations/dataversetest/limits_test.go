package dataversetest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	// Hold 52 requests open inside the emulator with a long delay.
	s.Inject(Fault{Op: OpGetFlowSession, Count: DefaultConcurrentRequests, Delay: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range DefaultConcurrentRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			callCtx(ctx, t, s, "GET", sessionPath(otherWFID), staticToken, nil)
		}()
	}
	eventually(t, "52 requests in flight", func() bool { return s.InFlight() == DefaultConcurrentRequests })

	a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("53rd concurrent request: %d %s", a.status, a.body)
	}
	if code, msg := a.odata(t); code != CodeConcurrencyLimit || msg != "Number of concurrent requests exceeded the limit of 52." {
		t.Errorf("error = %q %q", code, msg)
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	// Another caller has its own budget.
	s2 := call(t, s, "POST", runPath(wfID), "", nil)
	if s2.status != 401 {
		t.Errorf("unauthenticated request during the limit: %d", s2.status)
	}

	cancel()
	wg.Wait()
	eventually(t, "the held requests to end", func() bool { return s.InFlight() == 0 })
	if a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil); a.status != 404 {
		t.Errorf("after the held requests ended: %d", a.status)
	}
}

func TestRequestsLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Tokens: []string{staticToken, "other-token"}, Limits: Limits{Requests: 3}})
	for i := range 3 {
		a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil)
		if a.status != 404 {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
		if got, want := a.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"), strconv.Itoa(2-i); got != want {
			t.Errorf("request %d: burst remaining %q, want %s", i+1, got, want)
		}
		clock.Add(10 * time.Second)
	}
	a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil)
	if a.status != 429 {
		t.Fatalf("4th request: %d", a.status)
	}
	if code, msg := a.odata(t); code != CodeRequestsLimit || msg != "Number of requests exceeded the limit of 3 over time window of 300 seconds." {
		t.Errorf("error = %q %q", code, msg)
	}
	if ra := a.header.Get("Retry-After"); ra != "270" {
		t.Errorf("Retry-After = %q, want 270 (the oldest request leaves the window then)", ra)
	}
	if a := call(t, s, "GET", sessionPath(otherWFID), "other-token", nil); a.status != 404 {
		t.Errorf("another caller is limited too: %d", a.status)
	}
	clock.Add(270 * time.Second)
	if a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil); a.status != 404 {
		t.Errorf("after Retry-After: %d", a.status)
	}
}

func TestExecutionTimeLimit(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Limits: Limits{ExecutionTime: 20 * time.Millisecond}})
	s.Inject(Fault{Op: OpGetFlowSession, Delay: 30 * time.Millisecond})
	if a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil); a.status != 404 {
		t.Fatalf("slow request: %d", a.status)
	}
	a := call(t, s, "GET", sessionPath(otherWFID), staticToken, nil)
	if a.status != 429 {
		t.Fatalf("after 30 ms of a 20 ms budget: %d", a.status)
	}
	code, msg := a.odata(t)
	if code != CodeExecutionTimeLimit || msg != "Combined execution time of incoming requests exceeded limit of 20  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later." {
		t.Errorf("error = %q %q", code, msg)
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 299 || ra > 300 {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
}

// TestTriggerLimit is the 429 answer (Throttle429); the default, a failed run,
// is TestFidelity_U1_ThrottledRunFails.
func TestTriggerLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Limits: Limits{TriggersPerMinute: 2, TriggerThrottle: Throttle429}})
	run := func(conn string) answer {
		return call(t, s, "POST", runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": conn})
	}
	for i := range 2 {
		if a := run("c1"); a.status != 200 {
			t.Fatalf("trigger %d: %d", i+1, a.status)
		}
		clock.Add(15 * time.Second)
	}
	a := run("c1")
	if a.status != 429 {
		t.Fatalf("3rd trigger in a minute: %d %s", a.status, a.body)
	}
	if code, _ := a.odata(t); code != CodeTriggerLimit {
		t.Errorf("code = %q", code)
	}
	if ra := a.header.Get("Retry-After"); ra != "30" {
		t.Errorf("Retry-After = %q, want 30", ra)
	}
	if a := run("c2"); a.status != 200 {
		t.Errorf("another connection: %d", a.status)
	}
	clock.Add(30 * time.Second)
	if a := run("c1"); a.status != 200 {
		t.Errorf("after Retry-After: %d", a.status)
	}
	if n := len(s.Sessions()); n != 4 {
		t.Errorf("%d runs, want 4 (the refused trigger makes none)", n)
	}
}

func TestLimitsOff(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Limits: Limits{Requests: -1, ExecutionTime: -1, Concurrent: -1, TriggersPerMinute: -1}})
	for range 5 {
		if a := call(t, s, "POST", runPath(wfID), staticToken, map[string]any{"runMode": "attended", "connectionName": "c"}); a.status != 200 {
			t.Fatalf("with limits off: %d %s", a.status, a.body)
		} else if a.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests") != "" {
			t.Errorf("a remaining-requests header without a limit")
		}
	}
}
