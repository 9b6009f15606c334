package dataversetest

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Fidelity tests of the dynamic behaviours (issue 15): the per-connection run
// limit (row 20, U1), asynchronous cancel (row 42, U2) and the service
// protection dynamics (rows 63, 64, 65). Each moves a fake clock: no sleeps.

func cancelPath(id string) string {
	return sessionPath(id) + "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun"
}

// Row 20 / U1: above 70 runs per minute on one connection the trigger is
// accepted (200 with a flowsessionId) and its run has failed at once: statuscode
// 8, statecode 0, errorcode DesktopFlowsActionThrottled, no startedon (it never
// ran). The throttled trigger is not counted; other connections are unaffected;
// the minute slides.
func TestFidelity_U1_ThrottledRunFails(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {Duration: time.Second}}})
	body := func(conn string) map[string]any {
		return map[string]any{"runMode": "unattended", "connectionName": conn}
	}
	for i := range DefaultTriggersPerMinute {
		id := trigger(t, s, body("c1"))
		if i == 0 {
			clock.Add(30 * time.Second)
		}
		if row := getSession(t, s, id, ""); row["errorcode"] != nil {
			t.Fatalf("run %d within the limit: errorcode %v", i+1, row["errorcode"])
		}
	}
	id := trigger(t, s, body("c1"))
	row := getSession(t, s, id, "")
	if row["statuscode"] != 8.0 || row["statecode"] != 0.0 || row["errorcode"] != CodeTriggerLimit ||
		row["startedon"] != nil || row["completedon"] == nil || row["errormessage"] == nil {
		t.Fatalf("the 71st run in a minute: %v, want Failed (8/0) with errorcode %s, never started", row, CodeTriggerLimit)
	}
	if row := getSession(t, s, trigger(t, s, body("c2")), ""); row["errorcode"] != nil {
		t.Errorf("another connection's run: errorcode %v", row["errorcode"])
	}
	clock.Add(30 * time.Second) // the first trigger leaves the minute: one more fits
	if row := getSession(t, s, trigger(t, s, body("c1")), ""); row["errorcode"] != nil {
		t.Errorf("after the oldest trigger left the minute: errorcode %v", row["errorcode"])
	}
	if row := getSession(t, s, trigger(t, s, body("c1")), ""); row["errorcode"] != CodeTriggerLimit {
		t.Errorf("the next one in the same minute: errorcode %v, want %s", row["errorcode"], CodeTriggerLimit)
	}
}

// U1, the other answer kept behind Limits.TriggerThrottle: 429 with
// DesktopFlowsActionThrottled and a Retry-After, no run.
func TestFidelity_U1_Throttle429Setting(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Limits: Limits{TriggersPerMinute: 1, TriggerThrottle: Throttle429}})
	trigger(t, s, nil)
	a := call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "conn1"})
	if code, _ := a.odata(t); a.status != http.StatusTooManyRequests || code != CodeTriggerLimit || a.header.Get("Retry-After") != "60" {
		t.Fatalf("with Throttle429: %d %s Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	if n := len(s.Sessions()); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
	if err := (Options{Limits: Limits{TriggerThrottle: "queue"}}).Validate(); err == nil {
		t.Error("an unknown triggerThrottle was accepted")
	}
}

// Row 42 / U2: a cancel is accepted with 204 and takes effect asynchronously:
// the run keeps its status (Running here) for CancelDelay, then is Cancelled (7)
// with completedon at that time, and its callback goes out then. A second cancel
// changes nothing; a run that ends on its own before the cancel takes effect
// keeps its own end.
func TestFidelity_Row42_CancelIsAsynchronous(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, CancelDelay: 5 * time.Second,
		Flows: map[string]Flow{wfID: {Duration: time.Minute}, otherWFID: {Duration: 3 * time.Second}}})
	id := trigger(t, s, nil)
	clock.Add(10 * time.Second)
	if a := call(t, s, http.MethodPost, cancelPath(id), staticToken, nil); a.status != http.StatusNoContent {
		t.Fatalf("cancel: %d %s", a.status, a.body)
	}
	clock.Add(4 * time.Second)
	if row := getSession(t, s, id, ""); row["statuscode"] != 2.0 || row["completedon"] != nil {
		t.Fatalf("4 s after an accepted cancel: statuscode %v completedon %v, want still Running", row["statuscode"], row["completedon"])
	}
	if a := call(t, s, http.MethodPost, cancelPath(id), staticToken, nil); a.status != http.StatusNoContent {
		t.Fatalf("second cancel: %d", a.status)
	}
	clock.Add(time.Second)
	row := getSession(t, s, id, "")
	if row["statuscode"] != 7.0 || row["completedon"] != "2024-06-16T12:54:55Z" {
		t.Fatalf("5 s after the first cancel: statuscode %v completedon %v, want 7 at 12:54:55 (the second cancel does not move it)", row["statuscode"], row["completedon"])
	}

	// A run that ends before its cancel takes effect keeps its end.
	a := call(t, s, http.MethodPost, runPath(otherWFID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"})
	other, _ := a.json(t)["flowsessionId"].(string)
	clock.Add(time.Second)
	call(t, s, http.MethodPost, cancelPath(other), staticToken, nil)
	clock.Add(10 * time.Second)
	if row := getSession(t, s, other, ""); row["statuscode"] != 4.0 {
		t.Errorf("a run that ended 2 s after its cancel (CancelDelay 5 s): statuscode %v, want 4", row["statuscode"])
	}
}

// U2: a cancel of a finished run changes nothing (204, the default guess), or
// with RefuseCancelOfFinishedRun is refused with 400 0x80040203.
func TestFidelity_U2_CancelOfAFinishedRun(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run("refuse="+strconv.FormatBool(refuse), func(t *testing.T) {
			clock := newFakeClock()
			s := start(t, Options{Clock: clock.Now, RefuseCancelOfFinishedRun: refuse, Flows: map[string]Flow{wfID: {Duration: time.Second}}})
			id := trigger(t, s, nil)
			clock.Add(time.Minute)
			tag := getSession(t, s, id, "")["@odata.etag"]
			a := call(t, s, http.MethodPost, cancelPath(id), staticToken, nil)
			switch {
			case !refuse && a.status != http.StatusNoContent:
				t.Errorf("cancel of a finished run: %d %s, want 204", a.status, a.body)
			case refuse && a.status != http.StatusBadRequest:
				t.Errorf("cancel of a finished run with RefuseCancelOfFinishedRun: %d %s, want 400", a.status, a.body)
			case refuse:
				if code, _ := a.odata(t); code != CodeInvalidArgument {
					t.Errorf("code %q, want %s", code, CodeInvalidArgument)
				}
			}
			if row := getSession(t, s, id, ""); row["statuscode"] != 4.0 || row["@odata.etag"] != tag {
				t.Errorf("the finished run changed: %v %v", row["statuscode"], row["@odata.etag"])
			}
		})
	}
}

// U2: CancelDelay negative cancels at once, as the emulator did before.
func TestFidelity_U2_InstantCancelSetting(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, CancelDelay: -1, Flows: map[string]Flow{wfID: {Duration: time.Minute}}})
	id := trigger(t, s, nil)
	call(t, s, http.MethodPost, cancelPath(id), staticToken, nil)
	if row := getSession(t, s, id, ""); row["statuscode"] != 7.0 {
		t.Errorf("with CancelDelay < 0: statuscode %v right after the cancel, want 7", row["statuscode"])
	}
}

// Row 64: Retry-After grows for a client that keeps sending while it is
// refused, and does not for one that waits. Each request sent during the
// penalty extends it by the first Retry-After (5 s here), up to MaxPenalty.
func TestFidelity_Row64_RetryAfterGrowsWhileTheClientKeepsSending(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Limits: Limits{Requests: 2, Window: 20 * time.Second, MaxPenalty: 30 * time.Second}})
	get := func() answer { return call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil) }
	get()
	clock.Add(15 * time.Second)
	get()
	retryAfter := func(a answer) int {
		t.Helper()
		if a.status != http.StatusTooManyRequests {
			t.Fatalf("answer %d, want 429", a.status)
		}
		n, _ := strconv.Atoi(a.header.Get("Retry-After"))
		return n
	}
	if ra := retryAfter(get()); ra != 5 {
		t.Fatalf("first refusal: Retry-After %d, want 5 (the first request leaves the window)", ra)
	}
	var seen []int
	for range 4 { // keeps sending, one request a second
		clock.Add(time.Second)
		seen = append(seen, retryAfter(get()))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("Retry-After while the client keeps sending: %v, want growing", seen)
		}
	}
	clock.Add(time.Duration(seen[len(seen)-1]) * time.Second) // now it waits as told
	if a := get(); a.status == http.StatusTooManyRequests {   // admitted: 404, no such run
		t.Fatalf("after waiting Retry-After: %d", a.status)
	}

	// The cap: a client that never stops is told at most MaxPenalty.
	for range 20 {
		get()
	}
	if ra := retryAfter(get()); ra > 30 {
		t.Errorf("Retry-After %d over MaxPenalty 30 s", ra)
	}
}

// Row 64: a client that waits as told is not penalised further: a second
// refusal after the wait says only what the window still needs.
func TestFidelity_Row64_WaitingClientIsNotPenalised(t *testing.T) {
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Limits: Limits{Requests: 1, Window: 10 * time.Second}})
	get := func() answer { return call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil) }
	get()
	a := get()
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "10" {
		t.Fatalf("refusal: %d Retry-After %q, want 429 and 10", a.status, a.header.Get("Retry-After"))
	}
	clock.Add(10 * time.Second)
	if a := get(); a.status == http.StatusTooManyRequests {
		t.Fatalf("after Retry-After: %d", a.status)
	}
	if a := get(); a.header.Get("Retry-After") != "10" {
		t.Errorf("the next refusal: Retry-After %q, want 10 (no penalty carried over)", a.header.Get("Retry-After"))
	}
}

// Row 65: limits apply per web server. With two servers, a client that keeps
// the ARRAffinity cookie of its answers stays on one server and meets the
// limit; one without cookies is spread over both and has each server's
// budget (and its remaining-requests header is per server).
func TestFidelity_Row65_LimitsPerWebServer(t *testing.T) {
	s := start(t, Options{Limits: Limits{Requests: 2, Servers: 2}})
	get := func(cookie string) answer {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+sessionPath(wfID), nil)
		req.Header.Set("Authorization", "Bearer "+staticToken)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: AffinityCookie, Value: cookie})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return answer{status: res.StatusCode, header: res.Header}
	}
	affinity := func(a answer) string {
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			if c.Name == AffinityCookie {
				return c.Value
			}
		}
		t.Fatalf("no %s cookie in %v", AffinityCookie, a.header)
		return ""
	}
	// Without cookies: 4 requests in turn over 2 servers, all within budget.
	servers := map[string]bool{}
	for i := range 4 {
		a := get("")
		if a.status == http.StatusTooManyRequests {
			t.Fatalf("request %d without affinity refused: the servers do not share one budget", i+1)
		}
		servers[affinity(a)] = true
	}
	if len(servers) != 2 {
		t.Fatalf("requests without affinity went to %d servers, want 2", len(servers))
	}
	// A fresh caller pinned to one server meets the limit at its third request.
	s.Reset()
	first := get("")
	pinned := affinity(first)
	if got := get(pinned); affinity(got) != pinned || got.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests") != "0" {
		t.Fatalf("pinned request: server %s, remaining %q; want the same server with 0 left", affinity(got), got.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"))
	}
	if a := get(pinned); a.status != http.StatusTooManyRequests {
		t.Errorf("third request pinned to one server: %d, want 429", a.status)
	}
	if a := get(""); a.status == http.StatusTooManyRequests {
		t.Errorf("a request without the cookie reaches the other server: %d, want it admitted", a.status)
	}
}

// Row 65: one server by default (a trial environment's layout, the
// strictest): requests with or without affinity share one budget.
func TestFidelity_Row65_OneServerByDefault(t *testing.T) {
	s := start(t, Options{Limits: Limits{Requests: 2}})
	for range 2 {
		call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil)
	}
	if a := call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil); a.status != http.StatusTooManyRequests {
		t.Errorf("third request with the default single server: %d, want 429", a.status)
	}
}
