package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
)

// Every FEEL value of a per-flow template compiles, as Modeler writes it (a Number field's
// number as JavaScript prints it, after "="): numbers in plain decimal form at any depth, no
// \u escapes for <, >, & or U+2028, a number JavaScript would print in exponent form left out.
func TestFlowTemplateDefaultsAreFEEL(t *testing.T) {
	t.Parallel()
	f := DesktopFlow{WorkflowID: "0E1D0E1D-0000-4000-8000-00000000E1A1", Name: `Quote " ' ` + strings.Repeat("Ü", 5000),
		Description: "line1\nline2 \"q\" </script>", HasInputs: true, HasOutputs: true,
		Inputs: []operations.Variable{
			{Name: "small", Type: "number", Default: 0.0000001},
			{Name: "big", Type: "number", Default: 1e21},
			{Name: "half", Type: "number", Default: 0.5},
			{Name: "obj", Type: "object", Default: map[string]any{"x": 0.0000001, "s": "a<b>&\u2028\\u003c\n"}},
			{Name: "arr", Type: "array", Default: []any{1e22, "=x"}},
			{Name: "eq", Type: "string", Default: "=now()"},
		},
		Outputs: []operations.Variable{{Name: "a<b"}, {Name: "ünï"}, {Name: "for"}, {Name: "x y"}, {Name: "response"}, {Name: "flowSessionId"}, {Name: "outputs"}},
	}
	b, err := FlowTemplate(f)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct{ Properties []map[string]any }
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for _, p := range tmpl.Properties {
		v, ok := p["value"]
		if !ok {
			continue
		}
		id, _ := p["id"].(string)
		values[id] = v
		s, isStr := v.(string)
		if !isStr {
			raw, _ := json.Marshal(v) // JavaScript prints these numbers as Go marshals them
			s = "=" + string(raw)
		}
		if strings.HasPrefix(s, "=") {
			if _, err := expr.Compile(s); err != nil {
				t.Errorf("property %s value %q does not compile: %v", id, s, err)
			}
		}
	}
	want := map[string]any{
		"runInputs.half": 0.5,
		"runInputs.obj":  "={\"s\":\"a<b>&\u2028\\\\u003c\\n\",\"x\":0.0000001}",
		"runInputs.arr":  `=[10000000000000000000000,"=x"]`,
		"runInputs.eq":   `="=now()"`,
	}
	for id, w := range want {
		if values[id] != w {
			t.Errorf("%s = %#v, want %#v", id, values[id], w)
		}
	}
	for _, id := range []string{"runInputs.small", "runInputs.big"} {
		if v, ok := values[id]; ok {
			t.Errorf("%s = %v: JavaScript prints it in exponent form, which FEEL cannot read", id, v)
		}
	}
	if p, err := expr.Compile(values["runInputs.obj"].(string)); err == nil {
		got, err := p.Eval(nil)
		if w := map[string]any{"s": "a<b>&\u2028\\u003c\n"}; err != nil || !reflect.DeepEqual(got.(map[string]any)["s"], w["s"]) {
			t.Errorf("obj's string reads back as %#v (%v), want %#v", got, err, w["s"])
		}
	}
	res := waitResult(f.Outputs)
	p, err := expr.Compile(res)
	if err != nil {
		t.Fatalf("result %s: %v", res, err)
	}
	outs := map[string]any{"a<b": int64(1), "ünï": int64(2), "for": int64(3), "x y": int64(4), "response": int64(5), "flowSessionId": int64(6), "outputs": int64(7)}
	got, err := p.Eval(map[string]any{"response": map[string]any{"body": map[string]any{"flowSessionId": "id", "outputs": outs}}})
	if err != nil || !reflect.DeepEqual(got, outs) {
		t.Errorf("%s\n= %v (%v), want %v", res, got, err, outs)
	}
	if strings.Contains(res, `\u`) {
		t.Errorf("result expression holds a \\u escape: %s", res)
	}
}
