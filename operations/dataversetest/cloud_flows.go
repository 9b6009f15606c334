package dataversetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Operation names of cloud-flow HTTP triggers.
const (
	OpCloudFlow     = "CloudFlowTrigger"
	OpCloudFlowPoll = "CloudFlowPoll"
)

// FlowAudience is the audience of tokens that Entra-protected flow triggers accept.
const FlowAudience = "https://service.flow.microsoft.com/"

// Authentication of a cloud flow's trigger (CloudFlow.Auth).
const (
	FlowAuthSAS   = "sas"   // "Anyone": the URL carries sp, sv and sig
	FlowAuthEntra = "entra" // "Any user in my tenant": a bearer token for FlowAudience
)

// CloudFlow says how a flow with the "When an HTTP request is received"
// trigger answers.
type CloudFlow struct {
	Name string `json:"name,omitempty"`
	// Auth is FlowAuthSAS (default) or FlowAuthEntra.
	Auth string `json:"auth,omitempty"`
	// Status of the final answer: 200 (default) or 201 with Body; 202 answers
	// at once without Location and without body (fire and forget).
	Status int `json:"status,omitempty"`
	// Body is the final answer's JSON body; a string "${inputs.X}" becomes
	// the request body's property X (e.g. ${inputs.recordId}).
	Body any `json:"body,omitempty"`
	// Polls > 0 makes the trigger answer 202 with Location; the Location then
	// answers 202 (with Retry-After) Polls-1 more times before the final answer.
	Polls int `json:"polls,omitempty"`
	// RetryAfter is the Retry-After of each 202, in seconds; default 1.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// FlowRun is one accepted trigger call, for tests.
type FlowRun struct {
	ID     string         `json:"id"`
	FlowID string         `json:"flowId"`
	Body   map[string]any `json:"body"`
	Polls  int            `json:"polls"` // Location requests answered so far
	Caller string         `json:"caller,omitempty"`
	Time   time.Time      `json:"time"`
}

// flowRun is a FlowRun with its answer; guarded by Emulator.mu.
type flowRun struct {
	FlowRun
	flow CloudFlow
	op   string
}

// findFlow returns the configured flow with an id in any case.
func (e *Emulator) findFlow(id string) (CloudFlow, bool) {
	for k, f := range e.opts.CloudFlows {
		if strings.EqualFold(k, id) {
			return f, true
		}
	}
	return CloudFlow{}, false
}

func flowSigningKey(configured string) []byte {
	if configured != "" {
		return []byte(configured)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// cloudFlowOp recognises the trigger paths of Logic Apps hosts
// (/workflows/{id}/triggers/manual/paths/invoke) and of the Power Platform
// API (/powerautomate/automations/direct/workflows/{id}/...), and the
// Location of an asynchronous answer (/workflows/{id}/runs/{run}/operations/{op}).
func cloudFlowOp(parts []string) (string, bool) {
	if len(parts) >= 3 && parts[0] == "powerautomate" && parts[1] == "automations" && parts[2] == "direct" {
		parts = parts[3:]
	}
	switch {
	case len(parts) == 6 && parts[0] == "workflows" && parts[2] == "triggers" && parts[4] == "paths" && parts[5] == "invoke":
		return OpCloudFlow, true
	case len(parts) == 6 && parts[0] == "workflows" && parts[2] == "runs" && parts[4] == "operations":
		return OpCloudFlowPoll, true
	}
	return "", false
}

// sign is the sig of a signed path (sp) of a workflow.
func (e *Emulator) sign(workflowID, sp, sv string) string {
	m := hmac.New(sha256.New, e.flowKey)
	m.Write([]byte(strings.ToLower(workflowID) + "\n" + sp + "\n" + sv))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// FlowTriggerPath returns the path and query of a flow's trigger URL: with
// sp, sv and sig for FlowAuthSAS flows, without for Entra-protected ones.
func (e *Emulator) FlowTriggerPath(flowID string) string {
	id := strings.ToLower(flowID)
	p := "/workflows/" + id + "/triggers/manual/paths/invoke?api-version=2016-06-01"
	if f, _ := e.findFlow(id); f.Auth == FlowAuthEntra {
		return p
	}
	sp := "/triggers/manual/run"
	return p + "&sp=" + url.QueryEscape(sp) + "&sv=1.0&sig=" + e.sign(id, sp, "1.0")
}

// FlowRuns returns the accepted trigger calls, oldest first.
func (e *Emulator) FlowRuns() []FlowRun {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]FlowRun, 0, len(e.flowRuns))
	for _, r := range e.flowRuns {
		out = append(out, r.FlowRun)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Time.Before(out[j].Time) || out[i].Time.Equal(out[j].Time) && out[i].ID < out[j].ID
	})
	return out
}

// flowError writes a Logic Apps error body.
func flowError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	_, _ = w.Write(b)
}

// authorizeFlow checks a trigger's or Location's credentials; it returns the
// caller and whether the request may go on.
func (e *Emulator) authorizeFlow(w http.ResponseWriter, r *http.Request, flow CloudFlow, workflowID, sp string) (string, bool) {
	q := r.URL.Query()
	if flow.Auth == FlowAuthEntra {
		if q.Has("sig") || r.Header.Get("Authorization") == "" {
			flowError(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by OAuth authorization scheme.")
			return "", false
		}
		caller, audience, ok := e.tokenCaller(r)
		if !ok || audience != FlowAudience {
			flowError(w, http.StatusUnauthorized, "MisMatchingOAuthClaims", "One or more claims either missing or does not match with the open authentication access control policy.")
			return "", false
		}
		return caller, true
	}
	if !q.Has("sig") || r.Header.Get("Authorization") != "" {
		flowError(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
		return "", false
	}
	want := e.sign(workflowID, sp, "1.0")
	if q.Get("sp") != sp || q.Get("sv") != "1.0" || !hmac.Equal([]byte(q.Get("sig")), []byte(want)) {
		flowError(w, http.StatusUnauthorized, "DirectApiInvalidAuthorizationSignature", "The provided authorization signature is not valid.")
		return "", false
	}
	return "sas", true
}

// serveCloudFlow answers a flow trigger or the Location of an asynchronous answer.
func (e *Emulator) serveCloudFlow(w *recorder, r *http.Request, rt route) string {
	if e.applyFault(w, r, rt.op) {
		return ""
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/powerautomate/automations/direct"), "/"), "/")
	workflowID := strings.ToLower(parts[1])
	flow, found := e.findFlow(workflowID)
	if !found {
		flowError(w, http.StatusNotFound, "WorkflowNotFound", "The workflow could not be found.")
		return ""
	}
	if rt.op == OpCloudFlowPoll {
		return e.servePoll(w, r, flow, workflowID, parts[3], parts[5])
	}
	caller, ok := e.authorizeFlow(w, r, flow, workflowID, "/triggers/manual/run")
	if !ok {
		return ""
	}
	if r.Method != http.MethodPost {
		flowError(w, http.StatusMethodNotAllowed, "TriggerRequestMethodNotValid", "The HTTP method for this request is not valid: expected 'Post' and actual '"+r.Method+"'.")
		return caller
	}
	body, berr := readBody(w, r, 100<<20)
	if berr != nil {
		flowError(w, berr.status, "InvalidRequestContent", berr.message)
		return caller
	}
	inputs := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			flowError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content is not valid and could not be deserialized: '"+jsonProblem(err)+"'.")
			return caller
		}
		if m, ok := v.(map[string]any); ok {
			inputs = m
		}
	}
	run := &flowRun{FlowRun: FlowRun{ID: flowRunID(), FlowID: workflowID, Body: inputs, Caller: caller, Time: e.now()}, flow: flow, op: strings.ToUpper(newGUID()[:8])}
	e.mu.Lock()
	e.flowRuns[run.ID] = run
	e.mu.Unlock()
	w.Header().Set("x-ms-workflow-run-id", run.ID)
	w.Header().Set("x-ms-workflow-name", workflowID)
	switch {
	case flow.Status == http.StatusAccepted:
		w.WriteHeader(http.StatusAccepted)
	case flow.Polls > 0:
		sp := "/runs/" + run.ID + "/operations/" + run.op + "/read"
		loc := orgURL(r) + "/workflows/" + workflowID + "/runs/" + run.ID + "/operations/" + run.op + "?api-version=2016-06-01"
		if flow.Auth != FlowAuthEntra {
			loc += "&sp=" + url.QueryEscape(sp) + "&sv=1.0&sig=" + e.sign(workflowID, sp, "1.0")
		}
		w.Header().Set("Location", loc)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(flow)))
		w.WriteHeader(http.StatusAccepted)
	default:
		finalAnswer(w, flow, inputs)
	}
	return caller
}

func retryAfter(f CloudFlow) int {
	if f.RetryAfter > 0 {
		return f.RetryAfter
	}
	return 1
}

func finalAnswer(w http.ResponseWriter, flow CloudFlow, inputs map[string]any) {
	status := flow.Status
	if status == 0 {
		status = http.StatusOK
	}
	b, _ := json.Marshal(substitute(flow.Body, inputs))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// servePoll answers a Location: 202 until the run's polls are used, then the final answer.
func (e *Emulator) servePoll(w http.ResponseWriter, r *http.Request, flow CloudFlow, workflowID, runID, op string) string {
	caller, ok := e.authorizeFlow(w, r, flow, workflowID, "/runs/"+runID+"/operations/"+op+"/read")
	if !ok {
		return ""
	}
	e.mu.Lock()
	run, found := e.flowRuns[runID]
	done := false
	var inputs map[string]any
	if found && run.op == op && run.FlowID == workflowID {
		run.Polls++
		done = run.Polls >= flow.Polls
		inputs = run.Body
	} else {
		found = false
	}
	e.mu.Unlock()
	switch {
	case !found:
		flowError(w, http.StatusNotFound, "WorkflowRunNotFound", "The workflow run '"+runID+"' could not be found.")
	case r.Method != http.MethodGet:
		flowError(w, http.StatusMethodNotAllowed, "OperationMethodNotValid", "The HTTP method for this request is not valid: expected 'Get'.")
	case !done:
		w.Header().Set("Location", orgURL(r)+r.URL.RequestURI())
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(flow)))
		w.WriteHeader(http.StatusAccepted)
	default:
		finalAnswer(w, flow, inputs)
	}
	return caller
}

// flowRunID looks like a Logic Apps run id.
func flowRunID() string {
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	n := ""
	for _, c := range b {
		n += strconv.Itoa(int(c) % 10)
	}
	return "0858" + n + "CU00"
}
