package dataversetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// flowsession statuscode values.
const (
	StatusNotSpecified = 0
	StatusPaused       = 1
	StatusRunning      = 2
	StatusWaiting      = 3
	StatusSucceeded    = 4
	StatusSkipped      = 5
	StatusSuspended    = 6
	StatusCancelled    = 7
	StatusFailed       = 8
	StatusFaulted      = 9
	StatusTimedOut     = 10
	StatusAborted      = 11
	StatusIgnored      = 12
	StatusDeleted      = 13
	StatusTerminated   = 14
)

// Terminal reports whether a run in statuscode s has ended.
func Terminal(s int) bool {
	switch s {
	case StatusNotSpecified, StatusPaused, StatusRunning, StatusWaiting, StatusSuspended:
		return false
	}
	return true
}

// stateOf is the statecode of a statuscode: 0 and 13/14 are Inactive (1).
func stateOf(s int) int {
	switch s {
	case StatusNotSpecified, StatusDeleted, StatusTerminated:
		return 1
	}
	return 0
}

// FlowSession is a snapshot of one run's flowsession row.
type FlowSession struct {
	ID             string          `json:"flowsessionid"`
	WorkflowID     string          `json:"workflowid"`
	Name           string          `json:"name"`
	StatusCode     int             `json:"statuscode"`
	StateCode      int             `json:"statecode"`
	CreatedOn      time.Time       `json:"createdon"`
	ModifiedOn     time.Time       `json:"modifiedon"`
	StartedOn      *time.Time      `json:"startedon"`
	CompletedOn    *time.Time      `json:"completedon"`
	ErrorCode      string          `json:"errorcode,omitempty"`
	ErrorMessage   string          `json:"errormessage,omitempty"`
	RunMode        string          `json:"runMode"` // "attended" or "unattended"
	RunPriority    string          `json:"runPriority"`
	ConnectionName string          `json:"connectionName"`
	ConnectionType int             `json:"connectionType"`
	ConnectionID   string          `json:"connectionid,omitempty"` // the connection used, when connections are declared
	Timeout        int             `json:"timeout"`                // seconds
	Inputs         map[string]any  `json:"inputs"`
	Outputs        json.RawMessage `json:"outputs,omitempty"` // nil until the run succeeded with outputs
	CorrelationID  string          `json:"correlationid"`
	CallbackURL    string          `json:"-"`       // may hold a receiver's secret
	Version        int64           `json:"version"` // the row version behind @odata.etag
	Caller         string          `json:"caller"`
}

// session is the live state of a run; guarded by Emulator.mu.
type session struct {
	FlowSession
	flow     Flow
	pinned   bool // SetStatus or cancel fixed the status: the clock no longer moves it
	notified bool // the completion callback has been scheduled
	// cancelAt is when an accepted cancel takes effect (nil: not cancelled).
	cancelAt *time.Time
}

// advance moves the run along the clock up to now and reports whether it
// just reached a final status. An accepted cancel takes effect at cancelAt,
// unless the run ended on its own before.
func (s *session) advance(now time.Time, nextVersion func() int64) bool {
	if Terminal(s.StatusCode) {
		return false
	}
	if s.cancelAt != nil && !now.Before(*s.cancelAt) {
		at := *s.cancelAt
		if s.progress(at, nextVersion) {
			return true
		}
		s.pinned = true
		s.finish(at, StatusCancelled, "", "", nextVersion)
		return true
	}
	return s.progress(now, nextVersion)
}

// progress moves a run that is not cancelled along its schedule up to now.
func (s *session) progress(now time.Time, nextVersion func() int64) bool {
	if s.pinned || Terminal(s.StatusCode) {
		return false
	}
	created := s.CreatedOn
	if s.flow.QueueDelay >= NoCandidateMachineAfter {
		at := created.Add(NoCandidateMachineAfter)
		if now.Before(at) {
			return false
		}
		s.finish(at, StatusFailed, "NoCandidateMachine", "No machine was available to run the desktop flow within 6 hours.", nextVersion)
		return true
	}
	start := created.Add(s.flow.QueueDelay)
	if now.Before(start) {
		return false
	}
	if s.StatusCode != StatusRunning {
		s.StatusCode = StatusRunning
		s.StartedOn = ptr(start)
		s.ModifiedOn = start
		s.Version = nextVersion()
	}
	limit := time.Duration(s.Timeout) * time.Second
	if s.flow.Duration > limit {
		end := start.Add(limit)
		if now.Before(end) {
			return false
		}
		s.finish(end, StatusTimedOut, "DesktopFlowsActionTimeout", fmt.Sprintf("The desktop flow run exceeded its timeout of %d seconds.", s.Timeout), nextVersion)
		return true
	}
	end := start.Add(s.flow.Duration)
	if now.Before(end) {
		return false
	}
	final := s.flow.FinalStatus
	if final == 0 {
		final = StatusSucceeded
	}
	s.finish(end, final, s.flow.ErrorCode, s.flow.ErrorMessage, nextVersion)
	return true
}

// finish puts the run into a final status at time at.
func (s *session) finish(at time.Time, status int, code, msg string, nextVersion func() int64) {
	s.StatusCode = status
	s.StateCode = stateOf(status)
	s.CompletedOn = ptr(at)
	s.ModifiedOn = at
	s.Version = nextVersion()
	if status == StatusSucceeded {
		s.Outputs = s.makeOutputs()
		return
	}
	if code == "" {
		code, msg = defaultError(status)
	}
	s.ErrorCode, s.ErrorMessage = code, msg
}

func defaultError(status int) (string, string) {
	switch status {
	case StatusCancelled:
		return "", ""
	case StatusTimedOut:
		return "DesktopFlowsActionTimeout", "The desktop flow run exceeded its timeout."
	case StatusFailed, StatusFaulted:
		return "DesktopFlowRunFailed", "The desktop flow run failed."
	}
	return "", ""
}

// makeOutputs derives a succeeded run's outputs from its flow and inputs.
func (s *session) makeOutputs() []byte {
	var out any
	switch {
	case s.flow.EchoInputs:
		out = s.Inputs
	case s.flow.Outputs != nil:
		out = substitute(s.flow.Outputs, s.Inputs)
	default:
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}

// substitute replaces "${inputs.Name}" strings in v by the input's value.
func substitute(v any, inputs map[string]any) any {
	switch t := v.(type) {
	case string:
		if name, ok := strings.CutPrefix(t, "${inputs."); ok && strings.HasSuffix(name, "}") {
			return inputs[strings.TrimSuffix(name, "}")]
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = substitute(e, inputs)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = substitute(e, inputs)
		}
		return a
	}
	return v
}

// columns of the flowsession row that the emulator knows, in answer order:
// the documented readable columns (FS). There is no priority column; the
// runPriority parameter shows only in context.
var flowSessionColumns = []string{
	"flowsessionid", "name", "statuscode", "statecode", "createdon", "modifiedon",
	"startedon", "completedon", "runduration", "errorcode", "errormessage", "errordetails",
	"context", "correlationid", "runmode", "triggertype", "outputs", "outputs_name",
	"_regardingobjectid_value", "_machineid_value", "_machinegroupid_value",
	"_ownerid_value", "_createdby_value", "_modifiedby_value",
	"callbackurl", "connectionid", "gateway", "inputs", "inputs_name",
	"additionalcontext", "additionalcontext_name", "clienttrackingid", "rundetails",
	"runexecutionduration", "runwaitduration", "runsessionmode", "sessionusername",
	"sessionusersid", "errorinnererror", "parentworkflowid", "processversion",
	"versionnumber", "_owninguser_value", "_owningbusinessunit_value",
}

// unmodelledColumns are documented columns the emulator has no value for:
// selectable, always null.
var unmodelledColumns = []string{
	"gateway", "inputs", "inputs_name", "additionalcontext",
	"additionalcontext_name", "clienttrackingid", "rundetails", "runexecutionduration",
	"runwaitduration", "runsessionmode", "sessionusername", "sessionusersid",
	"errorinnererror", "parentworkflowid", "processversion", "_owningbusinessunit_value",
}

// row renders the snapshot as the columns of a flowsession row.
func (f FlowSession) row() map[string]any {
	runMode := 2
	if f.RunMode == "attended" {
		runMode = 1
	}
	ctx, _ := json.Marshal(map[string]any{
		"runMode": f.RunMode, "runPriority": f.RunPriority, "connectionName": f.ConnectionName,
		"connectionType": f.ConnectionType, "timeout": f.Timeout, "triggeredBy": "RunDesktopFlow",
	})
	var duration, outputs, outputsName any
	if f.StartedOn != nil && f.CompletedOn != nil {
		duration = int(f.CompletedOn.Sub(*f.StartedOn).Seconds())
	}
	if f.Outputs != nil {
		outputs, outputsName = fileID(f.ID), outputsFileName
	}
	row := map[string]any{
		"flowsessionid":            f.ID,
		"name":                     f.Name,
		"statuscode":               f.StatusCode,
		"statecode":                f.StateCode,
		"createdon":                odataTime(&f.CreatedOn),
		"modifiedon":               odataTime(&f.ModifiedOn),
		"startedon":                odataTime(f.StartedOn),
		"completedon":              odataTime(f.CompletedOn),
		"runduration":              duration,
		"errorcode":                nullIfEmpty(f.ErrorCode),
		"errormessage":             nullIfEmpty(f.ErrorMessage),
		"errordetails":             nil,
		"context":                  string(ctx),
		"correlationid":            f.CorrelationID,
		"runmode":                  runMode,
		"triggertype":              3,
		"outputs":                  outputs,
		"outputs_name":             outputsName,
		"_regardingobjectid_value": f.WorkflowID,
		"_machineid_value":         nil,
		"_machinegroupid_value":    nil,
		"_ownerid_value":           callerID,
		"_createdby_value":         callerID,
		"_modifiedby_value":        callerID,
		"_owninguser_value":        callerID,
		"callbackurl":              nullIfEmpty(f.CallbackURL),
		"connectionid":             nullIfEmpty(f.ConnectionID),
		"versionnumber":            f.Version,
	}
	for _, c := range unmodelledColumns {
		row[c] = nil
	}
	return row
}

// callerID is the systemuserid of the emulator's (single) application user.
const callerID = "00000000-0000-4000-8000-0000000000a1"

const outputsFileName = "outputs.json"

// fileID is a stable id of a session's outputs file.
func fileID(sessionID string) string {
	return "f11e" + sessionID[4:]
}

func odataTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// parseSelect splits $select and checks every column; nil means all columns.
func parseSelect(sel string, present bool) ([]string, *odataError) {
	if !present {
		return nil, nil
	}
	var cols []string
	for _, c := range strings.Split(sel, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, newError(400, CodeQuerySyntax, "Bad Request - Error in query syntax.")
		}
		if !containsString(flowSessionColumns, c) {
			return nil, newError(400, CodeQuerySyntax, fmt.Sprintf("Could not find a property named '%s' on type '%s'.", c, flowSessionType))
		}
		if !containsString(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// entityAnswer builds the GET answer: @odata.context, @odata.etag, the
// selected columns and always the primary key. The key order of Go maps is
// sorted when encoded, so the body is built as an ordered list.
func entityAnswer(org string, f FlowSession, cols []string, expanded orderedObject, expand []expandItem) orderedObject {
	row := f.row()
	ctx := org + apiPrefix + "$metadata#flowsessions/$entity"
	if ctxCols := (query{selNames: cols, expand: expand}).contextCols(); ctxCols != "" {
		ctx = org + apiPrefix + "$metadata#flowsessions" + ctxCols + "/$entity"
	}
	if cols == nil {
		cols = flowSessionColumns
	}
	obj := orderedObject{
		{"@odata.context", ctx},
		{"@odata.etag", fmt.Sprintf("W/\"%d\"", f.Version)},
	}
	for _, c := range cols {
		if c != "flowsessionid" {
			obj = append(obj, kv{c, row[c]})
		}
	}
	obj = append(obj, expanded...)
	return append(obj, kv{"flowsessionid", f.ID})
}

type kv struct {
	k string
	v any
}

// orderedObject is a JSON object that keeps its key order.
type orderedObject []kv

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// sortedKeys is used by tests and the admin answer to print maps stably.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
