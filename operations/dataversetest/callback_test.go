package dataversetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// receivedCallback is one request the test receiver got.
type receivedCallback struct {
	header http.Header
	body   []byte
	query  url.Values
}

// receiver answers callbacks with the given statuses in turn (the last one
// repeats) and hands every request to the returned channel.
func receiver(t *testing.T, statuses ...int) (*httptest.Server, chan receivedCallback) {
	t.Helper()
	got := make(chan receivedCallback, 16)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		status := statuses[min(n, len(statuses)-1)]
		n++
		mu.Unlock()
		w.WriteHeader(status)
		got <- receivedCallback{header: r.Header.Clone(), body: b, query: r.URL.Query()}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func waitCallback(t *testing.T, ch chan receivedCallback) receivedCallback {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no callback arrived")
		return receivedCallback{}
	}
}

func TestCallback(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv, got := receiver(t, http.StatusOK)
	s := start(t, Options{Clock: clock.Now, CallbackAllowedHosts: []string{"127.0.0.1"}, Flows: map[string]Flow{wfID: {QueueDelay: time.Second, Duration: time.Minute}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL + "/hook?sig=secret-signature"})
	clock.Add(61 * time.Second)
	s.Tick()
	c := waitCallback(t, got)
	for h, want := range map[string]string{"User-Agent": "EnterpriseConnectors/1.0", "Content-Type": "application/json; charset=utf-8", "x-ms-workflow-id": wfID, "x-ms-run-id": id} {
		if v := c.header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	if c.header.Get("Authorization") != "" {
		t.Error("the callback carries an Authorization header")
	}
	want := `{"statuscode":4,"statecode":0,"startedon":"2024-06-16T12:54:41Z","completedon":"2024-06-16T12:55:41Z","flowsessionid":"` + id + `"}`
	if string(c.body) != want {
		t.Errorf("body = %s\nwant   %s", c.body, want)
	}
	if c.query.Get("sig") != "secret-signature" {
		t.Errorf("query lost: %v", c.query)
	}
	// Reads and further ticks do not send it again.
	getSession(t, s, id, "")
	s.Tick()
	eventually(t, "the attempt to be recorded", func() bool { return len(s.Callbacks()) == 1 })
	a := s.Callbacks()[0]
	if a.Status != 200 || a.Attempt != 1 || a.RunStatus != 4 || a.URL != srv.URL+"/hook" {
		t.Errorf("attempt = %+v", a)
	}
	if n := s.Count(OpCallback); n != 1 {
		t.Errorf("Count(Callback) = %d", n)
	}
	select {
	case extra := <-got:
		t.Errorf("a second callback: %s", extra.body)
	default:
	}
}

func TestCallbackRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int
		attempts int
	}{
		{"succeeds on the third try", []int{503, 408, 200}, 3},
		{"gives up after three retries", []int{500}, 4},
		{"no retry on 400", []int{400}, 1},
		{"no retry on 202", []int{202}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := receiver(t, tc.statuses...)
			s := start(t, Options{CallbackAllowedHosts: []string{"127.0.0.1"}, CallbackRetryInterval: 5 * time.Millisecond})
			trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL})
			for range tc.attempts {
				waitCallback(t, got)
			}
			eventually(t, "all attempts recorded", func() bool { return len(s.Callbacks()) == tc.attempts })
			s.Close() // waits for the delivery to end
			if n := len(s.Callbacks()); n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			for i, a := range s.Callbacks() {
				if a.Attempt != i+1 || a.Status != tc.statuses[min(i, len(tc.statuses)-1)] {
					t.Errorf("attempt %d = %+v", i+1, a)
				}
			}
		})
	}
}

func TestCallbackOnCancel(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, http.StatusOK)
	s := start(t, Options{CallbackAllowedHosts: []string{"127.0.0.1"}, Flows: map[string]Flow{wfID: {QueueDelay: time.Hour}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL})
	if a := call(t, s, "POST", sessionPath(id)+"/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", staticToken, nil); a.status != 204 {
		t.Fatal(a.status)
	}
	var body map[string]any
	if err := json.Unmarshal(waitCallback(t, got).body, &body); err != nil {
		t.Fatal(err)
	}
	if body["statuscode"] != 7.0 || body["startedon"] != nil || body["completedon"] == nil {
		t.Errorf("cancel callback = %v", body)
	}
}

func TestCallbackByTimer(t *testing.T) {
	t.Parallel()
	srv, got := receiver(t, http.StatusOK)
	s := start(t, Options{CallbackAllowedHosts: []string{"127.0.0.1"}, Flows: map[string]Flow{wfID: {Duration: 20 * time.Millisecond}}})
	id := trigger(t, s, map[string]any{"runMode": "unattended", "connectionName": "c", "callbackUrl": srv.URL})
	c := waitCallback(t, got) // no read, no Tick: the completion timer sends it
	if c.header.Get("x-ms-run-id") != id {
		t.Errorf("x-ms-run-id = %q", c.header.Get("x-ms-run-id"))
	}
}
