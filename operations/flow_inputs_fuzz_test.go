package operations

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// sampleOf is a value of a schema type, "" (any) included.
func sampleOf(typ string) any {
	switch typ {
	case "string":
		return "s"
	case "number":
		return json.Number("1.5")
	case "integer":
		return json.Number("2")
	case "boolean":
		return true
	case "object":
		return map[string]any{}
	case "array":
		return []any{}
	}
	return nil
}

// FuzzInputSchema parses a schema document as Dataverse could send it and checks inputs
// against it. Oracles: JSONSchema has one property per parsed variable and only declared names
// in required; inputs with every declared variable at a value of its type pass; a refusal is an
// *InputError on runInputs.<name> where name is an input given or a required one, and the
// message quotes no string value given.
func FuzzInputSchema(f *testing.F) {
	f.Add([]byte(`{"schema": {"properties": {"inputText": {"default": "", "type": "string", "value": ""}, "n": {"type": "number", "value": "0"}}, "required": ["inputText"], "type": "object"}}`), []byte(`{"inputText": "zzzzsecret", "n": "x"}`))
	f.Add([]byte(`{"type": "object", "properties": {"b": {"type": "boolean"}, "i": {"type": "integer"}}}`), []byte(`{"i": 1.25}`))
	f.Add([]byte(`{"schema": {"properties": {"x": {}}, "required": ["y", 3]}}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, doc, in []byte) {
		body := ParseBody("application/json", doc)
		vars := ParseSchema(body)
		js := JSONSchema(body, true)
		props, _ := js["properties"].(map[string]any)
		if len(props) != len(vars) {
			t.Fatalf("%d properties for %d variables", len(props), len(vars))
		}
		if req, ok := js["required"].([]any); ok {
			for _, r := range req {
				if props[r.(string)] == nil {
					t.Fatalf("required %v is no property", r)
				}
			}
		}
		s := &InputSchema{WorkflowID: "wf", Vars: vars}
		all := map[string]any{}
		for _, v := range vars {
			all[v.Name] = sampleOf(v.Type)
			if v.Type == "" || !checkedTypes[v.Type] {
				all[v.Name] = "anything"
			}
		}
		if err := s.Check(all); err != nil {
			t.Fatalf("every declared input at a value of its type was refused: %v", err)
		}
		inputs, err := DecodeInputs(string(in))
		if err != nil {
			return
		}
		err = s.Check(inputs)
		if err == nil {
			return
		}
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(ie.Field, "runInputs.") {
			t.Fatalf("refusal %v is not an input error on runInputs.<name>", err)
		}
		for k, x := range inputs {
			if sv, ok := x.(string); ok && len(sv) >= 8 && !strings.Contains(ie.Field+s.describe()+k, sv) && strings.Contains(err.Error(), sv) {
				t.Fatalf("the message quotes the value of %s: %v", k, err)
			}
		}
	})
}
