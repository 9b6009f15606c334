package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
)

// A flow's schema default holding a {{secrets.NAME}} placeholder, in any form the worker's
// resolver resolves and at any depth, is not copied into the template: the worker resolves
// placeholders in runInputs, so the flow would receive the secret.
func TestFlowTemplateLeavesOutSecretPlaceholderDefaults(t *testing.T) {
	t.Parallel()
	in := operations.ParseSchema(map[string]any{"schema": map[string]any{"type": "object", "properties": map[string]any{
		"Note":   map[string]any{"type": "string", "default": "{{secrets.DB_PASSWORD}}"},
		"Spaced": map[string]any{"type": "string", "default": "=x {{ secrets.SPACED_ONE }} y"},
		"Cfg":    map[string]any{"type": "object", "default": map[string]any{"k": map[string]any{"deep": []any{"{{secrets.API_KEY}}"}}}},
		"Key":    map[string]any{"type": "object", "default": map[string]any{"{{secrets.KEY_NAME}}": 1.0}},
		"List":   map[string]any{"type": "array", "default": []any{1.0, "{{secrets.LIST_ONE}}"}},
		"Plain":  map[string]any{"type": "string", "default": "{{not a secret}} secrets.X"},
		"Kept":   map[string]any{"type": "object", "default": map[string]any{"currency": "EUR"}},
	}}})
	f := DesktopFlow{WorkflowID: "0e1d0e1d-0000-4000-8000-00000000e1a1", Name: "x", Inputs: in, HasInputs: true}
	b, err := FlowTemplate(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"DB_PASSWORD", "SPACED_ONE", "API_KEY", "KEY_NAME", "LIST_ONE"} {
		if strings.Contains(string(b), s) {
			t.Errorf("the template pre-fills a field with the placeholder of %s", s)
		}
	}
	for _, s := range []string{`"value": "{{not a secret}} secrets.X"`, `"value": "={\"currency\":\"EUR\"}"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the template lost a default without a placeholder: no %s", s)
		}
	}
	if got, want := SecretDefaults(f), []string{"Cfg", "Key", "List", "Note", "Spaced"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SecretDefaults = %v, want %v", got, want)
	}
}
