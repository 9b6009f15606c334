package expr

import (
	"context"
	"reflect"
	"testing"
)

// Where feel-scala gives null with a warning, the evaluation gives null and the warning; the
// result of an evaluation without such a case has none.
func TestFEELWarnings(t *testing.T) {
	t.Parallel()
	env := map[string]any{"orderValue": "99", "n": int64(5)}
	tests := []struct {
		name, src string
		want      any
		warnings  []Warning
	}{
		{"comparison of a string with a number", `=orderValue >= 100`, nil,
			[]Warning{{WarnNotComparable, `Can't compare '"99"' with '100'`}}},
		{"equality of different types", `=n = "5"`, nil,
			[]Warning{{WarnNotComparable, `Can't compare '5' with '"5"'`}}},
		{"between with a string", `="a" between 1 and 3`, nil,
			[]Warning{{WarnNotComparable, `Can't compare '"a"' with '1'`}, {WarnNotComparable, `Can't compare '"a"' with '3'`}}},
		{"comparable values", `=n > 1`, true, nil},
		{"null is no warning", `=missing > 1`, nil, nil},
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
