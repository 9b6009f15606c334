package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// DesktopFlow is what a desktop flow's own element template is made from: its workflow row
// and its input and output schemas (nil Outputs: the flow declares none).
type DesktopFlow struct {
	WorkflowID  string // lower case, no braces
	Name        string
	Description string
	Inputs      []operations.Variable // in name order (operations.ParseSchema)
	Outputs     []operations.Variable
	// HasInputs and HasOutputs: the flow has that schema (its list may still be empty). A flow
	// without an input schema takes any inputs: its template keeps the generic runInputs field.
	HasInputs, HasOutputs bool
}

// FlowTemplateVersion is the version of every per-flow template. It stays 1: the template's
// content follows the flow's schema, and Modeler shows a task the content of the template it
// names, so a regenerated template reaches existing tasks without an upgrade.
const FlowTemplateVersion = 1

// FlowTemplateID is a desktop flow's template id, derived from its workflow id only, so that a
// renamed flow keeps its template.
func FlowTemplateID(workflowID string) string {
	return "io.pa-connector.desktop-flow." + strings.ToLower(workflowID)
}

// FlowTemplateFile is the file a desktop flow's template is written to.
func FlowTemplateFile(workflowID string) string {
	return "desktop-flow-" + strings.ToLower(workflowID) + ".json"
}

// flowInputsGroup holds one property per input of the flow.
const flowInputsGroup = "flowInputs"

// inputTarget is what an input's name must be to be a Zeebe input mapping's target path
// segment (runInputs.<name>), as Zeebe and pa-engine check targets.
var inputTarget = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// FlowTemplate returns the element template of one desktop flow: power-automate:1's "Run a
// flow and wait until it ends" (preselected) and "Trigger a flow run" with the flow's workflow
// id fixed (Hidden), the other fields as in the generic template, one typed field per input
// of the flow bound to runInputs.<name>, and the result expression of the wait mapping each
// output of the flow to a process variable of its name.
//
// How Modeler writes each input (bpmn-js-element-templates casts Number and Boolean inputs to
// FEEL): a string is a String field, static text unless the modeler switches it to FEEL; a
// number or an integer a Number field, written =12.5; a boolean a Boolean checkbox, written
// =true; an object or array (or a list) a FEEL expression. So the job's runInputs holds each
// input as the JSON type the flow's schema declares. An optional input left empty is left out
// of runInputs (the flow's own default applies); a required one must be filled.
func FlowTemplate(f DesktopFlow) ([]byte, error) {
	j := flowJobType(f)
	t, err := buildTemplate(j)
	if err != nil {
		return nil, err
	}
	props := []property{{Type: "Hidden", Value: ptr(strings.ToLower(f.WorkflowID)), Binding: input(WorkflowID.Name)}}
	for _, v := range f.Inputs {
		p, err := flowInputProperty(v)
		if err != nil {
			return nil, fmt.Errorf("desktop flow %q (%s): %w", f.Name, f.WorkflowID, err)
		}
		props = append(props, p)
	}
	// after the task type and the operation dropdown
	t.Properties = slices.Insert(t.Properties, 2, props...)
	return encodeTemplate(j, t)
}

// flowJobType is power-automate:1 narrowed to running one flow: its two run operations
// without workflowId and, for a flow with an input schema, runInputs (the template fixes the
// one and builds the other from the flow's inputs).
func flowJobType(f DesktopFlow) *JobType {
	var ops []*Operation
	for _, name := range []string{OpRunFlowAndWait, OpTrigger} {
		op := *PowerAutomate.Operation(name)
		op.Fields = slices.DeleteFunc(slices.Clone(op.Fields), func(x *Field) bool { return x == WorkflowID || (x == RunInputs && f.HasInputs) })
		ops = append(ops, &op)
	}
	if f.HasOutputs {
		ops[0].Result.Value = waitResult(f.Outputs)
		ops[0].Result.Help = "Expression to map the run's summary into process variables: response.body is {flowSessionId, statusCode, statusName, startedOn, completedOn, errorCode, errorMessage, outputs}; outputs holds the flow's outputs (" +
			names(f.Outputs) + "). Empty: the variables flowSessionId, statusCode, statusName and flowOutputs. A run that ends without succeeding throws the BPMN error DESKTOP_FLOW_FAILED (unless the error expression decides)." + resultExpressionDocs
	}
	groups := slices.Clone(PowerAutomate.Groups)
	groups = slices.Insert(groups, 1, Group{flowInputsGroup, "Desktop flow inputs"})
	desc := fmt.Sprintf("Runs the desktop flow %s (%s) through Dataverse with the pa-connector job worker (job type %s), its inputs as typed fields.", f.Name, strings.ToLower(f.WorkflowID), PowerAutomate.Type)
	if d := strings.TrimSpace(f.Description); d != "" {
		desc = d + " — " + desc
	}
	return &JobType{
		Type:        PowerAutomate.Type,
		TemplateID:  FlowTemplateID(f.WorkflowID),
		Version:     FlowTemplateVersion,
		Name:        "Desktop flow: " + f.Name,
		Description: desc,
		Keywords:    []string{"power automate", "desktop flow", "rpa", f.Name},
		Engines:     PowerAutomate.Engines,
		Icon:        PowerAutomate.Icon,
		Groups:      groups,
		Default:     OpRunFlowAndWait,
		Operations:  ops,
		Headers:     PowerAutomate.Headers,
	}
}

// flowInputProperty is the field of one input of the flow, bound to runInputs.<name>.
func flowInputProperty(v operations.Variable) (property, error) {
	if !inputTarget.MatchString(v.Name) {
		return property{}, fmt.Errorf("input %q cannot be a field: a Zeebe input mapping targets runInputs.<name>, and a name is letters, digits and _, not starting with a digit", v.Name)
	}
	target := RunInputs.Name + "." + v.Name
	if holdsPlaceholder(v.Default) {
		// the worker resolves placeholders in runInputs: a flow's schema must not send a secret
		// to the flow (SecretDefaults names these inputs so generate can warn)
		v.Default = nil
	}
	p := property{Label: v.Title, ID: target, Group: flowInputsGroup, Description: v.Description, Binding: input(target)}
	if p.Label == v.Name || p.Label == "" {
		p.Label = v.Name
	} else {
		p.Label += " (" + v.Name + ")"
	}
	what := "any value"
	switch v.Type {
	case "number", "integer":
		what = "a number"
		if v.Type == "integer" {
			what = "a whole number"
		}
		p.Type, p.FEEL = "Number", "optional"
		if n, ok := v.Default.(int64); ok {
			p.Value = n
		} else if n, ok := v.Default.(float64); ok && (n == 0 || math.Abs(n) >= 1e-6 && math.Abs(n) < 1e21) {
			// plain decimal (FEEL has no 1e-7); Modeler writes the number as JavaScript prints
			// it, in exponent form outside this range, so such a default is left out (an
			// optional input left empty takes the flow's own default)
			p.Value = json.Number(feelNumber(n))
		}
	case "boolean":
		what = "true or false"
		p.Type, p.FEEL, p.Value = "Boolean", "optional", v.Default == true
	case "object", "array":
		what = map[string]string{"object": "a FEEL context, such as ={name: customerName}", "array": "a FEEL list, such as =[1, 2]"}[v.Type]
		p.Type, p.FEEL = "String", "required"
		if v.Default != nil {
			lit, err := feelLiteral(v.Default)
			if err != nil {
				return property{}, fmt.Errorf("input %q: default: %w", v.Name, err)
			}
			p.Value = ptr("=" + lit)
		}
	default:
		if v.Type == "string" {
			what = "text"
		}
		p.Type, p.FEEL = "String", "optional"
		if s, ok := v.Default.(string); ok {
			if strings.HasPrefix(s, "=") {
				s = "=" + feelString(s) // not an expression: a FEEL string literal
			}
			p.Value = ptr(s)
		}
	}
	p.Tooltip = fmt.Sprintf("The desktop flow's input %s: %s (schema type %s). Sent in runInputs as %s.", v.Name, what, typeName(v.Type), v.Name)
	if v.Required {
		p.Tooltip += " Required by the flow."
		if p.Type != "Boolean" {
			p.Constraints = &constraints{NotEmpty: true}
		}
	} else if p.Type != "Boolean" {
		// left out of runInputs when empty: the flow's default applies
		p.Optional = true
		p.Tooltip += " Optional: when empty, it is not sent and the flow's default applies."
	}
	return p, nil
}

// SecretDefaults returns the inputs of f whose schema default holds a {{secrets.NAME}}
// placeholder (in any string or key, at any depth): their fields are left empty, as the worker
// would resolve the placeholder in runInputs and send the secret to the flow.
func SecretDefaults(f DesktopFlow) []string {
	var out []string
	for _, v := range f.Inputs {
		if holdsPlaceholder(v.Default) {
			out = append(out, v.Name)
		}
	}
	return out
}

// holdsPlaceholder reports whether a string or key in v holds a placeholder the worker's
// resolver (secrets.Placeholders) would resolve.
func holdsPlaceholder(v any) bool {
	switch t := v.(type) {
	case string:
		return len(secrets.Placeholders(t)) > 0
	case map[string]any:
		for k, x := range t {
			if holdsPlaceholder(k) || holdsPlaceholder(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if holdsPlaceholder(x) {
				return true
			}
		}
	}
	return false
}

func typeName(t string) string {
	if t == "" {
		return "none"
	}
	return t
}

// waitResult maps each output of the flow to a process variable of its name, with the run's
// flowSessionId unless an output takes that name. An output named response comes last: a FEEL
// context entry is in scope for the entries after it, which would read it instead of the job's
// response.
func waitResult(outputs []operations.Variable) string {
	var entries []string
	taken := map[string]bool{}
	for _, o := range outputs {
		taken[o.Name] = true
	}
	if !taken["flowSessionId"] {
		entries = append(entries, "flowSessionId: response.body.flowSessionId")
	}
	outputs = slices.Clone(outputs)
	slices.SortStableFunc(outputs, func(a, b operations.Variable) int {
		return cmpBool(a.Name == "response", b.Name == "response")
	})
	for _, o := range outputs {
		if feelName(o.Name) {
			entries = append(entries, o.Name+": response.body.outputs."+o.Name)
			continue
		}
		q := feelString(o.Name)
		entries = append(entries, q+": get value(response.body.outputs, "+q+")")
	}
	return "={" + strings.Join(entries, ", ") + "}"
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// feelKeywords cannot be a FEEL name on their own.
var feelKeywords = map[string]bool{"true": true, "false": true, "null": true, "and": true, "or": true, "not": true,
	"if": true, "then": true, "else": true, "for": true, "in": true, "return": true, "some": true, "every": true,
	"satisfies": true, "between": true, "instance": true, "of": true, "function": true}

// feelName reports whether s can be written as a FEEL name (context key and path segment).
func feelName(s string) bool { return inputTarget.MatchString(s) && !feelKeywords[s] }

func names(vars []operations.Variable) string {
	if len(vars) == 0 {
		return "none"
	}
	var out []string
	for _, v := range vars {
		out = append(out, v.Name)
	}
	return strings.Join(out, ", ")
}
