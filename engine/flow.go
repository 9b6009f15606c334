package engine

import (
	"encoding/json"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// The life cycle of element instances: ACTIVATING → ACTIVATED → COMPLETING → COMPLETED, or
// TERMINATING → TERMINATED, each written as a PROCESS_INSTANCE event.

func (e *Engine) piValue(inst *ElementInstance, el *bpmn.Element) processInstanceValue {
	def := e.st.Definitions[inst.DefinitionKey]
	ev := string(el.EventType)
	if ev == "" {
		ev = string(bpmn.Unspecified)
	}
	return processInstanceValue{BpmnProcessID: def.ProcessID, Version: def.Version, ProcessDefinitionKey: def.Key,
		ProcessInstanceKey: inst.ProcessInstanceKey, ElementID: inst.ElementID, FlowScopeKey: inst.FlowScopeKey,
		BpmnElementType: string(el.Type), BpmnEventType: ev, ParentProcessInstanceKey: -1, ParentElementInstanceKey: -1,
		TenantID: DefaultTenant}
}

func (e *Engine) transition(inst *ElementInstance, el *bpmn.Element, intent string) {
	inst.State = intent
	e.event("PROCESS_INSTANCE", intent, inst.Key, e.piValue(inst, el))
}

func (e *Engine) scopeOf(inst *ElementInstance) *ElementInstance {
	if inst.FlowScopeKey == -1 {
		return nil
	}
	return e.st.Elements[inst.FlowScopeKey]
}

// activate creates an instance of el in scope and runs its activation; vars (a JSON object or
// nil) are set local on it first (message start, boundary events).
func (e *Engine) activate(scope *ElementInstance, el *bpmn.Element, vars json.RawMessage) *ElementInstance {
	inst := &ElementInstance{Key: e.st.key(), ProcessInstanceKey: scope.ProcessInstanceKey, DefinitionKey: scope.DefinitionKey,
		ElementID: el.ID, FlowScopeKey: scope.Key}
	e.st.Elements[inst.Key] = inst
	scope.Tokens++
	scope.Children = append(scope.Children, inst.Key)
	e.transition(inst, el, Activating)
	if len(vars) > 0 {
		e.setDocument(inst, vars, true)
	}
	e.onActivating(inst, el)
	return inst
}

// onActivating runs an element's activation; an incident leaves it ACTIVATING, and resolving
// the incident runs this again.
func (e *Engine) onActivating(inst *ElementInstance, el *bpmn.Element) {
	switch el.Type {
	case bpmn.StartEvent, bpmn.ParallelGateway, bpmn.BoundaryEvent:
		e.transition(inst, el, Activated)
		e.complete(inst)
	case bpmn.EndEvent:
		e.transition(inst, el, Activated)
		if el.EventType == bpmn.ErrorEvent {
			e.throwFromEndEvent(inst, el)
			return
		}
		e.complete(inst)
	case bpmn.ExclusiveGateway:
		flow, ok := e.chooseFlow(inst, el)
		if !ok {
			return
		}
		e.transition(inst, el, Activated)
		e.transition(inst, el, Completing)
		e.finishCompletion(inst, el, []*bpmn.Flow{flow})
	case bpmn.ServiceTask, bpmn.ReceiveTask, bpmn.SubProcess:
		if !e.applyInputs(inst, el) {
			return
		}
		var job *Job
		if el.Type == bpmn.ServiceTask {
			if job = e.prepareJob(inst, el); job == nil {
				return
			}
		}
		e.closeEvents(inst)
		if !e.openBoundaryEvents(inst, el) {
			return
		}
		if el.Type == bpmn.ReceiveTask && !e.openSubscription(inst, el) {
			return
		}
		e.transition(inst, el, Activated)
		switch el.Type {
		case bpmn.ServiceTask:
			e.createJob(inst, job)
		case bpmn.SubProcess:
			e.activate(inst, el.NoneStart, nil)
		}
		e.correlateBuffered(inst)
	case bpmn.IntermediateCatchEvent:
		e.closeEvents(inst)
		switch el.EventType {
		case bpmn.TimerEvent:
			if !e.openTimer(inst, el) {
				return
			}
		case bpmn.MessageEvt:
			if !e.openSubscription(inst, el) {
				return
			}
		}
		e.transition(inst, el, Activated)
		e.correlateBuffered(inst)
	}
}

// complete runs an element's completion: output mappings, then the outgoing flows.
func (e *Engine) complete(inst *ElementInstance) {
	el := e.elementOf(inst)
	e.transition(inst, el, Completing)
	if !e.applyOutputs(inst, el) {
		return
	}
	e.finishCompletion(inst, el, el.Outgoing)
}

// completeWith sets the variables an element completes with (job, message, error) and
// completes it: with output mappings (and always on error catch events) they are local on the
// element; otherwise they propagate from the element's own scope.
func (e *Engine) completeWith(inst *ElementInstance, el *bpmn.Element, vars json.RawMessage) {
	if len(vars) > 0 {
		local := len(el.Outputs) > 0 || el.EventType == bpmn.ErrorEvent
		e.setDocument(inst, vars, local)
	}
	e.complete(inst)
}

func (e *Engine) finishCompletion(inst *ElementInstance, el *bpmn.Element, flows []*bpmn.Flow) {
	e.closeEvents(inst)
	e.event("PROCESS_INSTANCE", "ELEMENT_COMPLETED", inst.Key, e.piValue(inst, el))
	scope := e.scopeOf(inst)
	if scope == nil {
		if a := e.awaiting[inst.Key]; a != nil {
			delete(e.awaiting, inst.Key)
			res := &Result{Variables: e.variablesJSON(inst, a.fetch)}
			e.afterSync = append(e.afterSync, func() { a.ch <- res })
		}
		e.remove(inst)
		return
	}
	e.remove(inst)
	if el.Type == bpmn.EndEvent && el.EventType == bpmn.Terminate {
		for _, k := range append([]int64(nil), scope.Children...) {
			if c := e.st.Elements[k]; c != nil {
				e.terminate(c)
			}
		}
		scope.Tokens, scope.Joins = 0, nil
		e.enqueue(func() { e.completeScope(scope) })
		return
	}
	for _, f := range flows {
		e.takeFlow(scope, f)
	}
	if scope.Tokens == 0 {
		e.enqueue(func() { e.completeScope(scope) })
	}
}

func (e *Engine) completeScope(scope *ElementInstance) {
	if e.st.Elements[scope.Key] != scope || scope.Tokens != 0 || scope.State != Activated {
		return
	}
	e.complete(scope)
}

// remove deletes a finished element instance and its local variables and gives back its token.
func (e *Engine) remove(inst *ElementInstance) {
	delete(e.st.Elements, inst.Key)
	delete(e.st.Variables, inst.Key)
	if scope := e.scopeOf(inst); scope != nil {
		scope.Tokens--
		for i, k := range scope.Children {
			if k == inst.Key {
				scope.Children = append(scope.Children[:i], scope.Children[i+1:]...)
				break
			}
		}
	}
}

func (e *Engine) takeFlow(scope *ElementInstance, f *bpmn.Flow) {
	def := e.st.Definitions[scope.DefinitionKey]
	e.event("PROCESS_INSTANCE", "SEQUENCE_FLOW_TAKEN", e.st.key(), processInstanceValue{BpmnProcessID: def.ProcessID,
		Version: def.Version, ProcessDefinitionKey: def.Key, ProcessInstanceKey: scope.ProcessInstanceKey, ElementID: f.ID,
		FlowScopeKey: scope.Key, BpmnElementType: string(bpmn.SequenceFlow), BpmnEventType: string(bpmn.Unspecified),
		ParentProcessInstanceKey: -1, ParentElementInstanceKey: -1, TenantID: DefaultTenant})
	scope.Tokens++ // the token on the flow keeps the scope alive until it arrives
	e.enqueue(func() { e.arrive(scope, f) })
}

// arrive moves a token from a flow into its target; a joining parallel gateway waits for a
// token on every incoming flow.
func (e *Engine) arrive(scope *ElementInstance, f *bpmn.Flow) {
	if e.st.Elements[scope.Key] != scope || scope.State == Terminating {
		return
	}
	if e.steps > maxSteps {
		e.incident(scope, "UNKNOWN", "The process took more than 100000 steps without waiting for anything (a loop without a wait state?); resolve the incident to go on", -1, "loop")
		scope.Tokens--
		return
	}
	t := f.Target
	if t.Type == bpmn.ParallelGateway && len(t.Incoming) > 1 {
		if scope.Joins == nil {
			scope.Joins = map[string]int{}
		}
		scope.Joins[f.ID]++
		for _, in := range t.Incoming {
			if scope.Joins[in.ID] == 0 {
				return // wait: the token stays counted in scope.Tokens
			}
		}
		for _, in := range t.Incoming {
			if scope.Joins[in.ID]--; scope.Joins[in.ID] == 0 {
				delete(scope.Joins, in.ID)
			}
		}
		scope.Tokens -= len(t.Incoming)
		e.activate(scope, t, nil)
		return
	}
	scope.Tokens--
	e.activate(scope, t, nil)
}

// terminate ends an element instance and everything in it: children, job, incidents, timers,
// subscriptions. It does not complete the scope.
func (e *Engine) terminate(inst *ElementInstance) {
	el := e.elementOf(inst)
	e.transition(inst, el, Terminating)
	for i := len(inst.Children) - 1; i >= 0; i-- {
		if c := e.st.Elements[inst.Children[i]]; c != nil {
			e.terminate(c)
		}
	}
	if inst.JobKey != 0 {
		if j := e.st.Jobs[inst.JobKey]; j != nil {
			e.st.removeActivatable(j)
			delete(e.st.Jobs, j.Key)
			e.event("JOB", "CANCELED", j.Key, e.jobValue(j, nil))
		}
		inst.JobKey = 0
	}
	e.resolveIncidentsOf(inst)
	e.closeEvents(inst)
	e.event("PROCESS_INSTANCE", "ELEMENT_TERMINATED", inst.Key, e.piValue(inst, el))
	e.remove(inst)
	// A cancelled or terminated instance never answers CreateProcessInstanceWithResult: the
	// client's request times out, as on Zeebe.
	delete(e.awaiting, inst.Key)
}
