package spec

import (
	"reflect"
	"testing"

	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
)

// Every output reads the job's response whatever the outputs' names: a context entry named
// response must not shadow the job's response for the entries after it.
func TestWaitResultOutputNamedResponse(t *testing.T) {
	t.Parallel()
	outs := operations.ParseSchema(map[string]any{"schema": map[string]any{"type": "object", "properties": map[string]any{
		"response": map[string]any{"type": "string"}, "result": map[string]any{"type": "string"}, "total": map[string]any{"type": "number"}}}})
	src := waitResult(outs)
	p, err := expr.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(map[string]any{"response": map[string]any{"body": map[string]any{"flowSessionId": "f1",
		"outputs": map[string]any{"response": "HTTP 200", "result": "ok", "total": int64(42)}}}})
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	want := map[string]any{"flowSessionId": "f1", "response": "HTTP 200", "result": "ok", "total": int64(42)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s\n= %v, want %v", src, got, want)
	}
}
