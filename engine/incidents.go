package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// incident opens an incident on an element instance. step says what resolving it retries
// ("activate", "complete"); job incidents make the job activatable again instead.
func (e *Engine) incident(inst *ElementInstance, errType, msg string, jobKey int64, step string) {
	def := e.st.Definitions[inst.DefinitionKey]
	in := &Incident{Key: e.st.key(), ErrorType: errType, ErrorMessage: msg, ProcessID: def.ProcessID, DefinitionKey: def.Key,
		ProcessInstanceKey: inst.ProcessInstanceKey, ElementID: inst.ElementID, ElementInstanceKey: inst.Key,
		JobKey: jobKey, VariableScopeKey: inst.Key, Step: step}
	e.st.Incidents[in.Key] = in
	e.event("INCIDENT", "CREATED", in.Key, incValue(*in))
}

func incValue(in Incident) incidentValue {
	return incidentValue{ErrorType: in.ErrorType, ErrorMessage: in.ErrorMessage, BpmnProcessID: in.ProcessID,
		ProcessDefinitionKey: in.DefinitionKey, ProcessInstanceKey: in.ProcessInstanceKey, ElementID: in.ElementID,
		ElementInstanceKey: in.ElementInstanceKey, JobKey: in.JobKey, VariableScopeKey: in.VariableScopeKey, TenantID: DefaultTenant}
}

func (e *Engine) resolveIncidentsOf(inst *ElementInstance) {
	for _, k := range sortedKeys(e.st.Incidents) {
		if in := e.st.Incidents[k]; in.ElementInstanceKey == inst.Key {
			delete(e.st.Incidents, k)
			e.event("INCIDENT", "RESOLVED", k, incValue(*in))
		}
	}
}

func (e *Engine) resolve(c *Cmd) *Result {
	in := e.st.Incidents[c.Key]
	value := incidentValue{ErrorType: "UNKNOWN", JobKey: -1, ElementInstanceKey: -1, ProcessInstanceKey: -1,
		ProcessDefinitionKey: -1, VariableScopeKey: -1, TenantID: DefaultTenant}
	if in != nil {
		value = incValue(*in)
	}
	e.command("INCIDENT", "RESOLVE", c.Key, value)
	if in == nil {
		return e.rejected("INCIDENT", "RESOLVE", c.Key, value, RejectNotFound,
			fmt.Sprintf("Expected to resolve incident with key '%d', but no such incident was found", c.Key))
	}
	if in.JobKey > 0 {
		j := e.st.Jobs[in.JobKey]
		if j != nil && j.Retries <= 0 {
			res := e.rejected("INCIDENT", "RESOLVE", c.Key, value, RejectInvalidState,
				fmt.Sprintf("Expected to resolve incident with key '%d', but job with key '%d' has no retries left. Please update the job retries and retry resolving the incident", c.Key, j.Key))
			res.NotFoundFor = true
			return res
		}
		delete(e.st.Incidents, in.Key)
		e.event("INCIDENT", "RESOLVED", in.Key, value)
		if j != nil {
			j.State, j.Deadline, j.RecurringTime = JobActivatable, -1, -1
			e.st.addActivatable(j)
			e.becameActivatable(j)
		}
		return &Result{Key: in.Key}
	}
	delete(e.st.Incidents, in.Key)
	e.event("INCIDENT", "RESOLVED", in.Key, value)
	inst := e.st.Elements[in.ElementInstanceKey]
	if inst == nil {
		return &Result{Key: in.Key}
	}
	el := e.elementOf(inst)
	switch in.Step {
	case "activate":
		e.onActivating(inst, el)
	case "complete":
		if e.applyOutputs(inst, el) {
			e.finishCompletion(inst, el, el.Outgoing)
		}
	case "loop":
		// The scope's stopped token goes on from where it was: nothing to redo but to check
		// whether the scope has ended.
		if inst.Tokens == 0 {
			e.enqueue(func() { e.completeScope(inst) })
		}
	}
	return &Result{Key: in.Key}
}

// BPMN errors.

// findCatch looks for the error catch event of code, from inst up through its scopes: at each
// activity, an error boundary event with the code wins over a catch-all one.
func (e *Engine) findCatch(inst *ElementInstance, code string) (*ElementInstance, *bpmn.Element) {
	for cur := inst; cur != nil; cur = e.scopeOf(cur) {
		var all *bpmn.Element
		for _, b := range e.elementOf(cur).Boundaries {
			if b.EventType != bpmn.ErrorEvent {
				continue
			}
			if !b.CatchAll && b.ErrorCode == code {
				return cur, b
			}
			if b.CatchAll && all == nil {
				all = b
			}
		}
		if all != nil {
			return cur, all
		}
	}
	return nil, nil
}

func (e *Engine) availableErrors(inst *ElementInstance) []string {
	var codes []string
	for cur := inst; cur != nil; cur = e.scopeOf(cur) {
		for _, b := range e.elementOf(cur).Boundaries {
			if b.EventType == bpmn.ErrorEvent && !b.CatchAll {
				codes = append(codes, b.ErrorCode)
			}
		}
	}
	sort.Strings(codes)
	return codes
}

func uncaughtMessage(code, msg string, available []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Expected to throw an error event with the code '%s'", code)
	if msg != "" {
		fmt.Fprintf(&b, " with message '%s'", msg)
	}
	b.WriteString(", but it was not caught.")
	if len(available) == 0 {
		b.WriteString(" No error events are available in the scope.")
	} else {
		fmt.Fprintf(&b, " Available error events are [%s]", strings.Join(available, ", "))
	}
	return b.String()
}

func (e *Engine) throwError(c *Cmd) *Result {
	j, res := e.jobCommand(c, "THROW_ERROR", "throw an error for", c.Variables)
	if res != nil {
		return res
	}
	j.ErrorCode = c.Code
	j.ErrorMessage = truncateMessage(c.Message)
	inst := e.st.Elements[j.ElementInstanceKey]
	e.st.removeActivatable(j)
	var activity *ElementInstance
	var catch *bpmn.Element
	if inst != nil {
		activity, catch = e.findCatch(inst, c.Code)
	}
	if catch == nil {
		j.State, j.Deadline = JobErrorThrown, -1
		e.event("JOB", "ERROR_THROWN", j.Key, e.jobValue(j, orObject(c.Variables)))
		if inst != nil {
			e.incident(inst, "UNHANDLED_ERROR_EVENT", uncaughtMessage(c.Code, j.ErrorMessage, e.availableErrors(inst)), j.Key, "")
		}
		return &Result{Key: j.Key}
	}
	delete(e.st.Jobs, j.Key)
	inst.JobKey = 0
	e.event("JOB", "ERROR_THROWN", j.Key, e.jobValue(j, orObject(c.Variables)))
	e.fireBoundary(activity, catch, errorVariables(c.Variables))
	return &Result{Key: j.Key}
}

func errorVariables(v []byte) []byte {
	if len(strings.TrimSpace(string(v))) == 0 {
		return nil
	}
	return v
}

// throwFromEndEvent throws an error end event's code from its scope.
func (e *Engine) throwFromEndEvent(inst *ElementInstance, el *bpmn.Element) {
	scope := e.scopeOf(inst)
	activity, catch := e.findCatch(scope, el.ErrorCode)
	if catch == nil {
		e.incident(inst, "UNHANDLED_ERROR_EVENT", uncaughtMessage(el.ErrorCode, "", e.availableErrors(scope)), -1, "")
		return
	}
	e.fireBoundary(activity, catch, nil)
}
