package spec

import (
	"os"
	"path/filepath"

	"github.com/pa-connector/pa-connector/operations"
)

// ReadmePath is the README whose operation reference is generated, from the repository root.
const ReadmePath = "README.md"

// TemplatePath is where a job type's element template is committed, from the repository root.
func TemplatePath(j *JobType) string {
	return filepath.Join("examples", "element-templates", j.File)
}

// Generated returns every generated file, by its path from the repository root root, with the
// content it must have: each job type's template and the README with its reference spliced in.
func Generated(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, j := range JobTypes {
		t, err := Template(j)
		if err != nil {
			return nil, err
		}
		out[TemplatePath(j)] = t
	}
	t, err := FlowTemplate(ExampleFlow)
	if err != nil {
		return nil, err
	}
	out[filepath.Join("examples", "element-templates", FlowTemplateFile(ExampleFlow.WorkflowID))] = t
	readme, err := os.ReadFile(filepath.Join(root, ReadmePath))
	if err != nil {
		return nil, err
	}
	r, err := SpliceReadme(string(readme), ReadmeTable(JobTypes))
	if err != nil {
		return nil, err
	}
	out[ReadmePath] = []byte(r)
	return out, nil
}

// ExampleFlow is a desktop flow with an input of each type, whose template (what `pa-connector
// templates generate` writes for such a flow) is committed beside the generic ones, so CI
// validates a per-flow template against Camunda's schema and Modeler's validator
// (tools/templates/validate.mjs) and lints its FEEL.
var ExampleFlow = DesktopFlow{
	WorkflowID: "0e1d0e1d-0000-4000-8000-00000000e1a1", Name: "Invoice entry (example)",
	Description: "Enters an invoice in the accounting client.", HasInputs: true, HasOutputs: true,
	Inputs: []operations.Variable{
		{Name: "Amount", Type: "number", Title: "Amount", Description: "Invoice total in euros.", Required: true},
		{Name: "Customer", Type: "string", Title: "Customer name", Required: true},
		{Name: "Lines", Type: "array", Title: "Invoice lines", Description: "A list of {item, quantity}."},
		{Name: "Options", Type: "object", Title: "Options", Default: map[string]any{"currency": "EUR"}},
		{Name: "Pages", Type: "integer", Title: "Pages", Default: int64(1)},
		{Name: "Urgent", Type: "boolean", Title: "Urgent"},
	},
	Outputs: []operations.Variable{{Name: "InvoiceNumber", Type: "string", Title: "Invoice number"}, {Name: "Total", Type: "number", Title: "Total"}},
}
