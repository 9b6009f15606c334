package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The committed templates and README reference are what the declarations generate: a
// declaration changed without `make generate`, or a generated file edited by hand, fails CI.
func TestGeneratedFilesAreCommitted(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := Generated(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(JobTypes)+2 {
		t.Fatalf("%d generated files, want a template per job type, the example flow's and the README", len(files))
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v (run make generate)", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what connector/spec generates (run make generate): %s", path, firstDiff(got, want))
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d is %q, generated %q", i+1, a, b)
		}
	}
	return "same lines, different bytes"
}

func TestSpliceReadme(t *testing.T) {
	got, err := SpliceReadme("intro\n"+ReadmeBegin+"\nold table\n"+ReadmeEnd+"\nrest\n", "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + ReadmeBegin + "\nnew table\n" + ReadmeEnd + "\nrest\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, readme := range []string{"no markers", ReadmeBegin + " only", ReadmeEnd + " before " + ReadmeBegin} {
		if _, err := SpliceReadme(readme, "t"); err == nil {
			t.Errorf("%q: spliced without both markers in order", readme)
		}
	}
}

// toy is a job type with fields used by one, some and all of its operations.
func toy() *JobType {
	all := &Field{Name: "all", Label: "All", Group: "g", Kind: Text, Required: true}
	some := &Field{Name: "some", Label: "Some", Group: "g", Kind: Int, Min: 1, Max: 9, Default: "5"}
	one := &Field{Name: "one", Label: "One", Group: "g", Kind: Enum, NoFEEL: true, Default: "b",
		Choices: []Choice{{Value: "a", Label: "A"}, {Value: "b", Label: "B"}}}
	return &JobType{
		Type: "toy:1", File: "toy.json", TemplateID: "toy", Version: 3, Name: "Toy", Default: "x",
		Groups: []Group{{"operation", "Operation"}, {"g", "G"}, {"output", "Output"}},
		Operations: []*Operation{
			{Name: "x", Label: "X", Fields: []*Field{all, some}, Result: Result{ID: "resultX", Value: "={a: 1}"}},
			{Name: "y", Label: "Y", Fields: []*Field{all, some, one}, Result: Result{ID: "resultY"}},
			{Name: "z", Label: "Z", Fields: []*Field{all}, Result: Result{ID: "resultZ"}},
		},
		Headers: []*Field{ResultExpression},
	}
}

func properties(t *testing.T, j *JobType) map[string]map[string]any {
	t.Helper()
	raw, err := Template(j)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Properties []map[string]any }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, p := range doc.Properties {
		id, _ := p["id"].(string)
		if id == "" {
			b := p["binding"].(map[string]any)
			name, _ := b["name"].(string)
			prop, _ := b["property"].(string)
			id = fmt.Sprint(b["type"], ":", name, prop)
		}
		out[id] = p
	}
	return out
}

func TestTemplateDerivesFromTheDeclaration(t *testing.T) {
	p := properties(t, toy())
	if got := p["zeebe:taskDefinition:type"]["value"]; got != "toy:1" {
		t.Errorf("task type %v, want toy:1", got)
	}
	if got := p["operationType"]["value"]; got != "x" {
		t.Errorf("operation default %v, want x", got)
	}
	if got := len(p["operationType"]["choices"].([]any)); got != 3 {
		t.Errorf("%d operation choices, want 3", got)
	}
	cond := func(id string) string { b, _ := json.Marshal(p[id]["condition"]); return string(b) }
	for id, want := range map[string]string{
		"all":     "null",
		"some":    `{"oneOf":["x","y"],"property":"operationType"}`,
		"one":     `{"equals":"y","property":"operationType"}`,
		"resultX": `{"equals":"x","property":"operationType"}`,
	} {
		if got := cond(id); got != want {
			t.Errorf("%s: condition %s, want %s", id, got, want)
		}
	}
	if p["all"]["constraints"].(map[string]any)["notEmpty"] != true || p["all"]["optional"] != nil {
		t.Errorf("a required field: %v", p["all"])
	}
	if p["some"]["optional"] != true || p["some"]["value"] != "5" || p["some"]["feel"] != "optional" {
		t.Errorf("an optional Int with a default: %v", p["some"])
	}
	if p["one"]["type"] != "Dropdown" || p["one"]["value"] != "b" || p["one"]["optional"] != nil {
		t.Errorf("a dropdown with a default: %v", p["one"])
	}
	if p["resultX"]["value"] != "={a: 1}" || p["resultY"]["value"] != nil {
		t.Errorf("result expressions: %v, %v", p["resultX"], p["resultY"])
	}
}

func TestTemplateRefusesABrokenDeclaration(t *testing.T) {
	for name, breakIt := range map[string]func(j *JobType){
		"undeclared group":            func(j *JobType) { j.Operations[0].Fields[0].Group = "nowhere" },
		"duplicate id":                func(j *JobType) { j.Operations[2].Result.ID = "resultX" },
		"dropdown default":            func(j *JobType) { j.Operations[1].Fields[2].Default = "c" },
		"unknown default op":          func(j *JobType) { j.Default = "w" },
		"default outside its pattern": func(j *JobType) { j.Operations[0].Fields[1].Default = "five" },
	} {
		t.Run(name, func(t *testing.T) {
			j := toy()
			breakIt(j)
			if _, err := Template(j); err == nil {
				t.Error("generated a template")
			}
		})
	}
}

// Every declaration holds together: labels and help for the template, groups it declares,
// bounds that contain the default, and result ids.
func TestDeclarationsAreComplete(t *testing.T) {
	for _, j := range JobTypes {
		for _, f := range j.Fields() {
			if f.Label == "" || f.Help == "" {
				t.Errorf("%s: %s has no label or help", j.Type, f.Name)
			}
			if f.Kind == Int && len(f.Choices) == 0 && f.Min > f.Max {
				t.Errorf("%s: %s's bounds are empty", j.Type, f.Name)
			}
			if f.Kind == Duration && f.Shortest > f.Longest {
				t.Errorf("%s: %s's bounds are empty", j.Type, f.Name)
			}
			if f.Pattern != "" {
				if _, err := regexp.Compile(f.Pattern); err != nil || f.Kind != Text || f.Shape == "" {
					t.Errorf("%s: %s's pattern %q: %v (a Text field's, with a Shape for messages)", j.Type, f.Name, f.Pattern, err)
				}
			}
		}
		for _, op := range j.Operations {
			if op.Result.ID == "" || op.Label == "" {
				t.Errorf("%s: %s has no label or result id", j.Type, op.Name)
			}
			for _, f := range op.Optional {
				if !f.Required || !slices.Contains(op.Fields, f) {
					t.Errorf("%s: %s takes %s as optional, which is not one of its required fields", j.Type, op.Name, f.Name)
				}
			}
		}
	}
}

func TestReadmeTableNamesEveryOperationAndField(t *testing.T) {
	table := ReadmeTable([]*JobType{toy()})
	for _, want := range []string{"| `x` | X | `all`\\*, `some` |", "| `some` | a whole number (number or numeric string), 1–9; default `5` |",
		"| `one` | `a` or `b`; default `b` |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// A field one operation takes as optional although others require it is two properties bound
// to the same variable, shown for disjoint operations, and unstarred in that operation's row.
func TestTemplateSplitsAFieldOptionalForOneOperation(t *testing.T) {
	j := toy()
	all := j.Operations[2].Fields[0]
	j.Operations[2].Optional = []*Field{all}
	p := properties(t, j)
	req, opt := p["all"], p["allOptional"]
	if req == nil || opt == nil {
		t.Fatalf("properties %v, want all and allOptional", p)
	}
	cond := func(m map[string]any) string { b, _ := json.Marshal(m["condition"]); return string(b) }
	if got := cond(req); got != `{"oneOf":["x","y"],"property":"operationType"}` {
		t.Errorf("required property's condition %s", got)
	}
	if got := cond(opt); got != `{"equals":"z","property":"operationType"}` {
		t.Errorf("optional property's condition %s", got)
	}
	if req["constraints"].(map[string]any)["notEmpty"] != true || opt["constraints"] != nil || opt["optional"] != true {
		t.Errorf("required %v, optional %v", req, opt)
	}
	if b := opt["binding"].(map[string]any); b["name"] != "all" {
		t.Errorf("optional property bound to %v, want the variable all", b)
	}
	table := ReadmeTable([]*JobType{j})
	if !strings.Contains(table, "| `z` | Z | `all` |") || !strings.Contains(table, "| `x` | X | `all`\\*, `some` |") {
		t.Errorf("README rows do not follow the operation's requiredness:\n%s", table)
	}
}
