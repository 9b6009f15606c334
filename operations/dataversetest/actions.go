package dataversetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parameter is a request parameter of a custom API.
type Parameter struct {
	Name string `json:"name"`
	// Type is Edm.String, Edm.Int32, Edm.Decimal, Edm.Double, Edm.Boolean,
	// Edm.Guid, Edm.DateTimeOffset or Object (any JSON object).
	Type     string `json:"type"`
	Optional bool   `json:"optional,omitempty"`
}

// Action is a custom API (or custom process action). Unbound ones are
// called as POST /api/data/v9.2/{Name}, bound ones as POST
// /api/data/v9.2/{entity set}({id})/Microsoft.Dynamics.CRM.{Name}.
type Action struct {
	// Name is the unique name, e.g. "new_NotifyOwner" (case-sensitive).
	Name string `json:"name"`
	// BoundTable is the logical name of the table the action is bound to; "" = unbound.
	BoundTable string `json:"boundTable,omitempty"`
	// Inputs are the request parameters; any other parameter is refused.
	Inputs []Parameter `json:"inputs,omitempty"`
	// Outputs are the response properties. A string "${inputs.X}" becomes
	// input X, "${row.id}" the bound row's id. No outputs: 204 No Content.
	Outputs map[string]any `json:"outputs,omitempty"`
	// Fail makes every call fail as a plug-in exception would: 400 0x80040265 with this message.
	Fail string `json:"fail,omitempty"`
}

// ActionCall is one accepted call of a custom API, for tests.
type ActionCall struct {
	Name   string         `json:"name"`
	Table  string         `json:"table,omitempty"`
	RowID  string         `json:"rowId,omitempty"`
	Inputs map[string]any `json:"inputs"`
	Time   time.Time      `json:"time"`
}

var actionTypes = []string{"Edm.String", "Edm.Int32", "Edm.Decimal", "Edm.Double", "Edm.Boolean", "Edm.Guid", "Edm.DateTimeOffset", "Object"}

func compileActions(list []Action, tables map[string]*table) (map[string]*Action, error) {
	out := map[string]*Action{}
	for i := range list {
		a := list[i]
		where := fmt.Sprintf("actions[%d] (%s)", i, a.Name)
		if a.Name == "" || strings.ContainsAny(a.Name, "/()'. ") {
			return nil, fmt.Errorf("%s: name must be set and be a plain unique name", where)
		}
		if _, dup := out[a.Name]; dup {
			return nil, fmt.Errorf("%s: name is used twice", where)
		}
		if a.BoundTable != "" && tables[a.BoundTable] == nil {
			return nil, fmt.Errorf("%s: boundTable %s is not a table", where, a.BoundTable)
		}
		for _, p := range a.Inputs {
			if !containsString(actionTypes, p.Type) {
				return nil, fmt.Errorf("%s: input %s: type %q is not one of %s", where, p.Name, p.Type, strings.Join(actionTypes, ", "))
			}
		}
		out[a.Name] = &a
	}
	return out, nil
}

// ActionCalls returns the accepted custom API calls, oldest first (the last 10,000).
func (e *Emulator) ActionCalls() []ActionCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ActionCall(nil), e.actionLog...)
}

// serveAction calls a bound or unbound custom API.
func (e *Emulator) serveAction(w http.ResponseWriter, r *http.Request, rt route) {
	name := strings.TrimPrefix(rt.set, "Microsoft.Dynamics.CRM.")
	if rt.table != nil {
		name = strings.TrimPrefix(rt.tail, "/Microsoft.Dynamics.CRM.")
	}
	a := e.actions[name]
	boundOK := a != nil && (rt.table == nil) == (a.BoundTable == "") && (rt.table == nil || rt.table.LogicalName == a.BoundTable)
	if !boundOK {
		seg := rt.set
		if rt.table != nil {
			seg = strings.Split(strings.TrimPrefix(rt.tail, "/"), "/")[0]
		}
		writeError(w, newError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg)))
		return
	}
	if r.Method != http.MethodPost {
		wrongMethod(w, r)
		return
	}
	call := ActionCall{Name: a.Name, Time: e.now()}
	if rt.table != nil {
		e.mu.Lock()
		rw, err := e.findRowLocked(rt.table, rt.key)
		e.mu.Unlock()
		if err != nil {
			writeError(w, err)
			return
		}
		call.Table, call.RowID = rt.table.LogicalName, rw.id
	}
	body, berr := readBody(w, r, maxRowBodyBytes)
	if berr != nil {
		writeError(w, berr)
		return
	}
	inputs, perr := parseActionBody(a, body)
	if perr != nil {
		writeError(w, perr)
		return
	}
	if a.Fail != "" {
		writeError(w, newError(http.StatusBadRequest, CodeActionFailed, a.Fail))
		return
	}
	call.Inputs = inputs
	e.mu.Lock()
	if len(e.actionLog) >= maxCalls { // bounded like Calls
		e.actionLog = append(e.actionLog[:0], e.actionLog[1:]...)
	}
	e.actionLog = append(e.actionLog, call)
	e.mu.Unlock()
	if len(a.Outputs) == 0 {
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	vars := map[string]any{}
	for k, v := range inputs {
		vars[k] = v
	}
	obj := orderedObject{{"@odata.context", metadataURL(r) + "Microsoft.Dynamics.CRM." + a.Name + "Response"}}
	for _, k := range sortedKeys(a.Outputs) {
		v := a.Outputs[k]
		if v == "${row.id}" {
			v = call.RowID
		}
		obj = append(obj, kv{k, substitute(v, vars)})
	}
	writeJSON(w, http.StatusOK, obj)
}

// parseActionBody type-checks the parameters of a call.
func parseActionBody(a *Action, body []byte) (map[string]any, *odataError) {
	inputs := map[string]any{}
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return nil, payloadError("Invalid JSON. " + jsonProblem(err))
		}
	}
	specs := map[string]Parameter{}
	for _, p := range a.Inputs {
		specs[p.Name] = p
	}
	for _, k := range sortedKeys(obj) {
		if strings.HasPrefix(k, "@") {
			continue
		}
		p, ok := specs[k]
		if !ok {
			return nil, payloadError(fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, a.Name))
		}
		v, err := parameterValue(p, obj[k])
		if err != nil {
			return nil, err
		}
		if v != nil {
			inputs[k] = v
		}
	}
	var missing []string
	for _, p := range a.Inputs {
		if _, ok := inputs[p.Name]; !ok && !p.Optional {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nil, payloadError(fmt.Sprintf("One or more parameters of the operation '%s' are missing from the request payload. The missing parameters are: %s.", a.Name, strings.Join(missing, ", ")))
	}
	return inputs, nil
}

func parameterValue(p Parameter, raw json.RawMessage) (any, *odataError) {
	if string(raw) == "null" {
		if !p.Optional {
			return nil, payloadError(fmt.Sprintf("A null value was found for the property named '%s', which has the expected type '%s[Nullable=False]'. The expected type '%s[Nullable=False]' does not allow null values.", p.Name, p.Type, p.Type))
		}
		return nil, nil
	}
	cannot := payloadError(fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal(raw), p.Type))
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil, cannot
	}
	switch p.Type {
	case "Object":
		if m, ok := v.(map[string]any); ok {
			return normalizeNumbers(m), nil
		}
	case "Edm.String":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "Edm.Boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "Edm.Guid":
		if s, ok := v.(string); ok {
			if g, ok := parseGUID(s); ok {
				return g, nil
			}
		}
	case "Edm.DateTimeOffset":
		if s, ok := v.(string); ok {
			if d, ok := parseDateTime(s); ok {
				return d, nil
			}
		}
	case "Edm.Int32":
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(n.String(), 10, 32); err == nil {
				return i, nil
			}
		}
	default: // Edm.Decimal, Edm.Double
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		}
	}
	return nil, cannot
}

// normalizeNumbers turns json.Number into float64 so values print as numbers.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
	}
	return v
}
