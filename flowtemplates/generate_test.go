package flowtemplates

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/operations"
)

var listed = []Flow{
	{Name: "Invoice", WorkflowID: "00000000-0000-4000-8000-00000000000b", State: "Activated"},
	{Name: "Archive", WorkflowID: "00000000-0000-4000-8000-000000000001", State: "Activated"},
	{Name: "Draft one", WorkflowID: "00000000-0000-4000-8000-000000000003", State: "Draft"},
	{Name: "Paused", WorkflowID: "00000000-0000-4000-8000-000000000004", State: "Suspended"},
	{Name: "Twin", WorkflowID: "00000000-0000-4000-8000-000000000005", State: "Activated"},
	{Name: "twin", WorkflowID: "00000000-0000-4000-8000-000000000006", State: "Activated"},
}

func ids(fs []Flow) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.WorkflowID[len(f.WorkflowID)-1:])
	}
	return out
}

func TestSelect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		names []string
		want  []string // last digit of each id, in order
		err   string
	}{
		{"default: the activated flows, by name", nil, []string{"1", "b", "5", "6"}, ""},
		{"by id, any case and braces", []string{"{00000000-0000-4000-8000-00000000000B}"}, []string{"b"}, ""},
		{"a draft and a suspended flow when named", []string{"draft ONE", "Paused"}, []string{"3", "4"}, ""},
		{"each once", []string{"Invoice", "00000000-0000-4000-8000-00000000000b"}, []string{"b"}, ""},
		{"unknown", []string{"Nope"}, nil, `--flow "Nope": no desktop flow`},
		{"ambiguous name", []string{"TWIN"}, nil, `2 desktop flows have that name (00000000-0000-4000-8000-000000000005, 00000000-0000-4000-8000-000000000006)`},
		{"empty name", []string{" "}, nil, "empty flow name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Select(listed, c.names)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), c.want) {
				t.Errorf("selected %v, want %v", ids(got), c.want)
			}
		})
	}
}

// fakeFlows serves listed with a string input each; failing names a flow whose schema fails.
type fakeFlows struct {
	drafts  []bool // includeDrafts of each List call
	failing string
}

func (f *fakeFlows) List(_ context.Context, includeDrafts bool) ([]Flow, error) {
	f.drafts = append(f.drafts, includeDrafts)
	return listed, nil
}

func (f *fakeFlows) Schema(_ context.Context, fl Flow) (spec.DesktopFlow, error) {
	if fl.WorkflowID == f.failing {
		return spec.DesktopFlow{}, errors.New("HTTP 404")
	}
	d := spec.DesktopFlow{WorkflowID: fl.WorkflowID, Name: fl.Name, HasInputs: true,
		Inputs: []operations.Variable{{Name: "Name", Type: "string"}}}
	if fl.Name == "Invoice" {
		d.Inputs = append(d.Inputs, operations.Variable{Name: "Token", Type: "string", Default: "{{secrets.INVOICE_TOKEN}}"})
	}
	return d, nil
}

// Generate names each flow's inputs whose default holds a secret placeholder (left out of
// its template), so the command can warn.
func TestGenerateNamesSecretDefaults(t *testing.T) {
	t.Parallel()
	files, err := Generate(context.Background(), &fakeFlows{}, []string{"Invoice", "Archive"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range files {
		got[f.Flow.Name] = f.SecretDefaults
		b, _ := os.ReadFile(f.Path)
		if strings.Contains(string(b), "INVOICE_TOKEN") {
			t.Errorf("%s holds the secret placeholder", f.Path)
		}
	}
	if want := map[string][]string{"Invoice": {"Token"}, "Archive": nil}; !reflect.DeepEqual(got, want) {
		t.Errorf("SecretDefaults %v, want %v", got, want)
	}
}

// Generate writes one file per selected flow in file order; a second run finds every file
// as it would write it (same bytes, not rewritten); the listing asks for drafts only when
// flows are named.
func TestGenerateTwiceWritesTheSameBytes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out", "templates")
	src := &fakeFlows{}
	first, err := Generate(context.Background(), src, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range first {
		files = append(files, filepath.Base(f.Path))
		if !f.Changed {
			t.Errorf("%s: first run reports it unchanged", f.Path)
		}
	}
	want := []string{"desktop-flow-00000000-0000-4000-8000-000000000001.json", "desktop-flow-00000000-0000-4000-8000-000000000005.json",
		"desktop-flow-00000000-0000-4000-8000-000000000006.json", "desktop-flow-00000000-0000-4000-8000-00000000000b.json"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	before := map[string][]byte{}
	for _, f := range first {
		before[f.Path], _ = os.ReadFile(f.Path)
	}
	second, err := Generate(context.Background(), src, nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range second {
		now, _ := os.ReadFile(f.Path)
		if f.Changed || string(now) != string(before[f.Path]) {
			t.Errorf("%s: second run changed=%v, bytes equal=%v", f.Path, f.Changed, string(now) == string(before[f.Path]))
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d entries in the directory, want %d (no temporary file left)", len(entries), len(want))
	}
	if _, err := Generate(context.Background(), src, []string{"Invoice"}, dir); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(src.drafts, []bool{false, false, true}) {
		t.Errorf("includeDrafts of the listings %v, want false, false, true", src.drafts)
	}
}

// A flow whose schema cannot be read stops the run before any file is written.
func TestGenerateWritesNothingWhenAFlowFails(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	_, err := Generate(context.Background(), &fakeFlows{failing: listed[0].WorkflowID}, nil, dir)
	if err == nil || !strings.Contains(err.Error(), `"Invoice"`) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err %v, want one naming the flow and the cause", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the output directory exists after a failure: %v", err)
	}
}
