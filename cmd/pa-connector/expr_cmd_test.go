package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runExprT(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runExpr(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExprEval(t *testing.T) {
	t.Parallel()
	ctx := writeFile(t, "ctx.json", `{"response": {"body": {"statuscode": 4, "flowsessionId": "f-1"}}}`)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		wantOut  string // JSON
		wantErrs string
	}{
		{"FEEL with context file", "", []string{"eval", "--expression", "={statusCode: response.body.statuscode}", "--context", ctx}, 0, `{"statusCode": 4}`, ""},
		{"context from stdin", `{"a": [1, 2, 3]}`, []string{"eval", "--expression", "=a[-1]", "--context", "-"}, 0, `3`, ""},
		{"no context", "", []string{"eval", "--expression", `=date("2024-01-02") + duration("P1D")`}, 0, `"2024-01-03"`, ""},
		{"expr-lang", "", []string{"eval", "--expression", "expr:1 + 2"}, 0, `3`, ""},
		{"compile error", "", []string{"eval", "--expression", "={a: 1"}, 1, "", `1:7: expected "," but found end of expression`},
		{"unknown function: null and the warning, as on a cluster", "", []string{"eval", "--expression", "=string format(1)"}, 0, `null`,
			`pa-connector expr eval: warning: [NO_FUNCTION_FOUND] No function found with name 'string format' and 1 parameters`},
		{"a warning is printed, the null result stands", `{"orderValue": "99"}`, []string{"eval", "--expression", "=orderValue >= 100", "--context", "-"}, 0, `null`,
			`pa-connector expr eval: warning: [NOT_COMPARABLE] Can't compare '"99"' with '100'`},
		{"missing expression", "", []string{"eval"}, 2, "", "--expression is required"},
		{"bad context", "{", []string{"eval", "--expression", "=1", "--context", "-"}, 2, "", "context -"},
		{"context not an object", "[1]", []string{"eval", "--expression", "=1", "--context", "-"}, 2, "", "must be a JSON object"},
		{"unknown command", "", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"no command", "", nil, 2, "", "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runExprT(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errs)
			}
			if tt.wantOut != "" {
				var got, want any
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("stdout %q is not JSON: %v", out, err)
				}
				_ = json.Unmarshal([]byte(tt.wantOut), &want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("stdout %s, want %s", out, tt.wantOut)
				}
			}
			if !strings.Contains(errs, tt.wantErrs) {
				t.Errorf("stderr %q, want it to contain %q", errs, tt.wantErrs)
			}
		})
	}
}

const lintTemplate = `{
  "$schema": "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json",
  "id": "test.template", "name": "Test",
  "properties": [
    {"id": "url", "label": "URL", "type": "String", "value": "=baseUrl + \"/api\"", "binding": {"type": "zeebe:input", "name": "url"}},
    {"id": "body", "label": "Body", "type": "Text", "value": "={a: 1,", "binding": {"type": "zeebe:input", "name": "body"}},
    {"id": "plain", "type": "String", "value": "not an expression", "binding": {"type": "zeebe:input", "name": "plain"}},
    {"id": "count", "type": "Number", "value": 3, "binding": {"type": "zeebe:input", "name": "n"}},
    {"id": "resultExpression", "label": "Result expression", "type": "Text", "value": "={statusCode: response.body.statuscode}", "binding": {"type": "zeebe:taskHeader", "key": "resultExpression"}},
    {"id": "errorExpression", "label": "Error expression", "type": "Text", "value": "=if error.code = \"404\" then string format(error) else null", "binding": {"type": "zeebe:taskHeader", "key": "errorExpression"}}
  ]
}`

func TestExprLint(t *testing.T) {
	t.Parallel()
	code, out, errs := runExprT(t, "", "lint", "--template", writeFile(t, "t.json", lintTemplate))
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stdout %q, stderr %q)", code, out, errs)
	}
	for _, want := range []string{
		`test.template: property "body" (Body): compiling FEEL "={a: 1,": 1:8: expected a context key but found end of expression`,
		`test.template: property "errorExpression" (Error expression): 1:29: unknown function "string format" (a cluster evaluates it to null)`,
		"4 expressions checked, 2 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"url"`) || strings.Contains(out, "resultExpression") {
		t.Errorf("lint reported a valid expression:\n%s", out)
	}
}

func TestExprLintShippedTemplates(t *testing.T) {
	t.Parallel()
	// every element template shipped in examples/ (the generic ones and the per-flow example
	// templates generate writes) must lint clean
	files, err := filepath.Glob("../../examples/element-templates/*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("templates %v (%v), want at least the power-automate, dataverse and per-flow ones", files, err)
	}
	for _, file := range files {
		code, out, errs := runExprT(t, "", "lint", "--template", file)
		if code != 0 || strings.Contains(out+errs, "warning") {
			t.Errorf("%s: exit %d: %s%s", file, code, out, errs)
		}
	}
}

func TestExprLintUsage(t *testing.T) {
	t.Parallel()
	if code, _, _ := runExprT(t, "", "lint"); code != 2 {
		t.Errorf("lint without --template: exit %d, want 2", code)
	}
	if code, _, _ := runExprT(t, "", "lint", "--template", writeFile(t, "bad.json", "nope")); code != 2 {
		t.Errorf("lint of a non-template: exit %d, want 2", code)
	}
}
