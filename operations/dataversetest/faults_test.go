package dataversetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	get := func() answer { return call(t, s, "GET", sessionPath(otherWFID), staticToken, nil) }

	s.Inject(Fault{Op: OpGetFlowSession, Count: 2, Status: 503})
	s.Inject(Fault{Op: OpRunDesktopFlow, Status: 500}) // other operation: untouched by the GETs
	for i := range 2 {
		a := get()
		if a.status != 503 {
			t.Fatalf("faulted request %d: %d", i+1, a.status)
		}
		if code, msg := a.odata(t); code != CodeUnexpected || msg != "An unexpected error occurred." {
			t.Errorf("fault body %q %q", code, msg)
		}
	}
	if a := get(); a.status != 404 {
		t.Fatalf("after the fault: %d", a.status)
	}
	if f := s.Faults(); len(f) != 1 || f[0].Op != OpRunDesktopFlow {
		t.Errorf("pending faults = %+v", f)
	}

	s.Inject(Fault{Status: 429, RetryAfter: 7, Code: CodeExecutionTimeLimit, Message: "slow down"})
	a := get()
	if a.status != 429 || a.header.Get("Retry-After") != "7" {
		t.Fatalf("429 fault: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if code, msg := a.odata(t); code != CodeExecutionTimeLimit || msg != "slow down" {
		t.Errorf("429 body %q %q", code, msg)
	}
	s.Reset()

	s.Inject(Fault{Status: 429})
	if code, msg := get().odata(t); code != CodeRequestsLimit || !strings.HasPrefix(msg, "Number of requests exceeded the limit of 6000") {
		t.Errorf("default 429 body %q %q", code, msg)
	}

	s.Inject(Fault{Op: OpGetFlowSession, Reset: true})
	req, _ := http.NewRequest("GET", s.URL()+sessionPath(otherWFID), nil)
	req.Header.Set("Authorization", "Bearer "+staticToken)
	// A fresh connection: net/http retries an idempotent request whose reused connection dies.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Logf("reset error: %v", err)
	}
	calls := s.Calls()
	if last := calls[len(calls)-1]; last.Status != 0 || last.Op != OpGetFlowSession {
		t.Errorf("reset call recorded as %+v", last)
	}

	s.Inject(Fault{Op: OpGetFlowSession, Delay: 50 * time.Millisecond})
	t0 := time.Now()
	if a := get(); a.status != 404 || time.Since(t0) < 50*time.Millisecond {
		t.Errorf("delay fault: %d after %v", a.status, time.Since(t0))
	}

	s.Inject(Fault{Op: OpToken, Status: 503})
	status, m := tokenRequest(t, s, "POST", DefaultTenant, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {s.Scope()}}, "")
	if status != 503 || m["error"] != "temporarily_unavailable" {
		t.Errorf("token fault: %d %v", status, m)
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{wfID: {Duration: time.Hour}}})
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(s.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	id := trigger(t, s, nil)
	if r := post("/_emulator/faults", `{"op":"GetFlowSession","count":1,"status":502,"retryAfter":3,"delay":"1ms"}`); r.StatusCode != 204 {
		t.Fatalf("POST faults: %d", r.StatusCode)
	}
	if a := call(t, s, "GET", sessionPath(id), staticToken, nil); a.status != 502 || a.header.Get("Retry-After") != "3" {
		t.Errorf("injected over HTTP: %d", a.status)
	}
	if r := post("/_emulator/faults", `{"op":"x","delay":"soon"}`); r.StatusCode != 400 {
		t.Errorf("bad fault accepted: %d", r.StatusCode)
	}
	if r := post("/_emulator/faults", `{"statuz":500}`); r.StatusCode != 400 {
		t.Errorf("unknown fault field accepted: %d", r.StatusCode)
	}
	if r := post("/_emulator/sessions/"+id+"/status", `{"statuscode":8}`); r.StatusCode != 204 {
		t.Errorf("POST status: %d", r.StatusCode)
	}
	if row := getSession(t, s, id, ""); row["statuscode"] != 8.0 {
		t.Errorf("statuscode after admin status = %v", row["statuscode"])
	}

	resp, err := http.Get(s.URL() + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var calls struct {
		Counts   map[string]int `json:"counts"`
		InFlight int            `json:"inFlight"`
		Calls    []Call         `json:"calls"`
	}
	if err := json.Unmarshal(b, &calls); err != nil {
		t.Fatal(err)
	}
	if calls.Counts[OpRunDesktopFlow] != 1 || calls.Counts[OpGetFlowSession] != 2 || len(calls.Calls) != 3 {
		t.Errorf("calls = %s", b)
	}
	if bytes.Contains(b, []byte(staticToken)) {
		t.Errorf("the calls answer holds the bearer token")
	}

	// Every run, with the connection it was started on: the reliability tests' oracle for a
	// second run of one task.
	second := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "conn2"})
	resp, err = http.Get(s.URL() + "/_emulator/sessions")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var rows []FlowSession
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("GET /_emulator/sessions: %v: %s", err, b)
	}
	byConn := map[string]string{}
	for _, r := range rows {
		byConn[r.ConnectionName] = r.ID
	}
	if len(rows) != 2 || byConn["conn1"] != id || byConn["conn2"] != second {
		t.Errorf("sessions = %s, want the runs %s (conn1) and %s (conn2)", b, id, second)
	}

	if r := post("/_emulator/revoke-tokens", ""); r.StatusCode != 204 {
		t.Errorf("revoke: %d", r.StatusCode)
	}
	if r := post("/_emulator/reset", ""); r.StatusCode != 204 {
		t.Errorf("reset: %d", r.StatusCode)
	}
	if n := s.Count(""); n != 0 {
		t.Errorf("Count after reset = %d", n)
	}
	if _, ok := s.Session(id); ok {
		t.Error("the run survived reset")
	}
	if r := post("/_emulator/nope", ""); r.StatusCode != 404 {
		t.Errorf("unknown admin path: %d", r.StatusCode)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, got := receiver(t, http.StatusServiceUnavailable)
	s := NewServer(Options{
		Tokens: []string{staticToken}, CallbackAllowedHosts: []string{"127.0.0.1"}, CallbackRetryInterval: time.Hour,
		Flows: map[string]Flow{wfID: {}, otherWFID: {Duration: time.Hour}},
	})
	trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL}) // waits an hour to retry
	call(t, s, "POST", runPath(otherWFID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"})
	waitCallback(t, got)
	s.Inject(Fault{Delay: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(t, s, "GET", sessionPath(otherWFID), staticToken, nil) // held by the delay until Close
	}()
	eventually(t, "the delayed request", func() bool { return s.InFlight() == 1 })
	s.Close()
	<-done
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
