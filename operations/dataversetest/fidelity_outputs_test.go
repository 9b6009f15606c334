package dataversetest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fidelity suite: outputs, CancelDesktopFlowRun and completion callback
// sections of the audit.

// Row 38: GET flowsessions({id})/outputs/$value is 200 with the raw outputs JSON.
func TestFidelity_Row38_OutputsDownload(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := start(t, Options{Clock: clock.Now, Flows: map[string]Flow{wfID: {Duration: time.Minute, Outputs: map[string]any{"Total": 42, "Name": "${inputs.Name}"}}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": `{"Name":"Ada"}`})
	clock.Add(time.Minute)
	a := call(t, s, http.MethodGet, sessionPath(id)+"/outputs/$value", staticToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var out map[string]any
	if err := json.Unmarshal(a.body, &out); err != nil || out["Total"] != 42.0 || out["Name"] != "Ada" || len(out) != 2 {
		t.Errorf("outputs = %s (%v), want the raw outputs object", a.body, err)
	}
}

// Row 39: the file download carries x-ms-file-size, x-ms-file-name, mimetype
// and Access-Control-Expose-Headers naming them.
func TestFidelity_Row39_FileHeaders(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Flows: map[string]Flow{wfID: {Outputs: map[string]any{"A": "b"}}}})
	id := trigger(t, s, nil)
	a := call(t, s, http.MethodGet, sessionPath(id)+"/outputs/$value", staticToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if got := a.header.Get("x-ms-file-size"); got != strconv.Itoa(len(a.body)) {
		t.Errorf("x-ms-file-size = %q, want %d (the body's length)", got, len(a.body))
	}
	if got := a.header.Get("x-ms-file-name"); got != "outputs.json" {
		t.Errorf("x-ms-file-name = %q", got)
	}
	if got := a.header.Get("mimetype"); got != "application/json" {
		t.Errorf("mimetype = %q", got)
	}
	expose := strings.ToLower(a.header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"x-ms-file-name", "x-ms-file-size", "mimetype"} {
		if !strings.Contains(expose, h) {
			t.Errorf("Access-Control-Expose-Headers %q does not name %s", expose, h)
		}
	}
}

// Row 43: cancelling an unknown run is 404.
func TestFidelity_Row43_CancelUnknownRun(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	trigger(t, s, nil)
	wantErr(t, "cancel", call(t, s, http.MethodPost, sessionPath(otherWFID)+"/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", staticToken, nil),
		http.StatusNotFound, CodeObjectDoesNotExist, "flowsession With Id = "+otherWFID+" Does Not Exist")
	for _, f := range s.Sessions() {
		if f.StatusCode == StatusCancelled {
			t.Errorf("run %s cancelled by a cancel of another id", f.ID)
		}
	}
}

// Row 44: the completion callback is a POST with User-Agent EnterpriseConnectors/1.0,
// Content-type application/json; charset=utf-8, x-ms-workflow-id, x-ms-run-id,
// and a body of statuscode, statecode, startedon, completedon, flowsessionid.
func TestFidelity_Row44_CallbackRequest(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv, got := receiver(t, http.StatusOK)
	s := start(t, Options{Clock: clock.Now, CallbackAllowedHosts: []string{"127.0.0.1"}, Flows: map[string]Flow{wfID: {Duration: time.Minute}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL + "/done"})
	clock.Add(time.Minute)
	s.Tick()
	c := waitCallback(t, got)
	for h, want := range map[string]string{"User-Agent": "EnterpriseConnectors/1.0", "Content-Type": "application/json; charset=utf-8", "x-ms-workflow-id": wfID, "x-ms-run-id": id} {
		if v := c.header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	if keys := jsonKeys(t, c.body); strings.Join(keys, ",") != "statuscode,statecode,startedon,completedon,flowsessionid" {
		t.Errorf("body keys %v", keys)
	}
	var body map[string]any
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatal(err)
	}
	if body["statuscode"] != 4.0 || body["statecode"] != 0.0 || body["flowsessionid"] != id || body["startedon"] != "2024-06-16T12:54:40Z" || body["completedon"] != "2024-06-16T12:55:40Z" {
		t.Errorf("body = %s", c.body)
	}
}

// Row 45: a callback answered 5xx or 408 is retried three times, one second
// apart (the interval is configurable; its default is the documented second).
func TestFidelity_Row45_CallbackRetries(t *testing.T) {
	t.Parallel()
	if d := (Options{}).withDefaults().CallbackRetryInterval; d != time.Second {
		t.Errorf("default retry interval %v, want 1s", d)
	}
	if DefaultCallbackRetries != 3 {
		t.Errorf("DefaultCallbackRetries = %d, want 3", DefaultCallbackRetries)
	}
	const interval = 20 * time.Millisecond
	for _, tc := range []struct {
		name     string
		statuses []int
		attempts int
	}{
		{"500, 503, 408, 200", []int{500, 503, 408, 200}, 4},
		{"always 502", []int{502}, 4},
		{"404 is final", []int{404}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := receiver(t, tc.statuses...)
			s := start(t, Options{CallbackAllowedHosts: []string{"127.0.0.1"}, CallbackRetryInterval: interval})
			trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL})
			for range tc.attempts {
				waitCallback(t, got)
			}
			s.Close() // waits for the delivery to end: no attempt can follow
			att := s.Callbacks()
			if len(att) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(att), tc.attempts)
			}
			for i := 1; i < len(att); i++ {
				if gap := att[i].Time.Sub(att[i-1].Time); gap < interval {
					t.Errorf("attempt %d came %v after the one before, want at least %v", i+1, gap, interval)
				}
			}
		})
	}
}

// Row 46: the callback is not authenticated: no Authorization header.
func TestFidelity_Row46_CallbackUnauthenticated(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, http.StatusOK)
	s := start(t, Options{CallbackAllowedHosts: []string{"127.0.0.1"}})
	trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL})
	c := waitCallback(t, got)
	for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
		if v := c.header.Get(h); v != "" {
			t.Errorf("callback carries %s: %q", h, v)
		}
	}
}
