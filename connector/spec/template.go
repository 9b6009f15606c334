package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// TemplateSchema is the $schema every generated template names (Camunda's element-template
// JSON schema; tools/templates/validate.mjs validates against it in CI).
const TemplateSchema = "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json"

// Patterns the templates and the binding share. DurationPattern is the ISO-8601 subset the
// worker parses: days, hours, minutes and seconds (years, months and weeks have no fixed
// length), at least one of them, and T only before a time. RE2 and JavaScript read it alike.
const (
	DurationPattern = `P(?:\d+D(?:` + timePart + `)?|` + timePart + `)`
	GUIDPattern     = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	// a value the template lets through to the worker unchecked: a FEEL expression or a secret
	feelOrSecret = `=.+|\{\{secrets\..+\}\}`

	secondsPart = `\d+(?:[.,]\d+)?S`
	timePart    = `T(?:\d+H(?:\d+M)?(?:` + secondsPart + `)?|\d+M(?:` + secondsPart + `)?|` + secondsPart + `)`
)

type template struct {
	Schema      string     `json:"$schema"`
	Name        string     `json:"name"`
	ID          string     `json:"id"`
	Version     int        `json:"version"`
	Description string     `json:"description"`
	Keywords    []string   `json:"keywords,omitempty"`
	Engines     *engines   `json:"engines,omitempty"`
	Icon        *icon      `json:"icon,omitempty"`
	Category    category   `json:"category"`
	AppliesTo   []string   `json:"appliesTo"`
	ElementType typeValue  `json:"elementType"`
	Groups      []tmplGrp  `json:"groups"`
	Properties  []property `json:"properties"`
}

type engines struct {
	Camunda string `json:"camunda"`
}

type icon struct {
	Contents string `json:"contents"`
}

type category struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type typeValue struct {
	Value string `json:"value"`
}

type tmplGrp struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

type property struct {
	Label       string       `json:"label,omitempty"`
	ID          string       `json:"id,omitempty"`
	Tooltip     string       `json:"tooltip,omitempty"`
	Description string       `json:"description,omitempty"`
	Group       string       `json:"group,omitempty"`
	Type        string       `json:"type"`
	FEEL        string       `json:"feel,omitempty"`
	Value       any          `json:"value,omitempty"` // a *string, or a number or bool for Number and Boolean properties
	Choices     []choice     `json:"choices,omitempty"`
	Optional    bool         `json:"optional,omitempty"`
	Binding     binding      `json:"binding"`
	Constraints *constraints `json:"constraints,omitempty"`
	Condition   *condition   `json:"condition,omitempty"`
}

type choice struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type binding struct {
	Type     string `json:"type"`
	Name     string `json:"name,omitempty"`
	Key      string `json:"key,omitempty"`
	Property string `json:"property,omitempty"`
}

type constraints struct {
	NotEmpty bool     `json:"notEmpty"` // the schema wants it beside a pattern on an optional property
	Pattern  *pattern `json:"pattern,omitempty"`
}

type pattern struct {
	Value   string `json:"value"`
	Message string `json:"message"`
}

type condition struct {
	Property string   `json:"property"`
	Equals   string   `json:"equals,omitempty"`
	OneOf    []string `json:"oneOf,omitempty"`
}

// Template returns the element template of a job type, as committed in examples/element-templates/.
func Template(j *JobType) ([]byte, error) {
	t, err := buildTemplate(j)
	if err != nil {
		return nil, err
	}
	return encodeTemplate(j, t)
}

// buildTemplate lays out a job type's template: the task type, the operation dropdown, each
// field (once, shown for the operations that take it) and the task headers.
func buildTemplate(j *JobType) (template, error) {
	t := template{
		Schema: TemplateSchema, Name: j.Name, ID: j.TemplateID, Version: j.Version, Description: j.Description,
		Keywords: j.Keywords, Category: category{"connectors", "Connectors"},
		AppliesTo: []string{"bpmn:Task"}, ElementType: typeValue{"bpmn:ServiceTask"},
	}
	if j.Engines != "" {
		t.Engines = &engines{j.Engines}
	}
	if j.Icon != "" {
		t.Icon = &icon{j.Icon}
	}
	for _, g := range j.Groups {
		t.Groups = append(t.Groups, tmplGrp(g))
	}
	t.Properties = append(t.Properties,
		property{Type: "Hidden", Value: ptr(j.Type), Binding: binding{Type: "zeebe:taskDefinition", Property: "type"}})
	if j.Operation(j.Default) == nil {
		return t, fmt.Errorf("%s: default operation %q is not declared", j.Type, j.Default)
	}
	opChoice := property{Label: "Operation type", ID: "operationType", Group: "operation", Type: "Dropdown",
		Value: ptr(j.Default), Binding: input("operationType")}
	for _, op := range j.Operations {
		opChoice.Choices = append(opChoice.Choices, choice{op.Label, op.Name})
	}
	t.Properties = append(t.Properties, opChoice)
	for _, f := range j.Fields() {
		if f.Kind == Auth {
			t.Properties = append(t.Properties, authProperties(f)...)
			continue
		}
		// A field some operations require and others take as optional is two properties
		// (the Modeler's notEmpty cannot depend on the operation) bound to the same variable,
		// shown for disjoint sets of operations.
		requiring, optional := j.usedBy(f)
		if len(requiring) > 0 {
			p := inputProperty(f, f.Name)
			p.Condition = operationCondition(j, requiring)
			t.Properties = append(t.Properties, p)
		}
		if len(optional) > 0 {
			g, id := *f, f.Name
			g.Required = false
			if len(requiring) > 0 {
				id += "Optional"
			}
			p := inputProperty(&g, id)
			p.Binding, p.Condition = input(f.Name), operationCondition(j, optional)
			t.Properties = append(t.Properties, p)
		}
	}
	for _, h := range j.Headers {
		if h == ResultExpression {
			for _, op := range j.Operations {
				p := headerProperty(h)
				p.ID, p.Tooltip, p.Condition = op.Result.ID, op.Result.Help, &condition{Property: "operationType", Equals: op.Name}
				if op.Result.Value != "" {
					p.Value = ptr(op.Result.Value)
				}
				t.Properties = append(t.Properties, p)
			}
			continue
		}
		t.Properties = append(t.Properties, headerProperty(h))
	}
	return t, nil
}

// encodeTemplate checks a template (checkTemplate) and writes it as committed: indented, links
// unescaped, with a final newline.
func encodeTemplate(j *JobType, t template) ([]byte, error) {
	if err := checkTemplate(j, t); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // tooltips carry links
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkTemplate refuses a declaration whose template Modeler would reject: groups, ids and
// dropdown defaults that do not exist, or a pattern that refuses the field's own default.
func checkTemplate(j *JobType, t template) error {
	groups := map[string]bool{}
	for _, g := range j.Groups {
		groups[g.ID] = true
	}
	ids := map[string]bool{}
	for _, p := range t.Properties {
		if p.Group != "" && !groups[p.Group] {
			return fmt.Errorf("%s: property %s is in undeclared group %q", j.Type, p.ID, p.Group)
		}
		if p.ID != "" {
			if ids[p.ID] {
				return fmt.Errorf("%s: property id %s is declared twice", j.Type, p.ID)
			}
			ids[p.ID] = true
		}
		v, text := p.Value.(*string)
		if p.Type == "Dropdown" && text {
			found := false
			for _, c := range p.Choices {
				found = found || c.Value == *v
			}
			if !found {
				return fmt.Errorf("%s: property %s defaults to %q, not one of its choices", j.Type, p.ID, *v)
			}
		}
		if p.Constraints != nil && p.Constraints.Pattern != nil && text &&
			!regexp.MustCompile(p.Constraints.Pattern.Value).MatchString(*v) {
			return fmt.Errorf("%s: property %s's default %q does not match its own pattern", j.Type, p.ID, *v)
		}
	}
	return nil
}

// operationCondition shows a property for these operations: nil when they are all of them.
func operationCondition(j *JobType, ops []string) *condition {
	switch {
	case len(ops) == 1:
		return &condition{Property: "operationType", Equals: ops[0]}
	case len(ops) < len(j.Operations):
		return &condition{Property: "operationType", OneOf: ops}
	}
	return nil
}

func ptr(s string) *string { return &s }

func input(name string) binding { return binding{Type: "zeebe:input", Name: name} }

// inputProperty is the template property of a job variable; id is its property id.
func inputProperty(f *Field, id string) property {
	p := property{Label: f.Label, ID: id, Tooltip: f.Help, Description: f.Note, Group: f.Group,
		Type: "String", Binding: input(id)}
	switch {
	case f.Default == "":
	case !f.NoPrefill:
		p.Value = ptr(f.Default)
	case p.Description == "":
		p.Description = "Default " + f.Default + "."
	}
	dropdown := f.NoFEEL && len(f.Choices) > 0
	switch {
	case dropdown:
		p.Type = "Dropdown"
		for _, c := range f.Choices {
			p.Choices = append(p.Choices, choice{c.Label, c.Value})
		}
		if p.Value == nil {
			p.Value = ptr("")
		}
	case f.Kind == JSONObject || f.Kind == Context || f.Kind == Expression:
		p.FEEL = "required"
	default:
		p.FEEL = "optional"
	}
	if f.Multiline {
		p.Type = "Text"
	}
	// An optional input is left out of the task when empty, so the worker's default applies;
	// a dropdown always has a value, the one its empty choice stands for.
	p.Optional = !f.Required && !(dropdown && f.Default != "")
	var c constraints
	c.NotEmpty = f.Required
	if !dropdown {
		c.Pattern = valuePattern(f)
	}
	if c.NotEmpty || c.Pattern != nil {
		p.Constraints = &c
	}
	return p
}

// valuePattern is what the template can check of a value before the worker does: its shape.
// Bounds, lengths and JSON are the worker's (Bind's) to check.
func valuePattern(f *Field) *pattern {
	empty := "?"
	if f.Required {
		empty = ""
	}
	switch f.Kind {
	case GUID:
		return &pattern{Value: `^(` + feelOrSecret + `|\{?` + GUIDPattern + `\}?)` + empty + `$`,
			Message: "Must be a GUID such as 00000000-0000-0000-0000-000000000000 or a FEEL expression"}
	case Int:
		return &pattern{Value: `^(` + feelOrSecret + `|[0-9]+)` + empty + `$`,
			Message: "Must be a number" + unitOf(f, " of ") + " or a FEEL expression"}
	case Enum:
		var alts, names []string
		for _, c := range f.Choices {
			alts = append(alts, regexp.QuoteMeta(c.Value))
			names = append(names, c.Value)
		}
		return &pattern{Value: `^(` + feelOrSecret + `|` + strings.Join(alts, "|") + `)` + empty + `$`,
			Message: "Must be " + strings.Join(names, ", ") + " or a FEEL expression"}
	case Duration:
		return &pattern{Value: `^(` + feelOrSecret + `|` + DurationPattern + `)` + empty + `$`,
			Message: "Must be an ISO-8601 duration such as PT30S or a FEEL expression"}
	case Text:
		if f.Pattern != "" {
			return &pattern{Value: `^(` + feelOrSecret + `|` + f.Pattern + `)` + empty + `$`,
				Message: "Must be " + f.Shape + " or a FEEL expression"}
		}
	}
	return nil
}

func unitOf(f *Field, prefix string) string {
	if f.Unit == "" {
		return ""
	}
	return prefix + f.Unit
}

// headerProperty is the template property of a task header (or the retries).
func headerProperty(f *Field) property {
	p := property{Label: f.Label, ID: f.Name, Tooltip: f.Help, Description: f.Note, Group: f.Group, Type: "String",
		Binding: binding{Type: "zeebe:taskHeader", Key: f.Name}}
	if f.Default != "" {
		p.Value = ptr(f.Default)
	}
	switch {
	case f.Binding == Retries:
		p.Binding = binding{Type: "zeebe:taskDefinition", Property: "retries"}
		p.FEEL = "optional"
	case f.Kind == Expression:
		p.FEEL = "required"
	case f.Kind == Duration:
		// headers are static: no FEEL
		p.Constraints = &constraints{Pattern: &pattern{Value: `^(` + DurationPattern + `)?$`,
			Message: "Must be an ISO-8601 duration such as PT30S"}}
	}
	if f.Multiline {
		p.Type = "Text"
	}
	// An empty duration header is left out: the worker's default applies.
	p.Optional = f.Binding == Header && f.Kind == Duration && f.Default == ""
	return p
}

// authProperties are an Auth field's properties: a dropdown of its types (and of "a FEEL
// context"), the hidden type each type writes, the context field, and each type's fields.
func authProperties(f *Field) []property {
	const picker = "authenticationType"
	pick := property{Label: "Type", ID: picker, Group: f.Group, Tooltip: f.PickerHelp, Type: "Dropdown",
		Binding: binding{Type: "zeebe:property", Name: picker}}
	for _, v := range f.Variants {
		pick.Choices = append(pick.Choices, choice{v.Label, v.Type})
	}
	pick.Choices = append(pick.Choices, choice{"FEEL context (for example a process variable)", "context"})
	pick.Value = ptr(f.Variants[0].Type)
	out := []property{pick}
	when := func(v string) *condition { return &condition{Property: picker, Equals: v} }
	for _, v := range f.Variants {
		out = append(out, property{Type: "Hidden", Value: ptr(v.Type), Binding: input(f.Name + ".type"), Condition: when(v.Type)})
	}
	ctx := property{Label: f.Label, ID: f.Name + "Context", Group: f.Group, Tooltip: f.Help, Type: "String", FEEL: "required",
		Value: ptr(f.Default), Binding: input(f.Name), Condition: when("context")}
	if f.Required {
		ctx.Constraints = &constraints{NotEmpty: true}
	}
	out = append(out, ctx)
	for _, v := range f.Variants {
		for _, sub := range v.Fields {
			p := inputProperty(sub, f.Name+"."+sub.Name)
			p.Group, p.Condition = f.Group, when(v.Type)
			out = append(out, p)
		}
	}
	return out
}
