package expr

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonEnv decodes a context the way the connector gets it: integral numbers as int64.
func jsonEnv(t testing.TB, s string) map[string]any {
	t.Helper()
	if s == "" {
		return map[string]any{}
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad test context %s: %v", s, err)
	}
	return v.(map[string]any)
}

func evalFEEL(t testing.TB, src string, env map[string]any) any {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	v, err := p.Eval(env)
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	return v
}

func TestFEELCore(t *testing.T) {
	t.Parallel()
	ctx := `{"response": {"status": 200, "statusName": "Succeeded", "body": {"flowsessionId": "f-1", "statuscode": 4, "outputs": {"x": 1}}},
		"error": {"code": "503", "message": "Service Unavailable"},
		"orders": [{"id": "a", "qty": 1}, {"id": "b", "qty": 3}], "xs": [1, 2, 3], "s": "Hello", "n": null}`
	tests := []struct{ name, src, want string }{
		{"template flow session", `={flowSessionId: response.body.flowsessionId}`, `{"flowSessionId": "f-1"}`},
		{"template status code", `={statusCode: response.body.statuscode}`, `{"statusCode": 4}`},
		{"template outputs", `={flowOutputs: response.body}`, `{"flowOutputs": {"flowsessionId": "f-1", "statuscode": 4, "outputs": {"x": 1}}}`},
		{"nested context, string keys", `={"a b": {c: 1, "d.e": [true, null]}}`, `{"a b": {"c": 1, "d.e": [true, null]}}`},
		{"context refers to earlier entries", `={a: 1, b: a + 1}.b`, `2`},
		{"path on missing name", `=missing.x.y`, `null`},
		{"path on null", `=n.x`, `null`},
		{"path on a string", `=s.x`, `null`},
		{"projection", `=orders.id`, `["a", "b"]`},
		{"if", `=if response.status = 200 then "ok" else "ko"`, `"ok"`},
		{"if null condition", `=if n then 1 else 2`, `2`},
		{"comparison types", `=1 < "a"`, `null`},
		{"equality types", `=1 = "a"`, `null`},
		{"null equals null", `=n = null`, `true`},
		{"not equal", `=s != "Hello"`, `false`},
		{"between", `=2 between 1 and 3`, `true`},
		{"in list", `=2 in [1, 2]`, `true`},
		{"in range", `=5 in (1..5]`, `true`},
		{"in unary tests", `=5 in (> 3, < 1)`, `true`},
		{"and three-valued", `=false and n`, `false`},
		{"and null", `=true and n`, `null`},
		{"or three-valued", `=true or n`, `true`},
		{"not", `=not(n)`, `null`},
		{"concat", `=s + " world"`, `"Hello world"`},
		{"concat null", `=s + n`, `null`},
		{"arithmetic", `=1 + 2 * 3 - 4 / 2`, `5`},
		{"decimal sum", `=0.1 + 0.2`, `0.3`},
		{"power", `=2 ** 10`, `1024`},
		{"division by zero", `=1 / 0`, `null`},
		{"negative index", `=xs[-1]`, `3`},
		{"index", `=xs[1]`, `1`},
		{"index out of range", `=xs[4]`, `null`},
		{"computed index", `=xs[count(xs)]`, `3`},
		{"filter", `=xs[item > 1]`, `[2, 3]`},
		{"filter context", `=orders[qty > 1].id`, `["b"]`},
		{"for", `=for x in xs return x * 2`, `[2, 4, 6]`},
		{"for two", `=for i in 1..2, j in [10, 20] return i * j`, `[10, 20, 20, 40]`},
		{"some", `=some x in xs satisfies x > 2`, `true`},
		{"every", `=every o in orders satisfies o.qty > 1`, `false`},
		{"function literal", `=sort(xs, function(a, b) a > b)`, `[3, 2, 1]`},
		{"spaces in names", `=string length(upper case(s))`, `5`},
		{"named arguments", `=substring(string: s, start position: 2, length: 3)`, `"ell"`},
		{"bpmnError", `=if error.code = "503" then bpmnError("UNAVAILABLE", error.message) else null`,
			`{"errorType": "bpmnError", "code": "UNAVAILABLE", "message": "Service Unavailable"}`},
		{"ignoreError", `=ignoreError({skipped: true})`, `{"errorType": "ignoreError", "variables": {"skipped": true}}`},
		{"comments", "={\n // a comment\n a: 1 /* another */\n}", `{"a": 1}`},
		{"backtick names", "={v: response.`statusName`}", `{"v": "Succeeded"}`},
	}
	env := jsonEnv(t, ctx)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evalFEEL(t, tt.src, env)
			want, _ := decodeJSON([]byte(tt.want))
			if !valuesEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("%s = %s, want %s", tt.src, g, tt.want)
			}
		})
	}
}

func TestFEELJobErrorBackoff(t *testing.T) {
	t.Parallel()
	got := evalFEEL(t, `=jobError("busy", {}, job.retries - 1, @"PT30S")`, map[string]any{"job": map[string]any{"retries": int64(3)}})
	want := map[string]any{ErrorType: TypeJobError, "message": "busy", "variables": map[string]any{}, "retries": 2, "retryBackoff": "PT30S"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestFEELCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{"={\n  a: 1 +\n}", `3:1: unexpected "}"`},
		{`=x instance of list<number>`, `1:20: unsupported construct: instance of list<...>`},
		{`=response?.body`, `looks like expr-lang`},
		{`="abc`, `1:2: unterminated string`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src)
		var ce *CompileError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%q) = %v, want a CompileError containing %q", tt.src, err, tt.want)
		}
	}
}

// TestFEELFindings: what feel-scala accepts and evaluates to null (an unknown function,
// arguments no form of a function takes, an invalid temporal literal) compiles, evaluates to
// null with feel-scala's warning, and is a finding that lint reports with its position.
func TestFEELFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src, finding string
		warnings     []string
	}{
		{`=string format(x)`, `1:2: unknown function "string format"`, []string{`[NO_FUNCTION_FOUND] No function found with name 'string format' and 1 parameters`}},
		{`=foo(1)`, `1:2: unknown function "foo"`, []string{`[NO_FUNCTION_FOUND] No function found with name 'foo' and 1 parameters`}},
		{`=1 + substring("a")`, `1:6: substring() takes 2 to 3 arguments, got 1`, []string{
			`[NO_FUNCTION_FOUND] No function found with name 'substring' and 1 parameters`, `[INVALID_TYPE] Can't add 'null' to '1'`}},
		{`=substring(text: "a", start position: 1)`, `1:2: substring() has no parameter "text" (parameters: string, start position, length)`,
			[]string{`[NO_FUNCTION_FOUND] No function found with name 'substring' and parameters: text,start position`}},
		{`=abs(n: 1, n: 2)`, `1:2: abs(): parameter "n" given twice`, []string{`[NO_FUNCTION_FOUND] No function found with name 'abs' and parameters: n,n`}},
		{"=[\n  @\"2020-13-01\"]", `2:3: invalid temporal literal @"2020-13-01"`, nil},
		{`={f: function(x) unknown(x), r: f(1)}.r`, `1:18: unknown function "unknown"`, []string{`[NO_FUNCTION_FOUND] No function found with name 'unknown' and 1 parameters`}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.src)
		if err != nil {
			t.Errorf("Compile(%q): %v, want it to compile as feel-scala does", tt.src, err)
			continue
		}
		var found []string
		for _, f := range p.Findings() {
			found = append(found, f.Error())
		}
		if len(found) != 1 || found[0] != tt.finding {
			t.Errorf("Compile(%q).Findings() = %q, want [%q]", tt.src, found, tt.finding)
		}
		out, ws, err := p.EvalWarnings(context.Background(), map[string]any{"x": int64(1)})
		var warnings []string
		for _, w := range ws {
			warnings = append(warnings, w.String())
		}
		if err != nil || !slices.Equal(warnings, tt.warnings) || !isNullish(out) {
			t.Errorf("%s = %v %q (%v), want null (or a list of null) with %q", tt.src, out, warnings, err, tt.warnings)
		}
	}
	// what a call no function takes holds is reported too
	p, err := Compile(`=foo(bar(1), @"2020-13-01")`)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range p.Findings() {
		found = append(found, f.Error())
	}
	if want := []string{`1:6: unknown function "bar"`, `1:14: invalid temporal literal @"2020-13-01"`, `1:2: unknown function "foo"`}; !slices.Equal(found, want) {
		t.Errorf("findings %q, want %q", found, want)
	}
	if p, _ := Compile(`=abs(-1) + count([1])`); len(p.Findings()) != 0 {
		t.Errorf("findings %v for known functions", p.Findings())
	}
}

// isNullish: null, or a list of nulls (an invalid literal in a list).
func isNullish(x any) bool {
	if l, ok := x.([]any); ok {
		return len(l) == 1 && l[0] == nil
	}
	return x == nil
}

func TestExprLangStillAvailable(t *testing.T) {
	t.Parallel()
	env := map[string]any{"response": map[string]any{"body": map[string]any{"a": int64(1)}}}
	for _, src := range []string{`expr:{a: response?.body?.a ?? 0}`, `{a: response.body.a}`} {
		got := evalFEEL(t, src, env)
		if !reflect.DeepEqual(got, map[string]any{"a": int64(1)}) {
			t.Errorf("%s = %#v", src, got)
		}
	}
}

// substring of a string holding invalid UTF-8 counts each invalid byte as one U+FFFD.
func TestSubstringInvalidUTF8(t *testing.T) {
	env := map[string]any{"s": "a\xffb\xfe"}
	for src, want := range map[string]any{
		`=substring(s, 2, 1)`: "\uFFFD",
		`=substring(s, 3)`:    "b\uFFFD",
		`=substring(s, -1)`:   "\uFFFD",
		`=substring(s, 1, 3)`: "a\uFFFDb",
	} {
		if got := evalFEEL(t, src, env); got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
}
