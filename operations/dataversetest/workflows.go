package dataversetest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Operation names of a desktop flow's schema downloads (Call.Op, Fault.Op).
const (
	OpGetWorkflowInputs  = "GetWorkflowInputs"
	OpGetWorkflowOutputs = "GetWorkflowOutputs"
)

// Workflow categories and states (the workflow table's category and statecode columns).
const (
	CategoryModernFlow  = 5
	CategoryDesktopFlow = 6
	WorkflowDraft       = 0 // statecode Draft: unpublished
	WorkflowActivated   = 1
)

// The types a flow variable may declare: the JSON types of its values.
var variableTypes = []string{"string", "number", "integer", "boolean", "object", "array"}

// FlowVariable is one input or output variable of a desktop flow, as its schema
// (workflows(id)/inputs/$value) describes it.
type FlowVariable struct {
	Name string `json:"name"`
	// Type is string, number, integer, boolean, object or array.
	Type        string `json:"type"`
	Title       string `json:"title,omitempty"` // default Name
	Description string `json:"description,omitempty"`
	Default     any    `json:"default,omitempty"`
	Format      string `json:"format,omitempty"`
	// Required lists the input in the schema's "required" array: a run without it fails.
	Required bool `json:"required,omitempty"`
}

// checkVariables reports the first invalid variable of a flow's inputs or outputs, naming it
// by where (flows[<id>].inputSchema).
func checkVariables(where string, vars []FlowVariable) error {
	seen := map[string]bool{}
	for i, v := range vars {
		at := fmt.Sprintf("%s[%d]", where, i)
		switch {
		case strings.TrimSpace(v.Name) == "":
			return fmt.Errorf("%s.name is required", at)
		case seen[v.Name]:
			return fmt.Errorf("%s.name %q is declared twice", at, v.Name)
		case !containsString(variableTypes, v.Type):
			return fmt.Errorf("%s.type %q is not one of %s", at, v.Type, strings.Join(variableTypes, ", "))
		case v.Default != nil && jsonType(v.Default, v.Type) != v.Type:
			return fmt.Errorf("%s.default is a %s, not a %s", at, jsonType(v.Default, v.Type), v.Type)
		}
		seen[v.Name] = true
	}
	return nil
}

// jsonType names the JSON type of a decoded value; a whole number is an integer when want is.
func jsonType(v any, want string) string {
	switch n := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return numberType(f, want)
		}
		return "number"
	case float64:
		return numberType(n, want)
	case int, int64:
		return numberType(0, want)
	}
	return fmt.Sprintf("%T", v)
}

func numberType(f float64, want string) string {
	if want == "integer" && f == math.Trunc(f) {
		return "integer"
	}
	return "number"
}

// inputProblem says why a run's inputs do not match the flow's input variables: an unknown
// name, a missing required input or a value of the wrong type; "" when they match. It never
// quotes a value.
func inputProblem(vars []FlowVariable, inputs map[string]any) string {
	byName := map[string]FlowVariable{}
	for _, v := range vars {
		byName[v.Name] = v
	}
	for _, name := range sortedKeys(inputs) {
		v, ok := byName[name]
		if !ok {
			return fmt.Sprintf("The input '%s' is not an input variable of the desktop flow.", name)
		}
		if got := jsonType(inputs[name], v.Type); got != v.Type {
			return fmt.Sprintf("The input '%s' must be a %s, not a %s.", name, v.Type, got)
		}
	}
	for _, v := range vars {
		if _, ok := inputs[v.Name]; v.Required && !ok {
			return fmt.Sprintf("The required input '%s' is missing.", v.Name)
		}
	}
	return ""
}

// ErrorInvalidInputs is the errorcode of a run whose inputs do not match the flow's schema.
const ErrorInvalidInputs = "InvalidInputs"

// failOnInputs makes a run of flow fail when it starts (after its queue delay, as on a machine
// that found the inputs wrong) if inputs do not match the flow's input variables.
func failOnInputs(flow Flow, inputs map[string]any) Flow {
	if flow.InputSchema == nil {
		return flow
	}
	if problem := inputProblem(flow.InputSchema, inputs); problem != "" {
		flow.Duration, flow.FinalStatus = 0, StatusFailed
		flow.ErrorCode, flow.ErrorMessage = ErrorInvalidInputs, problem
		flow.Outputs, flow.EchoInputs = nil, false
	}
	return flow
}

func flowName(id string, f Flow) string {
	if f.Name != "" {
		return f.Name
	}
	return "Desktop flow " + id[:8]
}

// workflowRows are the workflow table's rows: one per desktop flow (category 6; a Draft flow
// has statecode 0) and per cloud flow (category 5), ordered by id.
func workflowRows(o Options) Table {
	t := Table{LogicalName: "workflow"}
	ids := make([]string, 0, len(o.Flows))
	flows := map[string]Flow{}
	for id, f := range o.Flows {
		g, _ := parseGUID(strings.Trim(id, "{}"))
		if g == "" {
			g = strings.ToLower(strings.Trim(id, "{}"))
		}
		ids, flows[g] = append(ids, g), f
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := flows[id]
		state, status := WorkflowActivated, 2
		if f.Draft {
			state, status = WorkflowDraft, 1
		}
		row := map[string]any{"workflowid": id, "name": flowName(id, f), "category": CategoryDesktopFlow,
			"type": 1, "primaryentity": "none", "statecode": state, "statuscode": status}
		if f.Description != "" {
			row["description"] = f.Description
		}
		t.Rows = append(t.Rows, row)
	}
	cloud := sortedKeys(o.CloudFlows)
	for _, id := range cloud {
		g, ok := parseGUID(id)
		if !ok {
			continue // Validate reports it
		}
		name := o.CloudFlows[id].Name
		if name == "" {
			name = "Cloud flow " + g[:8]
		}
		t.Rows = append(t.Rows, map[string]any{"workflowid": g, "name": name, "category": CategoryModernFlow,
			"type": 1, "primaryentity": "none", "statecode": WorkflowActivated, "statuscode": 2})
	}
	return t
}

// workflowTable is the built-in workflow table (the columns a desktop-flow client reads).
func workflowTable() Table {
	return Table{
		LogicalName: "workflow",
		Columns: append([]Column{
			str("name"), str("uniquename"), memo("description"), str("primaryentity"),
			picklist("category", map[int]string{0: "Workflow", 1: "Dialog", 2: "Business Rule", 3: "Action",
				4: "Business Process Flow", 5: "Modern Flow", 6: "Desktop Flow", 7: "AI Flow"}),
			picklist("type", map[int]string{1: "Definition", 2: "Activation", 3: "Template"}),
			ownerColumn(),
		}, stateStatus(map[int]string{0: "Draft", 1: "Activated", 2: "Suspended"},
			map[int]string{1: "Draft", 2: "Activated", 3: "Companion"}, 1)...),
		// The flows come from Options.Flows and Options.CloudFlows: rows are not written here.
		Deny: []string{PrivCreate, PrivWrite, PrivDelete},
	}
}

// includeUnpublished reports whether a request asks for unpublished (Draft) rows.
func includeUnpublished(r *http.Request) bool {
	v, err := strconv.ParseBool(strings.TrimSpace(r.Header.Get("MSCRM.IncludeUnpublished")))
	return err == nil && v
}

// hiddenDraft reports whether a listing leaves row out: a Draft workflow without
// MSCRM.IncludeUnpublished: true.
func hiddenDraft(r *http.Request, t *table, rw *row) bool {
	if t.LogicalName != "workflow" || includeUnpublished(r) {
		return false
	}
	s, _ := rw.vals["statecode"].(int64)
	return s == WorkflowDraft
}

// serveFlowSchema downloads a desktop flow's input or output schema (workflows(id)/inputs/$value).
func (e *Emulator) serveFlowSchema(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != rt.method {
		wrongMethod(w, r)
		return
	}
	id, ok := parseGUID(rt.key)
	if !ok {
		writeError(w, badKey)
		return
	}
	column := "inputs"
	if rt.op == OpGetWorkflowOutputs {
		column = "outputs"
	}
	flow, ok := e.flows[id]
	if !ok {
		if _, cloud := e.cloudFlow(id); !cloud {
			writeError(w, notFoundRow("workflow", id))
			return
		}
	}
	vars := flow.InputSchema
	if column == "outputs" {
		vars = flow.OutputSchema
	}
	if vars == nil {
		writeError(w, newError(http.StatusNotFound, CodeObjectDoesNotExist, fmt.Sprintf("No file attachment found for attribute: %s EntityId: %s.", column, id)))
		return
	}
	writeFile(w, column+".json", schemaDocument(vars, column == "inputs"))
}

// cloudFlow finds a configured cloud flow by its lower-case id.
func (e *Emulator) cloudFlow(id string) (CloudFlow, bool) {
	for k, f := range e.opts.CloudFlows {
		if g, ok := parseGUID(k); ok && g == id {
			return f, true
		}
	}
	return CloudFlow{}, false
}

// schemaDocument is a flow's schema as Dataverse serves it: {"schema": {"properties": {name:
// {default, description, format, title, type, value}}, "type": "object"}}, with a "required"
// array when an input is required. An input's value is its default ("" when none), an
// output's null, as in the documented samples.
func schemaDocument(vars []FlowVariable, inputs bool) []byte {
	props := orderedObject{}
	var required []string
	for _, v := range vars {
		def := v.Default
		if def == nil {
			def = ""
		}
		var format, value any
		if v.Format != "" {
			format = v.Format
		}
		if inputs {
			value = def
		}
		title := v.Title
		if title == "" {
			title = v.Name
		}
		props = append(props, kv{v.Name, orderedObject{
			{"default", def}, {"description", v.Description}, {"format", format},
			{"title", title}, {"type", v.Type}, {"value", value},
		}})
		if v.Required {
			required = append(required, v.Name)
		}
	}
	schema := orderedObject{{"properties", props}}
	if len(required) > 0 {
		schema = append(schema, kv{"required", required})
	}
	schema = append(schema, kv{"type", "object"})
	b, _ := json.Marshal(orderedObject{{"schema", schema}})
	return b
}

// writeFile answers a file column download ($value) with Dataverse's headers: the file
// streamed, without Content-Length.
func writeFile(w http.ResponseWriter, name string, body []byte) {
	h := w.Header()
	h.Set("OData-Version", "4.0")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-ms-file-name", name)
	h.Set("x-ms-file-size", strconv.Itoa(len(body)))
	h.Set("mimetype", "application/json")
	h.Set("Content-Disposition", "inline; filename="+name)
	h.Set("Access-Control-Expose-Headers", "x-ms-file-name, x-ms-file-size, mimetype")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	_, _ = w.Write(body)
}
