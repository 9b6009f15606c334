package expr

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Where feel-scala gives null with a warning, the evaluation gives null and the warning; the
// result of an evaluation without such a case has none.
func TestFEELWarnings(t *testing.T) {
	t.Parallel()
	env := map[string]any{"orderValue": "99", "n": int64(5), "nothing": nil,
		"order": map[string]any{"id": "o-1", "lines": []any{}}}
	tests := []struct {
		name, src string
		want      any
		warnings  []Warning
	}{
		{"comparison of a string with a number", `=orderValue >= 100`, nil,
			[]Warning{{WarnNotComparable, `Can't compare '"99"' with '100'`}}},
		{"equality of different types", `=n = "5"`, nil,
			[]Warning{{WarnNotComparable, `Can't compare '5' with '"5"'`}}},
		{"between with a string", `="a" between 1 and 3`, nil, []Warning{
			{WarnNotComparable, `Can't compare '"a"' with '1'`},
			{WarnInvalidType, `Expected boolean but found 'null'`}, // "and" of the two comparisons
			{WarnNotComparable, `Can't compare '"a"' with '3'`}}},
		{"comparable values", `=n > 1`, true, nil},
		{"a missing variable", `=missing > 1`, nil, []Warning{
			{WarnNoVariable, `No variable found with name 'missing'`}, {WarnNotComparable, `Can't compare 'null' with '1'`}}},
		{"a null variable", `=nothing`, nil, nil},
		{"a missing entry", `=order.total`, nil, []Warning{
			{WarnNoContextEntry, `No context entry found with key 'total'. Available keys: 'id', 'lines'`}}},
		{"a missing entry of a null", `=nothing.total`, nil, []Warning{
			{WarnNoContextEntry, `No context entry found with key 'total'. The context is null`}}},
		{"a missing variable's path", `=missing.a.b`, nil, []Warning{{WarnNoVariable, `No variable found with name 'missing'`}}},
		{"arithmetic on a text", `=orderValue * 2`, nil, []Warning{{WarnInvalidType, `Can't multiply '"99"' by '2'`}}},
		{"a built-in given a number", `=upper case(n)`, nil, []Warning{
			{WarnInvocation, `Failed to invoke function 'upper case': Illegal arguments: '5'`}}},
		{"a text that is no number", `=number(orderValue + "x")`, nil, []Warning{
			{WarnInvocation, `Failed to invoke function 'number': Can't parse '99x' as a number`}}},
		{"a condition that is no boolean", `=if n then 1 else 2`, int64(2), []Warning{{WarnInvalidType, `Expected boolean but found '5'`}}},
		{"an unknown function", `=n + round(n)`, nil, []Warning{
			{WarnNoFunction, `No function found with name 'round' and 1 parameters`}, {WarnInvalidType, `Can't add 'null' to '5'`}}},
		{"iterating over a number", `=for i in n return i`, nil, []Warning{{WarnInvalidType, `Expected list but found '5'`}}},
		{"the warnings of a function body", `={f: function(x) x + missing, r: f(1)}.r`, nil, []Warning{
			{WarnNoVariable, `No variable found with name 'missing'`}, {WarnInvalidType, `Can't add 'null' to '1'`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			got, ws, err := p.EvalWarnings(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !reflect.DeepEqual(ws, tc.warnings) {
				t.Errorf("%s = %v %v, want %v %v", tc.src, got, ws, tc.want, tc.warnings)
			}
		})
	}
}

// A loop cannot grow the warnings without bound.
func TestFEELWarningsAreBounded(t *testing.T) {
	t.Parallel()
	p, err := Compile(`=for i in 1..1000 return i < "a"`)
	if err != nil {
		t.Fatal(err)
	}
	_, ws, err := p.EvalWarnings(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != maxWarnings {
		t.Errorf("%d warnings, want %d", len(ws), maxWarnings)
	}
}

// Incident messages carry the warnings as Zeebe words them.
func TestWithWarnings(t *testing.T) {
	t.Parallel()
	got := WithWarnings("Expected result of the expression 'orderValue >= 100' to be 'BOOLEAN', but was 'NULL'.",
		[]Warning{{WarnNotComparable, `Can't compare '"99"' with '100'`}})
	const want = "Expected result of the expression 'orderValue >= 100' to be 'BOOLEAN', but was 'NULL'. " +
		"The evaluation reported the following warnings:\n[NOT_COMPARABLE] Can't compare '\"99\"' with '100'"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if WithWarnings("m", nil) != "m" {
		t.Error("no warnings must leave the message as it is")
	}
}

// Scrub reaches every text a warning shows, whole, before the warning cuts it: a context
// key, a long text in a list, a text compared.
func TestScrubReachesWarningsBeforeTheyAreCut(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("k3y", 60) // 180 bytes: a warning shows 100
	scrub := func(s string) string { return strings.ReplaceAll(s, secret, "***") }
	env := map[string]any{"s": secret, "ctx": map[string]any{secret: 1}, "l": []any{"a", secret}}
	for _, src := range []string{`=s < 1`, `=ctx.missing`, `=ctx < 1`, `=l * 2`, `=upper case(l)`, `=number(s)`, `=[s..s] + 1`, `={r: [s..s]} + 1`} {
		p, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		_, ws, err := p.EvalWarnings(context.Background(), env, Scrub(scrub))
		if err != nil || len(ws) == 0 {
			t.Fatalf("%s: warnings %v, error %v; want a warning", src, ws, err)
		}
		for _, w := range ws {
			if strings.Contains(w.Message, secret[:12]) {
				t.Errorf("%s: warning %q shows part of the secret", src, w)
			}
		}
		if _, ws, _ := p.EvalWarnings(context.Background(), env); !strings.Contains(ws[0].Message, secret[:12]) {
			t.Errorf("%s: without Scrub the warning %q shows no part of the value: the test proves nothing", src, ws[0])
		}
	}
}

// Past the cap on warnings, a loop pays nothing for the text of the warnings it would raise
// (the keys of a large context were sorted and scrubbed for each of them, minutes for a loop):
// the texts shown, counted through the scrubber, are those of the 20 warnings kept.
func TestWarningsPastTheCapCostNothing(t *testing.T) {
	t.Parallel()
	big := make(map[string]any, 1000)
	for i := range 1000 {
		big[strconv.Itoa(i)] = i
	}
	p, err := Compile(`=for i in 1..2000 return [m + 1, m < 1, if m then 1 else 2, -m, m.missing]`)
	if err != nil {
		t.Fatal(err)
	}
	texts := 0
	count := Scrub(func(s string) string { texts++; return s })
	_, ws, err := p.EvalWarnings(context.Background(), map[string]any{"m": big}, count)
	if err != nil || len(ws) != maxWarnings {
		t.Fatalf("%d warnings, %v", len(ws), err)
	}
	if most := maxWarnings * (2*keysShown + 2); texts > most {
		t.Errorf("%d texts shown for %d warnings kept, want at most %d", texts, len(ws), most)
	}
}
