package dataversetest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// adminCalls is the answer of GET /_emulator/calls.
type adminCalls struct {
	Counts    map[string]int    `json:"counts"`
	InFlight  int               `json:"inFlight"`
	Calls     []Call            `json:"calls"`
	Callbacks []CallbackAttempt `json:"callbacks"`
	Faults    []Fault           `json:"faults"`
}

// serveAdmin serves the /_emulator/ control endpoints (not authenticated:
// the emulator is meant for loopback use only).
//
//	GET  /_emulator/calls                 counts by operation, calls, callbacks, pending faults
//	POST /_emulator/faults                inject a Fault (JSON; delay as "250ms")
//	POST /_emulator/revoke-tokens         invalidate issued tokens
//	POST /_emulator/reset                 forget runs, calls, faults, callbacks and limit usage
//	POST /_emulator/tick                  catch runs up with the clock
//	GET  /_emulator/sessions              every run (FlowSession rows as a JSON array, by id)
//	GET  /_emulator/sessions/{id}         a run's state (FlowSession as JSON)
//	POST /_emulator/sessions/{id}/status  {"statuscode": 8} forces a run's status
//	GET  /_emulator/tables/{name}/rows    a table's rows as the Web API returns them, with every annotation
//	GET  /_emulator/actions               accepted custom API calls (ActionCall, oldest first)
//	GET  /_emulator/cloudflows            the cloud flows with their trigger URLs
//	GET  /_emulator/flowruns              accepted cloud-flow trigger calls (FlowRun, oldest first)
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/_emulator/")
	bad := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	ok := func(v any) {
		if v == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	post := r.Method == http.MethodPost
	switch {
	case path == "calls" && r.Method == http.MethodGet:
		e.mu.Lock()
		counts := make(map[string]int, len(e.counts))
		for k, v := range e.counts {
			counts[k] = v
		}
		e.mu.Unlock()
		ok(adminCalls{Counts: counts, InFlight: e.InFlight(), Calls: e.Calls(), Callbacks: e.Callbacks(), Faults: e.Faults()})
	case path == "faults" && post:
		var f Fault
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			bad(http.StatusBadRequest, "reading the fault: "+err.Error())
			return
		}
		if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
			bad(http.StatusBadRequest, "status must be an HTTP status code")
			return
		}
		e.Inject(f)
		ok(nil)
	case path == "revoke-tokens" && post:
		e.RevokeTokens()
		ok(nil)
	case path == "reset" && post:
		e.Reset()
		ok(nil)
	case path == "tick" && post:
		e.Tick()
		ok(nil)
	case strings.HasPrefix(path, "tables/") && strings.HasSuffix(path, "/rows") && r.Method == http.MethodGet:
		rows, found := e.Rows(strings.TrimSuffix(strings.TrimPrefix(path, "tables/"), "/rows"))
		if !found {
			bad(http.StatusNotFound, "no such table")
			return
		}
		ok(rows)
	case path == "actions" && r.Method == http.MethodGet:
		ok(e.ActionCalls())
	case path == "flowruns" && r.Method == http.MethodGet:
		ok(e.FlowRuns())
	case path == "cloudflows" && r.Method == http.MethodGet:
		type flowInfo struct {
			ID   string `json:"id"`
			Name string `json:"name,omitempty"`
			Auth string `json:"auth"`
			URL  string `json:"url"`
		}
		out := []flowInfo{}
		for _, id := range sortedKeys(e.opts.CloudFlows) {
			f := e.opts.CloudFlows[id]
			auth := f.Auth
			if auth == "" {
				auth = FlowAuthSAS
			}
			out = append(out, flowInfo{ID: strings.ToLower(id), Name: f.Name, Auth: auth, URL: orgURL(r) + e.FlowTriggerPath(id)})
		}
		ok(out)
	case path == "sessions" && r.Method == http.MethodGet:
		ok(e.Sessions())
	case strings.HasPrefix(path, "sessions/"):
		id, rest, _ := strings.Cut(strings.TrimPrefix(path, "sessions/"), "/")
		switch {
		case rest == "" && r.Method == http.MethodGet:
			s, found := e.Session(id)
			if !found {
				bad(http.StatusNotFound, "no flowsession "+id)
				return
			}
			ok(s)
		case rest == "status" && post:
			var body struct {
				StatusCode *int `json:"statuscode"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil || body.StatusCode == nil {
				bad(http.StatusBadRequest, `body must be {"statuscode": <0-14>}`)
				return
			}
			if err := e.SetStatus(id, *body.StatusCode); err != nil {
				bad(http.StatusNotFound, err.Error())
				return
			}
			ok(nil)
		default:
			bad(http.StatusNotFound, "unknown admin endpoint")
		}
	default:
		bad(http.StatusNotFound, "unknown admin endpoint")
	}
}
