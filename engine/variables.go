package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pa-connector/pa-connector/engine/bpmn"
	"github.com/pa-connector/pa-connector/expr"
)

// Variables follow Zeebe 8.5 (reference §D): a scope sees its own variables and its
// ancestors'; a local set writes on the scope; a propagating set walks up from the scope to
// the first one holding the name with a different value, or creates it at the root.

// setDocument sets every entry of a JSON object (validated by the gateway), in name order.
func (e *Engine) setDocument(scope *ElementInstance, doc json.RawMessage, local bool) {
	entries, err := documentEntries(doc)
	if err != nil {
		return
	}
	for _, en := range entries {
		if local {
			e.setVar(scope, en.name, en.value)
		} else {
			e.propagateVar(scope, en.name, en.value)
		}
	}
}

type entry struct{ name, value string }

// documentEntries splits a JSON object into compact JSON texts of its values, sorted by name.
func documentEntries(doc json.RawMessage) ([]entry, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(m))
	var buf bytes.Buffer
	for _, name := range sortedNames(m) {
		buf.Reset()
		if err := json.Compact(&buf, m[name]); err != nil {
			return nil, err
		}
		out = append(out, entry{name, buf.String()})
	}
	return out, nil
}

func (e *Engine) varValue(scope *ElementInstance, name, value string, key int64) variableValue {
	def := e.st.Definitions[scope.DefinitionKey]
	return variableValue{Name: name, Value: value, ScopeKey: scope.Key, ProcessInstanceKey: scope.ProcessInstanceKey,
		ProcessDefinitionKey: def.Key, BpmnProcessID: def.ProcessID, TenantID: DefaultTenant}
}

// setVar creates or updates a variable on scope; an equal value writes nothing.
func (e *Engine) setVar(scope *ElementInstance, name, value string) {
	vars := e.st.Variables[scope.Key]
	if vars == nil {
		vars = map[string]*Variable{}
		e.st.Variables[scope.Key] = vars
	}
	v := vars[name]
	switch {
	case v == nil:
		v = &Variable{Key: e.st.key(), Value: value}
		vars[name] = v
		e.event("VARIABLE", "CREATED", v.Key, e.varValue(scope, name, value, v.Key))
	case v.Value != value:
		v.Value = value
		e.event("VARIABLE", "UPDATED", v.Key, e.varValue(scope, name, value, v.Key))
	}
}

func (e *Engine) propagateVar(start *ElementInstance, name, value string) {
	var root *ElementInstance
	for cur := start; cur != nil; cur = e.scopeOf(cur) {
		if v := e.st.Variables[cur.Key][name]; v != nil && v.Value != value {
			e.setVar(cur, name, value)
			return
		}
		root = cur
	}
	if root != nil {
		e.setVar(root, name, value)
	}
}

// visible returns the JSON texts of the variables inst sees (locals hide ancestors').
func (e *Engine) visible(inst *ElementInstance) map[string]string {
	out := map[string]string{}
	for cur := inst; cur != nil; cur = e.scopeOf(cur) {
		for name, v := range e.st.Variables[cur.Key] {
			if _, ok := out[name]; !ok {
				out[name] = v.Value
			}
		}
	}
	return out
}

// variablesJSON is the JSON object of the variables inst sees, or only those named in fetch
// that exist.
func (e *Engine) variablesJSON(inst *ElementInstance, fetch []string) string {
	vis := e.visible(inst)
	names := fetch
	if len(names) == 0 {
		names = sortedNames(vis)
	} else {
		names = append([]string(nil), names...)
		sort.Strings(names)
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for i, name := range names {
		if i > 0 && name == names[i-1] {
			continue
		}
		v, ok := vis[name]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		q, _ := json.Marshal(name)
		b.Write(q)
		b.WriteByte(':')
		b.WriteString(v)
	}
	b.WriteByte('}')
	return b.String()
}

// env is what FEEL sees from inst: every visible variable, decoded.
func (e *Engine) env(inst *ElementInstance) map[string]any {
	vis := e.visible(inst)
	env := make(map[string]any, len(vis))
	for name, raw := range vis {
		v, err := expr.DecodeJSON([]byte(raw))
		if err == nil {
			env[name] = v
		}
	}
	return env
}

// value evaluates a raw attribute: "=FEEL" is evaluated, anything else is a string.
func (e *Engine) value(raw string, env map[string]any) (any, error) {
	if !bpmn.IsFEEL(raw) {
		return raw, nil
	}
	e.warnings = nil
	p, err := e.programs.Compile(raw)
	if err != nil {
		return nil, err
	}
	v, ws, err := p.EvalWarnings(context.Background(), env)
	e.warnings = ws
	return v, err
}

// mismatch is the message of an incident for a value of the wrong type, with the warnings of
// the evaluation that gave it, as Zeebe words them ("… The evaluation reported the following
// warnings: [NOT_COMPARABLE] …"): why a condition gave null instead of a boolean.
func (e *Engine) mismatch(format string, args ...any) string {
	return expr.WithWarnings(fmt.Sprintf(format, args...), e.warnings)
}

// feelType names a FEEL value's type as Zeebe's messages do.
func feelType(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOLEAN"
	case string:
		return "STRING"
	case int, int64, float64, json.Number:
		return "NUMBER"
	case map[string]any:
		return "CONTEXT"
	case []any:
		return "LIST"
	}
	return strings.ToUpper(fmt.Sprintf("%T", v))
}

func exprText(raw string) string { return strings.TrimSpace(strings.TrimPrefix(raw, "=")) }

// applyInputs evaluates the element's input mappings as one context (a later mapping sees an
// earlier target) and sets the result local on the element. A failure is an IO_MAPPING_ERROR
// incident and false.
func (e *Engine) applyInputs(inst *ElementInstance, el *bpmn.Element) bool {
	if len(el.Inputs) == 0 {
		return true
	}
	env := e.env(inst)
	out := map[string]any{}
	for _, m := range el.Inputs {
		v, err := e.value(m.Source, env)
		if err != nil {
			e.incident(inst, "IO_MAPPING_ERROR", err.Error(), -1, "activate")
			return false
		}
		assignPath(out, m.Target, v, nil)
		top := strings.SplitN(m.Target, ".", 2)[0]
		env[top] = out[top]
	}
	return e.setMap(inst, out, true)
}

// applyOutputs evaluates the element's output mappings in its scope and propagates the result
// from its flow scope; a nested target merges into the variable its flow scope sees.
func (e *Engine) applyOutputs(inst *ElementInstance, el *bpmn.Element) bool {
	if len(el.Outputs) == 0 {
		return true
	}
	env := e.env(inst)
	scope := e.scopeOf(inst)
	var outer map[string]any
	out := map[string]any{}
	for _, m := range el.Outputs {
		v, err := e.value(m.Source, env)
		if err != nil {
			e.incident(inst, "IO_MAPPING_ERROR", err.Error(), -1, "complete")
			return false
		}
		if strings.Contains(m.Target, ".") && outer == nil && scope != nil {
			outer = e.env(scope)
		}
		assignPath(out, m.Target, v, outer)
	}
	if scope == nil {
		return true
	}
	return e.setMap(scope, out, false)
}

func (e *Engine) setMap(scope *ElementInstance, m map[string]any, local bool) bool {
	for _, name := range sortedNames(m) {
		data, err := marshal(m[name])
		if err != nil {
			e.incident(scope, "IO_MAPPING_ERROR", fmt.Sprintf("the value of '%s' cannot be stored as JSON: %v", name, err), -1, "activate")
			return false
		}
		if local {
			e.setVar(scope, name, string(data))
		} else {
			e.propagateVar(scope, name, string(data))
		}
	}
	return true
}

// assignPath sets target ("a" or "a.b.c") in out. The first write into a top-level name starts
// from outer's value of it when that is a context (output mappings merge), else from {}.
func assignPath(out map[string]any, target string, v any, outer map[string]any) {
	parts := strings.Split(target, ".")
	if len(parts) == 1 {
		out[target] = v
		return
	}
	cur, ok := out[parts[0]].(map[string]any)
	if !ok {
		cur = map[string]any{}
		if o, isMap := outer[parts[0]].(map[string]any); isMap {
			for k, x := range o {
				cur[k] = x
			}
		}
		out[parts[0]] = cur
	}
	for _, p := range parts[1 : len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
		} else {
			cp := make(map[string]any, len(next))
			for k, x := range next {
				cp[k] = x
			}
			next = cp
		}
		cur[p] = next
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

// setVariables is SetVariables: on any active element instance, local or propagating.
func (e *Engine) setVariables(c *Cmd) *Result {
	semantics := "PROPAGATE"
	if c.Local {
		semantics = "LOCAL"
	}
	value := variableDocumentValue{ScopeKey: c.Key, UpdateSemantics: semantics, Variables: orObject(c.Variables), TenantID: DefaultTenant}
	e.command("VARIABLE_DOCUMENT", "UPDATE", -1, value)
	scope := e.st.Elements[c.Key]
	if scope == nil || scope.State == Terminating {
		return e.rejected("VARIABLE_DOCUMENT", "UPDATE", -1, value, RejectNotFound,
			fmt.Sprintf("Expected to update variables for element with key '%d', but no such element was found", c.Key))
	}
	e.setDocument(scope, c.Variables, c.Local)
	k := e.st.key()
	e.event("VARIABLE_DOCUMENT", "UPDATED", k, value)
	return &Result{Key: k}
}

func orObject(v json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(v)) == 0 {
		return json.RawMessage("{}")
	}
	return v
}

// numberString is a correlation key's text for a number: its long value.
func numberString(v any) string {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10)
	case float64:
		return strconv.FormatInt(int64(n), 10)
	case json.Number: // a decimal: its long value
		f, _ := n.Float64()
		return strconv.FormatInt(int64(f), 10)
	}
	return fmt.Sprint(v)
}

// marshal encodes a FEEL result as plain JSON: no HTML escaping, as Zeebe's MessagePack
// round trip gives.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
