package zeebe

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// Issue 12's requests that cannot be repeated (runCloudFlow's trigger and its polling, createRow,
// an ETag-conditional write) go through the same hold as a desktop-flow trigger: neither a
// shutdown nor a lapsing lease hands their job back once they may have reached their server.

const (
	onceFlow  = "7e7e7e7e-0000-4000-8000-7e7e7e7e7e71"
	pollFlow  = "7e7e7e7e-0000-4000-8000-7e7e7e7e7e72"
	quickPoll = "7e7e7e7e-0000-4000-8000-7e7e7e7e7e73"
	seeded    = "7e7e7e7e-0000-4000-8000-7e7e7e7e7e7f"
)

// onceFixture is an emulator with cloud flows and a contact, and the handler calling it.
func onceFixture(t *testing.T) (*dataversetest.Server, *connector.Handler) {
	t.Helper()
	srv := dataversetest.NewServer(dataversetest.Options{
		CloudFlows: map[string]dataversetest.CloudFlow{
			onceFlow:  {Body: map[string]any{"ok": true}},
			pollFlow:  {Polls: 50, RetryAfter: 5, Body: map[string]any{"ok": true}},
			quickPoll: {Polls: 1, RetryAfter: 1, Body: map[string]any{"ok": true}},
		},
		Tables:  []dataversetest.Table{{LogicalName: "contact", Rows: []map[string]any{{"contactid": seeded, "lastname": "Lovelace"}}}},
		Actions: []dataversetest.Action{{Name: "new_Notify"}},
		Tokens:  []string{testToken},
	})
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL())
	hosts, err := egress.NewHostPolicy(egress.DefaultAllowedHosts + "," + u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	limits, _ := egress.ParseLimits("")
	h := connector.NewHandler(connector.Options{Hosts: hosts, Limits: limits, SecretPrefix: "SECRET_",
		MaxOutputBytes: connector.DefaultMaxOutputBytes, Log: zerolog.Nop()})
	h.Secrets.Lookup = func(k string) (string, bool) { return testToken, k == "SECRET_TOKEN" }
	return srv, h
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// signalOn wraps h's base transport: the returned channel closes once a request for which
// match is true has been handed to the base transport (sent: true) or has been answered
// (sent: false).
func signalOn(h *connector.Handler, sent bool, match func(*http.Request) bool) <-chan struct{} {
	base := h.Transport
	ch := make(chan struct{})
	var once sync.Once
	h.Transport = rtFunc(func(r *http.Request) (*http.Response, error) {
		if sent && match(r) {
			once.Do(func() { close(ch) })
		}
		res, err := base.RoundTrip(r)
		if !sent && err == nil && match(r) {
			once.Do(func() { close(ch) })
		}
		return res, err
	})
	return ch
}

func jobOf(key int64, jobType string, vars map[string]any, headers map[string]string) entities.Job {
	j := activated(key)
	j.Type = jobType
	raw, _ := json.Marshal(vars)
	j.Variables = string(raw)
	hd, _ := json.Marshal(headers)
	j.CustomHeaders = string(hd)
	return j
}

func rowVars(srv *dataversetest.Server, op string, extra map[string]any) map[string]any {
	v := map[string]any{"operationType": op, "organizationUri": srv.URL(), "table": "contact",
		"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

func isPost(r *http.Request) bool  { return r.Method == http.MethodPost }
func isPatch(r *http.Request) bool { return r.Method == http.MethodPatch }
func isPoll(r *http.Request) bool {
	return r.Method == http.MethodGet && !strings.Contains(r.URL.Path, "/api/data/")
}

// SIGTERM (end of the grace period) while such a request is in flight, or while runCloudFlow
// waits for its flow's answer: an incident saying what may have happened, not a hand-back. A
// read in flight is handed back, retries unchanged.
func TestShutdownDuringAnUnrepeatableRequestRaisesAnIncident(t *testing.T) {
	cases := []struct {
		name     string
		jobType  string
		vars     func(*dataversetest.Server) map[string]any
		fault    dataversetest.Fault
		sent     bool // signal when the request is sent (else when answered)
		match    func(*http.Request) bool
		incident string // "" = handed back
	}{
		{"cloud flow trigger", "power-automate:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "runCloudFlow", "flowUrl": s.FlowURL(onceFlow)}
		}, dataversetest.Fault{Op: dataversetest.OpCloudFlow, Delay: 2 * time.Second}, true, isPost, "the flow may have started"},
		{"cloud flow waiting between polls", "power-automate:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "runCloudFlow", "flowUrl": s.FlowURL(pollFlow)}
		}, dataversetest.Fault{}, false, isPost, "the flow has started"},
		{"cloud flow poll", "power-automate:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "runCloudFlow", "flowUrl": s.FlowURL(quickPoll)}
		}, dataversetest.Fault{Op: dataversetest.OpCloudFlowPoll, Delay: 2 * time.Second}, true, isPoll, "the flow has started"},
		{"createRow", "dataverse:1", func(s *dataversetest.Server) map[string]any {
			return rowVars(s, "createRow", map[string]any{"row": map[string]any{"lastname": "x"}})
		}, dataversetest.Fault{Op: dataversetest.OpCreateRow, Delay: 2 * time.Second}, true, isPost, "the row may have been created"},
		{"performAction", "dataverse:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "performAction", "organizationUri": s.URL(), "action": "new_Notify",
				"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}}
		}, dataversetest.Fault{Op: dataversetest.OpAction, Delay: 2 * time.Second}, true, isPost, "the action's outcome is unknown, it may have run"},
		{"updateRow with an ETag", "dataverse:1", func(s *dataversetest.Server) map[string]any {
			return rowVars(s, "updateRow", map[string]any{"rowId": seeded, "row": map[string]any{"lastname": "x"}, "ifMatch": `W/"1"`})
		}, dataversetest.Fault{Op: dataversetest.OpUpdateRow, Delay: 2 * time.Second}, true, isPatch, "the row may have been changed"},
		{"getRow", "dataverse:1", func(s *dataversetest.Server) map[string]any {
			return rowVars(s, "getRow", map[string]any{"rowId": seeded})
		}, dataversetest.Fault{Op: dataversetest.OpRetrieveRow, Delay: 2 * time.Second}, true,
			func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/contacts(") }, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, h := onceFixture(t)
			if c.fault.Op != "" {
				srv.Inject(c.fault)
			}
			inFlight := signalOn(h, c.sent, c.match)
			g := &fakeGateway{}
			w := &Worker{Gateway: g, Handler: h, Log: zerolog.Nop(), Grace: 10 * time.Millisecond}
			w.init()
			w.active.tryTake(1)
			w.start(jobOf(int64(100+i), c.jobType, c.vars(srv), nil))
			<-inFlight
			w.drain()
			completed, failed, _, _ := g.snapshot()
			if len(completed) != 0 || len(failed) != 1 {
				t.Fatalf("completed %d, failed %+v; want one fail", len(completed), failed)
			}
			if c.incident == "" {
				if failed[0].Retries != 3 {
					t.Fatalf("a read in flight: %+v, want it handed back with retries unchanged", failed[0])
				}
				return
			}
			if failed[0].Retries != 0 || !strings.Contains(failed[0].ErrorMessage, c.incident) || !strings.Contains(failed[0].ErrorMessage, "shut down") {
				t.Fatalf("fail %+v; want an incident saying %q", failed[0], c.incident)
			}
		})
	}
}

// A job whose lease would end while such a request is in flight (the jobTimeout header shorter
// than the connection timeout, or a short lease and a slow answer) keeps its lease: the hold
// extends it before the request is sent and again while it lasts, and the job completes with
// the one row or flow run, instead of timing out and being activated again.
func TestUnrepeatableRequestOutlivesItsLease(t *testing.T) {
	cases := []struct {
		name    string
		jobType string
		vars    func(*dataversetest.Server) map[string]any
		headers map[string]string
		fault   dataversetest.Fault
		count   func(*dataversetest.Server) int
		// leaseFor is the handler's JobTimeout, what a wait between polls extends the lease to
		leaseFor time.Duration
	}{
		{"createRow, jobTimeout under the connection timeout", "dataverse:1", func(s *dataversetest.Server) map[string]any {
			return rowVars(s, "createRow", map[string]any{"row": map[string]any{"lastname": "x"}, "connectionTimeoutInSeconds": 10})
		}, map[string]string{"jobTimeout": "PT1S"}, dataversetest.Fault{Op: dataversetest.OpCreateRow, Delay: 2500 * time.Millisecond},
			func(s *dataversetest.Server) int { return s.Count(dataversetest.OpCreateRow) }, 0},
		{"cloud flow trigger on a short lease", "power-automate:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "runCloudFlow", "flowUrl": s.FlowURL(onceFlow)}
		}, nil, dataversetest.Fault{Op: dataversetest.OpCloudFlow, Delay: 2500 * time.Millisecond},
			func(s *dataversetest.Server) int { return s.Count(dataversetest.OpCloudFlow) }, 0},
		{"cloud flow poll slower than the lease", "power-automate:1", func(s *dataversetest.Server) map[string]any {
			return map[string]any{"operationType": "runCloudFlow", "flowUrl": s.FlowURL(quickPoll), "connectionTimeoutInSeconds": 10}
		}, nil, dataversetest.Fault{Op: dataversetest.OpCloudFlowPoll, Delay: 4 * time.Second},
			func(s *dataversetest.Server) int { return s.Count(dataversetest.OpCloudFlow) }, 2 * time.Second},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, h := onceFixture(t)
			h.JobTimeout = c.leaseFor
			srv.Inject(c.fault)
			g := &fakeGateway{}
			w := &Worker{Gateway: g, Handler: h, Log: zerolog.Nop()}
			j := jobOf(int64(200+i), c.jobType, c.vars(srv), c.headers)
			j.Deadline = time.Now().Add(1500 * time.Millisecond).UnixMilli()
			runOne(w, j)
			completed, failed, _, updated := g.snapshot()
			if len(completed) != 1 || len(failed) != 0 {
				t.Fatalf("completed %d, failed %+v, extensions %d; want the job completed within its extended lease", len(completed), failed, len(updated))
			}
			if n := c.count(srv); n != 1 {
				t.Fatalf("%d requests, want one", n)
			}
		})
	}
}
