package expr

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzCompileFEEL: Compile must never panic, whatever the input; compile errors are fine. A
// program that compiles must evaluate without panicking too, and a small budget may only stop
// it with a *BudgetError, never change its result.
func FuzzCompileFEEL(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.Expression)
	}
	for _, c := range loadDocsCases(f) { // every documented built-in
		f.Add("=" + c.Expression)
	}
	for _, s := range []string{"=", "= ", "=(", "={", "=[", `="`, "=@\"", "=`", "=a..", "=]1..2[", "=for", "=function(", "=x in (", "=/*", "=1 instance of"} {
		f.Add(s)
	}
	env := map[string]any{"a": []any{int64(1), "x", nil}, "b": map[string]any{"c": 1.5}, "s": "str", "n": nil}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src)
		if err != nil {
			// Compile recovers from panics and reports them as internal errors: those are bugs.
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			return
		}
		want, werr := p.Eval(env)
		// The budget changes nothing but where an evaluation stops: under a small one, an
		// expression either gives the same result or fails with a *BudgetError.
		got, _, gerr := p.eval(context.Background(), env, limits{steps: 2000, bytes: 1 << 16, depth: 8})
		var be *BudgetError
		switch {
		case gerr != nil && !errors.As(gerr, &be) && werr == nil:
			t.Fatalf("%q: a small budget failed with %v, the default gave %v", src, gerr, want)
		case gerr == nil && werr != nil:
			t.Fatalf("%q: a small budget gave %v, the default failed: %v", src, got, werr)
		case gerr == nil && !strings.Contains(src, "now") && !strings.Contains(src, "today") && !strings.Contains(src, "uuid") && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: a small budget gave %#v, the default %#v", src, got, want)
		}
	})
}
