package engine

import (
	"encoding/json"
	"fmt"
)

// create starts a process instance at its none start event.
func (e *Engine) create(c *Cmd) *Result {
	intent := "CREATE"
	if c.Await {
		intent = "CREATE_WITH_AWAITING_RESULT"
	}
	vars := c.Variables
	if len(vars) == 0 {
		vars = json.RawMessage("{}")
	}
	value := processInstanceCreationValue{BpmnProcessID: c.ProcessID, ProcessDefinitionKey: c.Key, Version: c.Version,
		Variables: vars, StartInstructions: []any{}, ProcessInstanceKey: -1, FetchVariables: orEmpty(c.Fetch), TenantID: DefaultTenant}
	e.command("PROCESS_INSTANCE_CREATION", intent, -1, value)
	var def *Definition
	switch {
	case c.ProcessID != "" && c.Version == -1:
		def = e.st.Definitions[e.st.Latest[c.ProcessID]]
		if def == nil {
			return e.rejected("PROCESS_INSTANCE_CREATION", intent, -1, value, RejectNotFound,
				fmt.Sprintf("Expected to find process definition with process ID '%s', but none found", c.ProcessID))
		}
	case c.ProcessID != "":
		for _, k := range sortedKeys(e.st.Definitions) {
			if d := e.st.Definitions[k]; d.ProcessID == c.ProcessID && d.Version == c.Version {
				def = d
			}
		}
		if def == nil {
			return e.rejected("PROCESS_INSTANCE_CREATION", intent, -1, value, RejectNotFound,
				fmt.Sprintf("Expected to find process definition with process ID '%s' and version '%d', but none found", c.ProcessID, c.Version))
		}
	case c.HasKey && c.Key >= 0:
		def = e.st.Definitions[c.Key]
		if def == nil {
			return e.rejected("PROCESS_INSTANCE_CREATION", intent, -1, value, RejectNotFound,
				fmt.Sprintf("Expected to find process definition with key '%d', but none found", c.Key))
		}
	default:
		return e.rejected("PROCESS_INSTANCE_CREATION", intent, -1, value, RejectInvalidArgument,
			"Expected at least a bpmnProcessId or a key greater than -1, but none given")
	}
	m := e.model(def.Key)
	if m.Root.NoneStart == nil {
		return e.rejected("PROCESS_INSTANCE_CREATION", intent, -1, value, RejectInvalidState,
			"Expected to create instance of process with none start event, but there is no such event")
	}
	pi := e.newProcessInstance(def)
	if e.await != nil {
		e.awaiting[pi.Key] = &awaiter{ch: e.await, fetch: c.Fetch}
	}
	// Keys first appear in the order they were drawn: the process instance's (ACTIVATING), its
	// variables', then the creation's; the start event runs after the variables exist.
	e.transition(pi, m.Root, Activating)
	e.setDocument(pi, vars, true)
	value.ProcessDefinitionKey, value.BpmnProcessID, value.Version, value.ProcessInstanceKey = def.Key, def.ProcessID, def.Version, pi.Key
	e.event("PROCESS_INSTANCE_CREATION", "CREATED", e.st.key(), value)
	e.transition(pi, m.Root, Activated)
	e.activate(pi, m.Root.NoneStart, nil)
	return &Result{Instance: &InstanceCreated{DefinitionKey: def.Key, ProcessID: def.ProcessID, Version: def.Version, Key: pi.Key}}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *Engine) newProcessInstance(def *Definition) *ElementInstance {
	k := e.st.key()
	pi := &ElementInstance{Key: k, ProcessInstanceKey: k, DefinitionKey: def.Key, ElementID: def.ProcessID, FlowScopeKey: -1, State: Activating}
	e.st.Elements[k] = pi
	return pi
}

// cancel terminates a root process instance.
func (e *Engine) cancel(c *Cmd) *Result {
	value := processInstanceValue{ProcessInstanceKey: c.Key, FlowScopeKey: -1, ParentProcessInstanceKey: -1, ParentElementInstanceKey: -1,
		BpmnElementType: "UNSPECIFIED", BpmnEventType: "UNSPECIFIED", TenantID: DefaultTenant}
	e.command("PROCESS_INSTANCE", "CANCEL", c.Key, value)
	pi := e.st.Elements[c.Key]
	if pi == nil || pi.FlowScopeKey != -1 || pi.State == Terminating {
		return e.rejected("PROCESS_INSTANCE", "CANCEL", c.Key, value, RejectNotFound,
			fmt.Sprintf("Expected to cancel a process instance with key '%d', but no such process was found", c.Key))
	}
	e.terminate(pi)
	return &Result{Key: c.Key}
}
