// Package spec declares, once, the job types the worker serves: each operation with its fields
// (name, kind, default, bounds, help). From that one declaration come the binding and validation
// of a job's variables (Bind), the element templates in examples/element-templates/ (Template)
// and the operation reference in README.md (ReadmeTable), so the four cannot drift apart.
// `go run ./tools/specgen` rewrites the generated files; TestGeneratedFilesAreCommitted fails
// when a committed one differs.
package spec

import (
	"slices"
	"time"
)

// Kind is what a field holds, which decides how it is bound and how the template shows it.
type Kind int

const (
	// Text is a string, taken as written (a number is refused).
	Text Kind = iota
	// GUID is a Dataverse id: braces and case are normalised away; bound as lower case.
	GUID
	// OrgURL is a Dataverse organization's root URL (https://org.crm.dynamics.com), bound
	// without a trailing slash.
	OrgURL
	// Int is a whole number given as a number or a numeric string (Zeebe passes static template
	// values as strings), within [Min, Max] or one of Choices.
	Int
	// Enum is one of Choices' values (case and surrounding space ignored).
	Enum
	// Duration is an ISO-8601 duration of days, hours, minutes and seconds within
	// [Shortest, Longest].
	Duration
	// JSONObject is a context, or a string holding a JSON object; bound as JSON text.
	JSONObject
	// Context is a context (map), or a string holding a JSON object; bound as a map.
	Context
	// List is a list of strings, or one string of comma-separated items; bound as []string.
	List
	// Bool is true or false, as a boolean or the strings "true" and "false".
	Bool
	// RowRef names one Dataverse row: a GUID (bound as a string) or an alternate key, a
	// context of column values such as {emailaddress1: "a@b.c"} (bound as a map).
	RowRef
	// Auth is the authentication context; Variants declare its types and their fields.
	Auth
	// Expression is a FEEL expression a task header carries (result and error expressions).
	Expression
)

// Binding is where a field's value lives on the BPMN task.
type Binding int

const (
	// Input is a job variable, set by an input mapping (zeebe:input).
	Input Binding = iota
	// Header is a task header (zeebe:taskHeader): static text, no FEEL.
	Header
	// Retries is the task definition's retries.
	Retries
)

// Choice is one value an Enum or Int field may take.
type Choice struct {
	Value string
	Label string // in the template's dropdown
	Means string // in validation messages, after the value: 1 (connection)
}

// Variant is one type of an Auth field: its type value and the fields that type reads.
type Variant struct {
	Type   string
	Label  string
	Fields []*Field
}

// Field is one variable (or task header) of an operation.
type Field struct {
	Name string // the variable's name, as users write it
	// Wire is the field's name in a request body when it differs (runTimeout is RunDesktopFlow's
	// timeout); the Camunda REST compatibility mode reads the body by these names.
	Wire     string
	Label    string
	Help     string // the template's tooltip and the README's meaning (HTML links allowed)
	Note     string // the template's description, shown under the field
	Group    string
	Kind     Kind
	Binding  Binding
	Required bool
	// Default is the value as the template writes it ("7200", "PT30S", "=authentication");
	// Bind parses it for a field left empty.
	Default string
	// NoPrefill: the template leaves the field empty and names the default in its description.
	NoPrefill bool
	// Min and Max bound an Int; ZeroIsDefault makes 0 mean Default.
	Min, Max      int64
	ZeroIsDefault bool
	Unit          string // of an Int, in messages and help: "seconds"
	// Shortest and Longest bound a Duration.
	Shortest, Longest time.Duration
	// MaxBytes bounds a JSONObject's or a Context's JSON text.
	MaxBytes int
	// Pattern is the shape a Text value must have (RE2 and JavaScript read it alike, unanchored
	// here): the template's pattern and the binding check both come from it. Shape says what
	// it accepts, in messages: "the unique name of a custom API or action, such as new_Notify".
	Pattern, Shape string
	Choices        []Choice
	// NoFEEL: the template offers the field as a dropdown, never an expression.
	NoFEEL bool
	// Multiline: the template shows a text area.
	Multiline bool
	Variants  []Variant // of an Auth field
	// PickerHelp is the tooltip of an Auth field's type dropdown.
	PickerHelp string
}

// Result is an operation's result expression in the template.
type Result struct {
	ID    string // the template property's id, e.g. resultExpressionTrigger
	Value string // the default expression, "" for none
	Help  string
}

// Operation is one value of operationType.
type Operation struct {
	Name   string
	Label  string
	Fields []*Field
	// Optional are fields of Fields that this operation takes as optional although they are
	// declared Required (performAction's table and rowId, which only a bound action needs).
	Optional []*Field
	Result   Result
}

// Requires reports whether the operation requires f.
func (op *Operation) Requires(f *Field) bool {
	return f.Required && !slices.Contains(op.Optional, f)
}

// Group is a group of the element template.
type Group struct{ ID, Label string }

// JobType is one job type the worker serves, with its element template's identity.
type JobType struct {
	Type        string // the task type, e.g. power-automate:1
	File        string // the template's file name in examples/element-templates/
	TemplateID  string
	Version     int
	Name        string
	Description string
	Keywords    []string
	Engines     string // the template's engines.camunda range
	Icon        string // data URL
	Groups      []Group
	// Default is the operation the template preselects.
	Default    string
	Operations []*Operation
	// Headers are the task headers (and retries) every operation takes; the result
	// expression comes from each operation's Result.
	Headers []*Field
}

// Operation returns the declared operation of that name, or nil.
func (j *JobType) Operation(name string) *Operation {
	for _, op := range j.Operations {
		if op.Name == name {
			return op
		}
	}
	return nil
}

// Fields returns the fields of all operations, each once, in the order they first appear.
func (j *JobType) Fields() []*Field {
	var out []*Field
	seen := map[*Field]bool{}
	for _, op := range j.Operations {
		for _, f := range op.Fields {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// usedBy returns the operations whose fields include f, in declaration order: those that
// take it as declared, and those that take a Required field as optional.
func (j *JobType) usedBy(f *Field) (asDeclared, optional []string) {
	for _, op := range j.Operations {
		switch {
		case !slices.Contains(op.Fields, f):
		case f.Required && !op.Requires(f):
			optional = append(optional, op.Name)
		default:
			asDeclared = append(asDeclared, op.Name)
		}
	}
	return asDeclared, optional
}

// Var is the field's variable name.
func (f *Field) Var() string { return f.Name }

// WireName is the field's name in a request body.
func (f *Field) WireName() string {
	if f.Wire != "" {
		return f.Wire
	}
	return f.Name
}

// OneOf lists the non-empty values of the field's choices for a message: "1 (connection) or
// 2 (connection reference)", "attended or unattended".
func (f *Field) OneOf() string { return choiceList(f, "", "", " or ") }

// Size writes a byte count as a message says it: "2 MB".
func Size(n int) string { return bytesText(n) }

// JobTypes are the job types whose templates and README reference are generated. An operation
// is declared here only once a handler serves it (connector's TestEveryDeclaredOperationHasAHandler).
var JobTypes = []*JobType{PowerAutomate, Dataverse}
