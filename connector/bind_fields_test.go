package connector

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/connector/spec"
)

// An operation is advertised (declared, so in the template and README) only when a handler
// serves it, and a handler serves only a declared operation.
func TestEveryDeclaredOperationHasAHandler(t *testing.T) {
	var declared, served []string
	for _, op := range spec.PowerAutomate.Operations {
		declared = append(declared, op.Name)
	}
	for name := range nativeOps {
		served = append(served, name)
	}
	sort.Strings(declared)
	sort.Strings(served)
	if !reflect.DeepEqual(declared, served) {
		t.Errorf("declared operations %v, served %v", declared, served)
	}
}

// Every declared default binds: it is of its field's kind and within its bounds.
func TestDeclaredDefaultsBind(t *testing.T) {
	for _, j := range spec.JobTypes {
		for _, f := range append(j.Fields(), spec.TriggerFields...) {
			if f.Default == "" || f.Kind == spec.Auth {
				continue
			}
			if _, err := bindField(f, f.Name, nil); err != nil {
				t.Errorf("%s: the default %q does not bind: %v", f.Name, f.Default, err)
			}
		}
	}
	if DefaultConnectionTimeout != 20*time.Second {
		t.Errorf("DefaultConnectionTimeout = %v, the template's default is 20 seconds", DefaultConnectionTimeout)
	}
}

// The variables fetched for a native job are the declared ones.
func TestNativeVariablesAreTheDeclaredFields(t *testing.T) {
	for _, f := range spec.PowerAutomate.Fields() {
		found := false
		for _, n := range nativeVariables {
			found = found || n == f.Name
		}
		if !found {
			t.Errorf("%s is declared but not fetched", f.Name)
		}
	}
}

// Kinds the dataverse:1 operations need (issue 12): each binds what it should, and refuses
// what it should with a message naming the field.
func TestBindFieldKinds(t *testing.T) {
	pageSize := &spec.Field{Name: "pageSize", Kind: spec.Int, Default: "500", Min: 1, Max: 5000}
	top := &spec.Field{Name: "top", Kind: spec.Int, Min: 1, Max: 5000}
	sel := &spec.Field{Name: "select", Kind: spec.List}
	formatted := &spec.Field{Name: "includeFormattedValues", Kind: spec.Bool}
	row := &spec.Field{Name: "row", Kind: spec.Context, Required: true}
	rowID := &spec.Field{Name: "rowId", Kind: spec.RowRef, Required: true}
	mode := &spec.Field{Name: "runMode", Kind: spec.Enum, Required: true, Choices: []spec.Choice{{Value: "attended"}, {Value: "unattended"}}}
	poll := spec.PollInterval
	cases := []struct {
		f    *spec.Field
		in   any
		want any    // nil: absent
		err  string // a part of the message; "" for none
	}{
		{pageSize, nil, int64(500), ""},
		{pageSize, "250", int64(250), ""},
		{pageSize, int64(5001), nil, "pageSize: must be between 1 and 5000, got 5001"},
		{pageSize, 2.5, nil, "pageSize: must be a whole number"},
		{top, nil, nil, ""},
		{top, int64(0), nil, "top: must be between 1 and 5000, got 0"},
		{sel, "name, accountid ,", []string{"name", "accountid"}, ""},
		{sel, []any{"name", "accountid"}, []string{"name", "accountid"}, ""},
		{sel, []any{"name", int64(3)}, nil, "select[1]: must be a string, got a number"},
		{sel, int64(3), nil, "select: must be a list of strings or a comma-separated string"},
		{sel, "", nil, ""},
		{formatted, nil, nil, ""},
		{formatted, true, true, ""},
		{formatted, " FALSE ", false, ""},
		{formatted, "yes", nil, `includeFormattedValues: must be true or false, got "yes"`},
		{formatted, int64(1), nil, "includeFormattedValues: must be true or false, got a number"},
		{row, map[string]any{"name": "Contoso"}, map[string]any{"name": "Contoso"}, ""},
		{row, `{"name": "Contoso"}`, map[string]any{"name": "Contoso"}, ""},
		{row, `[1]`, nil, "row: must be a context or a JSON object, got a list"},
		{row, nil, nil, "row: is required"},
		{rowID, "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", ""},
		{rowID, map[string]any{"emailaddress1": "a@b.c"}, map[string]any{"emailaddress1": "a@b.c"}, ""},
		{rowID, "accounts(1)", nil, `rowId: must be a GUID such as 00000000-0000-0000-0000-000000000000, got "accounts(1)"`},
		{rowID, map[string]any{}, nil, "rowId: must be a GUID or an alternate key"},
		{spec.Action, "new_NotifyOwner", "new_NotifyOwner", ""},
		{spec.Action, "Microsoft.Dynamics.CRM.new_NotifyOwner", "Microsoft.Dynamics.CRM.new_NotifyOwner", ""},
		{spec.Action, "new_Notify Owner", nil, `action: must be the unique name of a custom API or action (such as new_NotifyOwner), got "new_Notify Owner"`},
		{spec.Action, "accounts(1)/Microsoft.Dynamics.CRM.x", nil, "action: must be the unique name"},
		{spec.Action, "a" + strings.Repeat("b", 128), nil, "action: must be the unique name"},
		{spec.Parameters, map[string]any{"Text": "x"}, map[string]any{"Text": "x"}, ""},
		{spec.Parameters, nil, nil, ""},
		{spec.Parameters, map[string]any{"Text": strings.Repeat("x", 2<<20)}, nil, "parameters: is 2097163 bytes as JSON; the worker takes at most 2 MB"},
		{mode, " Unattended ", "unattended", ""},
		{mode, "sometimes", nil, `runMode: must be attended or unattended, got "sometimes"`},
		{spec.ConnectionType, "2", int64(2), ""},
		{spec.ConnectionType, int64(3), nil, "connectionType: must be 1 (connection) or 2 (connection reference), got 3"},
		{spec.ConnectionTimeout, int64(0), int64(20), ""},
		{spec.ConnectionTimeout, int64(-1), nil, "connectionTimeoutInSeconds: must be between 0 and 3600 seconds, got -1"},
		{spec.WaitMode, "", nil, ""},
		{spec.WaitMode, "Poll", "poll", ""},
		{spec.WaitMode, "push", nil, `waitMode: must be callback or poll, got "push"`},
		{poll, nil, 30 * time.Second, ""},
		{poll, "PT2M", 2 * time.Minute, ""},
		{poll, "P1D", nil, "pollInterval: must be between PT1S and PT1H"},
		{poll, "P1W", nil, "pollInterval: " + `"P1W" is not an ISO-8601 duration`},
		{spec.OrganizationURI, "https://org.crm.dynamics.com/", "https://org.crm.dynamics.com", ""},
		{spec.OrganizationURI, "https://org.crm.dynamics.com/api", nil, "organizationUri: must be the organization's root URL"},
		{spec.RunInputs, map[string]any{"A": int64(1)}, `{"A":1}`, ""},
		{spec.RunInputs, "null", nil, "runInputs: must be a JSON object (as a context or a JSON string), got null"},
		{spec.RunInputs, `"` + strings.Repeat("x", 2<<20) + `"`, nil, "runInputs: must be a JSON object"},
		{spec.RunInputs, `{"x":"` + strings.Repeat("x", 2<<20) + `"}`, nil, "runInputs: is 2097160 bytes; Dataverse takes at most 2 MB"},
	}
	for _, c := range cases {
		got, err := bindField(c.f, c.f.Name, c.in)
		if c.err != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s = %.60v: err %v, want an InputError with %q", c.f.Name, c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %.60v: got %#v, %v; want %#v", c.f.Name, c.in, got, err, c.want)
		}
	}
}

// templatePatterns reads each constrained property's pattern from the committed templates.
func templatePatterns(t testing.TB) map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, j := range spec.JobTypes {
		raw, err := os.ReadFile(filepath.Join("..", spec.TemplatePath(j)))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties []struct {
				ID          string
				Constraints struct{ Pattern struct{ Value string } }
			}
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Properties {
			if p.Constraints.Pattern.Value != "" {
				out[p.ID] = regexp.MustCompile(p.Constraints.Pattern.Value)
			}
		}
	}
	return out
}

// patternAgrees is the oracle that keeps the template's checks and the worker's from drifting:
// a value the Modeler lets through is one the worker takes (bounds aside, which only the worker
// checks), and a value the worker takes as written is one the Modeler lets through. The worker
// alone forgives surrounding space, an enum's case and a number's plus sign.
func patternAgrees(t testing.TB, patterns map[string]*regexp.Regexp, s string) {
	t.Helper()
	if strings.HasPrefix(s, "=") || strings.HasPrefix(s, "{{secrets.") {
		return // the worker sees what the expression or secret gives, not s
	}
	for _, f := range append(append(spec.PowerAutomate.Fields(), spec.Dataverse.Fields()...), spec.RetryBackoff, spec.JobTimeout) {
		re := patterns[f.Name]
		if re == nil {
			continue
		}
		_, err := bindField(f, f.Name, s)
		bounds := err != nil && (strings.Contains(err.Error(), "must be between") || strings.Contains(err.Error(), "out of range"))
		shapeOK := err == nil || ((f.Kind == spec.Int || f.Kind == spec.Duration) && bounds)
		if re.MatchString(s) && !shapeOK {
			t.Errorf("%s = %q: the template's pattern %s lets it through, the worker refuses it: %v", f.Name, s, re, err)
		}
		canonical := strings.TrimSpace(s) == s
		switch f.Kind {
		case spec.Enum:
			canonical = canonical && strings.ToLower(s) == s
		case spec.Int:
			canonical = canonical && !strings.HasPrefix(s, "+") // strconv takes +5
		}
		if err == nil && canonical && !re.MatchString(s) {
			t.Errorf("%s = %q: the worker takes it, the template's pattern %s refuses it", f.Name, s, re)
		}
	}
}

func TestTemplatePatternsAgreeWithBinding(t *testing.T) {
	patterns := templatePatterns(t)
	for _, id := range []string{"flowSessionId", "workflowId", "runMode", "runTimeout", "pollInterval", "connectionTimeoutInSeconds", "retryBackoff", "jobTimeout", "action", "top", "pageSize"} {
		if patterns[id] == nil {
			t.Errorf("the template has no pattern for %s", id)
		}
	}
	for _, s := range []string{"", "0", "20", "7200", "86401", "-1", "1.5", "abc", "attended", "Attended", "unattended ",
		"PT30S", "PT1H", "P1D", "PT0.5S", "P", "PT", "P1W", "P1Y", "PT1H30M", "pt30s",
		"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeez", "zzzzzzzz-bbbb-cccc-dddd-eeeeeeeeeeee", "{{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}}", "../x",
		"new_NotifyOwner", "Microsoft.Dynamics.CRM.new_X", "microsoft.dynamics.crm.new_X", "_x", "9x", "new_X/../y", "a" + strings.Repeat("b", 127), "a" + strings.Repeat("b", 128)} {
		patternAgrees(t, patterns, s)
	}
}

func FuzzTemplatePatternsAgreeWithBinding(f *testing.F) {
	for _, s := range []string{"PT30S", "7200", "attended", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "P1DT2H3M4.5S", "{x}"} {
		f.Add(s)
	}
	patterns := templatePatterns(f)
	f.Fuzz(func(t *testing.T, s string) { patternAgrees(t, patterns, s) })
}

// The cost of binding a trigger's variables by the declarations, per job.
func BenchmarkBindNativeTrigger(b *testing.B) {
	v := map[string]any{
		"operationType": "triggerFlowRun", "organizationUri": "https://org.crm.dynamics.com",
		"authentication": map[string]any{"type": "bearer", "token": "t0k3n"},
		"workflowId":     "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "connectionName": "c", "runMode": "unattended",
		"runInputs": map[string]any{"Name": "Contoso", "Amount": int64(3)}, "runTimeout": "600",
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := bindNative(v); err != nil {
			b.Fatal(err)
		}
	}
}
