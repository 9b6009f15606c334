package dataversetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBodyBytes bounds a RunDesktopFlow body: 2 MB of inputs, JSON-escaped
// at most six bytes per byte, plus the other parameters.
const maxBodyBytes = 6*MaxInputsBytes + 64<<10

var badKey = newError(http.StatusBadRequest, CodeQuerySyntax, "Bad Request - Error in query syntax.")

// serveRun is RunDesktopFlow, bound to workflows({id}).
func (e *Emulator) serveRun(w http.ResponseWriter, r *http.Request, rt route, caller string) {
	if r.Method != rt.method {
		wrongMethod(w, r)
		return
	}
	workflowID, ok := parseGUID(rt.key)
	if !ok {
		writeError(w, badKey)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, newError(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("The request body is larger than the maximum of %d bytes.", maxBodyBytes)))
			return
		}
		writeError(w, payloadError("Invalid JSON. The request body could not be read."))
		return
	}
	req, perr := parseRunBody(body)
	if perr != nil {
		writeError(w, perr)
		return
	}
	flow, ok := e.flows[workflowID]
	if !ok {
		writeError(w, notFoundRow("workflow", workflowID))
		return
	}
	inputs, verr := req.validate(e.opts.CallbackAllowedHosts)
	if verr != nil {
		writeError(w, verr)
		return
	}
	connection, conn, checked, cerr := e.resolveConnection(req, caller)
	if cerr != nil {
		writeError(w, cerr)
		return
	}
	throttled, terr := e.admitTrigger(req.ConnectionName)
	if terr != nil {
		writeError(w, terr)
		return
	}
	now := e.now()
	s := newSession(newGUID(), workflowID, failOnInputs(offlineMachine(flow, conn), inputs), req, inputs, caller, now)
	if checked {
		s.ConnectionID = connection
	}
	if throttled {
		// Accepted, and failed before any machine took it: no startedon.
		s.finish(now, StatusFailed, CodeTriggerLimit, throttledRunMessage(e.opts.Limits.TriggersPerMinute), func() int64 { return 0 })
	}
	e.startRun(s)
	code := flow.LicenseCheck
	if code == "" {
		code = "ValidLicenseCoverage"
	}
	writeJSON(w, http.StatusOK, orderedObject{
		{"@odata.context", orgURL(r) + apiPrefix + "$metadata#Microsoft.Dynamics.CRM.RunDesktopFlowResponse"},
		{"flowsessionId", s.ID},
		{"licenseCheck", orderedObject{
			{"@odata.context", "#Microsoft.Dynamics.CRM.expando"},
			{"code", code},
			{"message", licenseMessage(code)},
		}},
	})
}

func licenseMessage(code string) string {
	switch code {
	case "ValidLicenseCoverage":
		return "Valid License Coverage"
	case "LicensingCheckFailed":
		return "Licensing Check Failed"
	case "AttendedNoLicense":
		return "The user has no license for attended runs"
	case "UnattendedNoAddon":
		return "No unattended add-on is allocated to the environment"
	}
	return code
}

// serveGetSession is GET flowsessions({id}) with optional $select.
func (e *Emulator) serveGetSession(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != rt.method {
		wrongMethod(w, r)
		return
	}
	id, ok := parseGUID(rt.key)
	if !ok {
		writeError(w, badKey)
		return
	}
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "$") && k != "$select" && k != "$expand" {
			writeError(w, unsupportedOption(k))
			return
		}
	}
	sel, present := q["$select"]
	cols, serr := parseSelect(strings.Join(sel, ","), present)
	if serr != nil {
		writeError(w, serr)
		return
	}
	expand, xerr := e.parseSessionExpand(q.Get("$expand"))
	if xerr != nil {
		writeError(w, xerr)
		return
	}
	p, perr := parsePrefer(r.Header)
	if perr != nil {
		writeError(w, perr)
		return
	}
	var snap FlowSession
	if !e.withSession(id, func(s *session) { snap = s.FlowSession }) {
		writeError(w, notFoundRow("flowsession", id))
		return
	}
	etag := fmt.Sprintf("W/\"%d\"", snap.Version)
	w.Header().Set("ETag", etag)
	// Documented: no 304 when the request asks for annotations.
	if inm := r.Header.Get("If-None-Match"); inm != "" && p.annotations == "" && (inm == etag || inm == "*") {
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	obj := entityAnswer(orgURL(r), snap, cols, e.expandSession(snap.WorkflowID, expand), expand)
	if p.annotations != "" {
		w.Header().Set("Preference-Applied", `odata.include-annotations="`+p.annotations+`"`)
		obj = e.annotateSession(obj, flowName(snap.WorkflowID, e.flows[snap.WorkflowID]), p)
	}
	writeJSON(w, http.StatusOK, obj)
}

// serveOutputs downloads the outputs file column of a run.
func (e *Emulator) serveOutputs(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != rt.method {
		wrongMethod(w, r)
		return
	}
	id, ok := parseGUID(rt.key)
	if !ok {
		writeError(w, badKey)
		return
	}
	var out []byte
	if !e.withSession(id, func(s *session) { out = s.Outputs }) {
		writeError(w, notFoundRow("flowsession", id))
		return
	}
	if out == nil {
		writeError(w, newError(http.StatusNotFound, CodeObjectDoesNotExist, fmt.Sprintf("No file attachment found for attribute: outputs EntityId: %s.", id)))
		return
	}
	writeFile(w, outputsFileName, out)
}

// serveCancel is CancelDesktopFlowRun, bound to flowsessions({id}).
func (e *Emulator) serveCancel(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != rt.method {
		wrongMethod(w, r)
		return
	}
	id, ok := parseGUID(rt.key)
	if !ok {
		writeError(w, badKey)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, payloadError("Invalid JSON. The request body could not be read."))
		return
	}
	if perr := parseNoParams(body, "CancelDesktopFlowRun"); perr != nil {
		writeError(w, perr)
		return
	}
	now := e.now()
	var refused *odataError
	if !e.withSession(id, func(s *session) { refused = e.cancelLocked(s, now) }) {
		writeError(w, notFoundRow("flowsession", id))
		return
	}
	if refused != nil {
		writeError(w, refused)
		return
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
}

// parseNoParams accepts an empty body or a JSON object without parameters.
func parseNoParams(body []byte, op string) *odataError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return payloadError("Invalid JSON. " + jsonProblem(err))
	}
	for _, k := range sortedKeys(obj) {
		if !strings.HasPrefix(k, "@") {
			return payloadError(fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, op))
		}
	}
	return nil
}
