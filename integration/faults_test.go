//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// faultRun is one batch of instances run against an emulator with faults injected.
type faultRun struct {
	t    *testing.T
	dv   *emulator
	led  *ledger
	w    *worker
	keys []int64
}

func newFaultRun(t *testing.T, cfg map[string]any, process string, env ...string) *faultRun {
	t.Helper()
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/"+process+".bpmn")
	led := newLedger(t, recordsLog)
	w := startWorker(t, append([]string{"SECRET_DV_TOKEN=" + dvToken, "PA_CONNECTOR_LOG_LEVEL=info"}, env...)...)
	return &faultRun{t: t, dv: dv, led: led, w: w}
}

// run starts n instances of processID and waits until each completed or has an incident.
func (r *faultRun) run(processID string, n int, extra map[string]any) []int64 {
	r.t.Helper()
	from := len(r.keys)
	keys := createInstances(r.t, zeebe, processID, n, 8, func(i int) map[string]any {
		v := triggerVars(r.dv, flowOK)
		v["connectionName"] = fmt.Sprintf("fault-conn-%d", from+i)
		for k, x := range extra {
			v[k] = x
		}
		return v
	})
	r.keys = append(r.keys, keys...)
	r.t.Cleanup(func() { r.led.cancelUnfinished(zeebe, keys) })
	r.led.waitEnded(r.t, keys, 90*time.Second+time.Duration(n)*100*time.Millisecond)
	return keys
}

// failures returns the JOB FAILED events of keys.
func (r *faultRun) failures(keys []int64) []jobFailure {
	var out []jobFailure
	for _, k := range keys {
		out = append(out, r.led.failures[k]...)
	}
	return out
}

// A burst of 5xx answers: each job that got one is retried (one retry spent) and completes; a
// burst longer than the task's retries ends in an incident that carries Dataverse's status,
// OData code and message.
func TestDataverse5xxBurst(t *testing.T) {
	const n = 10
	r := newFaultRun(t, emulatorConfig(), "trigger-status")
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": n, "status": 503})
	r.dv.fault(t, map[string]any{"op": "GetFlowSession", "count": n, "status": 500})
	keys := r.run("rel-trigger-status", n, nil)
	completed, incidents := r.led.ended(keys)
	used, failed := r.led.retriesUsed(keys, 3)

	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 3, "status": 502})
	doomed := r.run("rel-trigger-status", 1, nil)
	msg := r.led.incidents[doomed[0]]
	st := r.dv.state(t)
	t.Logf("5xx burst: %d instances, 2×%d faults: completed %d, incidents %d, JOB FAILED %d, retries used %d; "+
		"3×502 on one instance: JOB FAILED retries %v, incident %q; emulator: %s",
		n, n, completed, incidents, failed, used, retriesOf(r.failures(doomed)), msg, statuses(st.Calls))

	if completed != n || failed != 2*n || used != 2*n {
		t.Fatalf("completed %d of %d, JOB FAILED %d, retries used %d: want every instance completed after one failed attempt per task", completed, n, failed, used)
	}
	if got := retriesOf(r.failures(doomed)); fmt.Sprint(got) != "[2 1 0]" {
		t.Fatalf("JOB FAILED retries %v for three 502s in a row, want [2 1 0]", got)
	}
	for _, want := range []string{"HTTP 502", "0x80040216", "An unexpected error occurred"} {
		if !strings.Contains(msg, want) {
			t.Errorf("incident %q should carry %q", msg, want)
		}
	}
	if got := tally(st.Calls, "RunDesktopFlow")[200]; got != n {
		t.Errorf("%d runs started for %d completed instances", got, n)
	}
}

// Connections reset by Dataverse without an answer: a transport error, retried.
func TestDataverseConnectionResets(t *testing.T) {
	const n, resetTriggers = 5, 2
	r := newFaultRun(t, emulatorConfig(), "trigger-status")
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": resetTriggers, "reset": true})
	r.dv.fault(t, map[string]any{"op": "GetFlowSession", "count": n, "reset": true})
	keys := r.run("rel-trigger-status", n, nil)
	completed, incidents := r.led.ended(keys)
	used, failed := r.led.retriesUsed(keys, 3)
	st := r.dv.state(t)
	t.Logf("resets: %d instances, %d resets on triggers, %d on status reads: completed %d, incidents %d, JOB FAILED %d, retries used %d, faults left %d; emulator: %s; e.g. %q",
		n, resetTriggers, n, completed, incidents, failed, used, len(st.Faults), statuses(st.Calls), firstMessage(r.failures(keys)))
	// A reset after the trigger was sent leaves its outcome unknown: an incident, never a second
	// trigger. A reset status read is retried.
	if completed != n-resetTriggers || incidents != resetTriggers {
		t.Fatalf("completed %d, incidents %d; want %d and %d", completed, incidents, n-resetTriggers, resetTriggers)
	}
	for _, f := range r.failures(keys) {
		if f.Retries == 0 && !strings.Contains(f.Message, "a run may have started") {
			t.Errorf("incident %q should say the trigger's outcome is unknown", f.Message)
		}
	}
	if got := tally(st.Calls, "RunDesktopFlow")[200]; got != n-resetTriggers {
		t.Errorf("%d runs started, want %d: no trigger sent twice", got, n-resetTriggers)
	}
}

// Answers slower than the job's connectionTimeoutInSeconds: the request is abandoned and the
// job retried. A status read is harmless to repeat; a trigger whose answer never came may still
// have started a run (Dataverse has no idempotency key): counted here, not hidden.
func TestDataverseSlowerThanConnectionTimeout(t *testing.T) {
	const n, slowTriggers = 5, 2
	r := newFaultRun(t, emulatorConfig(), "trigger-status")
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": slowTriggers, "delay": "3s"})
	r.dv.fault(t, map[string]any{"op": "GetFlowSession", "count": n, "delay": "3s"})
	keys := r.run("rel-trigger-status", n, map[string]any{"connectionTimeoutInSeconds": 1})
	completed, incidents := r.led.ended(keys)
	used, failed := r.led.retriesUsed(keys, 3)
	st := r.dv.state(t)
	runs := tally(st.Calls, "RunDesktopFlow")[200]
	t.Logf("slow answers (3 s, timeout 1 s): %d instances, %d slow triggers, %d slow status reads: completed %d, incidents %d, JOB FAILED %d, retries used %d, runs started %d; emulator: %s; e.g. %q",
		n, slowTriggers, n, completed, incidents, failed, used, runs, statuses(st.Calls), firstMessage(r.failures(keys)))
	// An abandoned trigger may still start a run (here it does): an incident, never a second run.
	if completed != n-slowTriggers || incidents != slowTriggers {
		t.Fatalf("completed %d, incidents %d; want %d and %d", completed, incidents, n-slowTriggers, slowTriggers)
	}
	if runs != n {
		t.Errorf("%d runs started for %d instances, want %d: an abandoned trigger must not be sent again", runs, n, n)
	}
	for _, f := range r.failures(keys) {
		if !strings.Contains(f.Message, "timed out") {
			t.Errorf("a slow answer failed the job with %q, want it to say the request timed out", f.Message)
		}
		if f.Retries == 0 && !strings.Contains(f.Message, "a run may have started") {
			t.Errorf("incident %q should say a run may have started", f.Message)
		}
	}
}

// 429 storms with Retry-After: a wait that fits the job's deadline is waited out in-process
// (no JOB FAILED at all); a longer one hands the job back with its retries unchanged and a
// backoff no shorter than Retry-After. No retry is ever spent on a 429.
func TestDataverse429StormSpendsNoRetries(t *testing.T) {
	r := newFaultRun(t, emulatorConfig(), "trigger-status", "PA_CONNECTOR_JOB_TIMEOUT=5s")
	deploy(t, "integration/testdata/single-task.bpmn")

	// Short Retry-After: waited in-process.
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 5, "status": 429, "retryAfter": 1})
	short := r.run("single-task", 5, nil)
	// Retry-After beyond the job's 5 s lease: handed back.
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": 5, "status": 429, "retryAfter": 8})
	long := r.run("single-task", 5, nil)
	// A storm on the status read, with Dataverse's concurrency-limit error: waits, hand-backs, waits.
	r.dv.fault(t, map[string]any{"op": "GetFlowSession", "count": 12, "status": 429, "retryAfter": 1,
		"code": "0x80072326", "message": "Number of concurrent requests exceeded the limit of 52."})
	storm := r.run("rel-trigger-status", 2, nil)

	st := r.dv.state(t)
	_, metrics := getBody(r.w.HTTP + "/metrics")
	all := append(append(append([]int64{}, short...), long...), storm...)
	completed, incidents := r.led.ended(all)
	used, _ := r.led.retriesUsed(all, 3)
	t.Logf("429s: %d received (%s); waited in-process %s, handed back %s; JOB FAILED: short Retry-After %d, long %d (backoffs %v), storm %d; retries used %d; completed %d of %d, incidents %d",
		tally(st.Calls, "")[429], statuses(st.Calls), metricLabel(metrics, "pa_connector_dataverse_throttled_total", `waited="true"`),
		metricLabel(metrics, "pa_connector_dataverse_throttled_total", `waited="false"`), len(r.failures(short)), len(r.failures(long)),
		backoffsOf(r.failures(long)), len(r.failures(storm)), used, completed, len(all), incidents)

	if completed != len(all) {
		t.Fatalf("%d of %d instances completed, %d incidents", completed, len(all), incidents)
	}
	if got := tally(st.Calls, "")[429]; got != 22 {
		t.Errorf("%d 429 answers, want the 22 injected", got)
	}
	if used != 0 {
		t.Errorf("%d retries spent on 429s, want 0", used)
	}
	if n := len(r.failures(short)); n != 0 {
		t.Errorf("%d JOB FAILED for a 1 s Retry-After that fits the job's deadline, want 0 (waited in-process)", n)
	}
	// A trigger holds its lease extended to cover its call (Lease.Hold, issue 11: the default
	// 20 s connection timeout + 4 s beyond the 5 s job timeout), so an 8 s Retry-After fits
	// and is waited in-process, under the lease the gateway extended.
	if n := len(r.failures(long)); n != 0 {
		t.Errorf("%d JOB FAILED for an 8 s Retry-After that fits the trigger's held lease, want 0 (waited in-process)", n)
	}
	for _, f := range r.failures(all) {
		if f.Retries != 3 || !strings.Contains(f.Message, "429") {
			t.Errorf("JOB FAILED with retries %d and %q, want retries unchanged (3) for a 429", f.Retries, f.Message)
		}
	}
}

// The client-side limiter keeps the worker under Dataverse's 52-concurrent-requests limit
// instead of provoking it: 200 jobs at once, every answer slow (1 s: a thousand of them stay
// under the 20 minutes of combined execution time Dataverse allows in 5 minutes), zero 429s.
func TestClientLimiterStaysUnderConcurrencyLimit(t *testing.T) {
	n := envInt("PA_RELIABILITY_INSTANCES", 150)
	cfg := emulatorConfig()
	cfg["limits"] = map[string]any{"concurrent": 52}
	r := newFaultRun(t, cfg, "single-task", "PA_CONNECTOR_MAX_JOBS_ACTIVE=200")
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": n, "delay": "1s"})

	peak := 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if s, err := emulatorInFlight(r.dv.URL); err == nil && s > peak {
				peak = s
			}
		}
	}()
	began := time.Now()
	keys := r.run("single-task", n, nil)
	took := time.Since(began)
	close(stop)
	<-sampled

	st := r.dv.state(t)
	completed, incidents := r.led.ended(keys)
	used, _ := r.led.retriesUsed(keys, 3)
	t.Logf("concurrency: %d instances, MAX_JOBS_ACTIVE 200, every trigger answered after 1 s: %d requests, %d 429s, peak in flight at the emulator %d (limit 52), retries used %d, completed %d in %s",
		n, len(st.Calls), tally(st.Calls, "")[429], peak, used, completed, took.Round(100*time.Millisecond))
	if completed != n {
		t.Fatalf("%d of %d instances completed, %d incidents", completed, n, incidents)
	}
	if c := tally(st.Calls, "")[429]; c != 0 {
		t.Fatalf("%d answers were 429 (0x80072326): the worker provoked the concurrency limit", c)
	}
	if peak > 52 {
		t.Fatalf("%d requests in flight at once, over Dataverse's 52", peak)
	}
	if peak < 20 {
		t.Errorf("at most %d requests in flight: the test did not load the limiter", peak)
	}
}

// Dataverse also limits the combined execution time of one caller's requests (20 minutes in
// any 5 minutes: 0x80072321). Slow answers at the allowed concurrency reach it within seconds
// (48 requests × 1 s × 300 s ≫ 20 min); the client-side limiter should keep under it too. Here
// with the limit scaled down (5 s of execution in any 10 s) so the test is short.
func TestClientLimiterStaysUnderExecutionTimeLimit(t *testing.T) {
	const n = 60
	cfg := emulatorConfig()
	cfg["limits"] = map[string]any{"executionTime": "5s", "window": "10s"}
	// The worker is told the (scaled-down) limits, as an operator would for an environment whose
	// limits differ from Dataverse's documented ones.
	r := newFaultRun(t, cfg, "single-task", "PA_CONNECTOR_DATAVERSE_LIMITS=executionTime=4s,window=10s")
	r.dv.fault(t, map[string]any{"op": "RunDesktopFlow", "count": n, "delay": "1s"})
	began := time.Now()
	keys := r.run("single-task", n, nil)
	st := r.dv.state(t)
	completed, incidents := r.led.ended(keys)
	used, failed := r.led.retriesUsed(keys, 3)
	throttled := tally(st.Calls, "")[429]
	t.Logf("execution time: %d instances, every trigger answered after 1 s, limit 5 s of execution in 10 s: %d requests, %d 429s (0x80072321), JOB FAILED %d, retries used %d, completed %d in %s",
		n, len(st.Calls), throttled, failed, used, completed, time.Since(began).Round(100*time.Millisecond))
	if completed != n {
		t.Fatalf("%d of %d instances completed, %d incidents", completed, n, incidents)
	}
	if used != 0 {
		t.Errorf("%d retries spent on 429s", used)
	}
	if throttled > 0 {
		t.Errorf("the client-side limiter let %d requests earn 429 0x80072321 (combined execution time)", throttled)
	}
}

func emulatorInFlight(url string) (int, error) {
	code, body := getBody(url + "/_emulator/calls")
	if code != 200 {
		return 0, fmt.Errorf("status %d", code)
	}
	var s struct {
		InFlight int `json:"inFlight"`
	}
	err := json.Unmarshal([]byte(body), &s)
	return s.InFlight, err
}

func retriesOf(fs []jobFailure) []int {
	var out []int
	for _, f := range fs {
		out = append(out, f.Retries)
	}
	return out
}

func backoffsOf(fs []jobFailure) []time.Duration {
	var out []time.Duration
	for _, f := range fs {
		out = append(out, f.RetryBackoff)
	}
	return out
}

func firstMessage(fs []jobFailure) string {
	if len(fs) == 0 {
		return ""
	}
	return fs[0].Message
}

// metricLabel returns the value of a labelled metric in Prometheus text, or "0".
func metricLabel(text, name, label string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return "0"
}
