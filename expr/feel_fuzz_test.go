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
	for _, c := range loadCases[warningCase](f, "testdata/feel_warnings.json") { // every way to a warning
		f.Add(c.Expression)
	}
	const secret = "s3cr3tV4lue-held-by-the-job"
	env := map[string]any{"a": []any{int64(1), "x", nil}, "b": map[string]any{"c": 1.5, secret: secret}, "s": "str", "n": nil, "k": secret}
	scrub := Scrub(func(s string) string { return strings.ReplaceAll(s, secret, "***") })
	f.Add("=k < 1")     // the secret, compared
	f.Add("=b.missing") // the secret, a key listed
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src)
		if err != nil {
			// Compile recovers from panics and reports them as internal errors: those are bugs.
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			return
		}
		want, ws, werr := p.EvalWarnings(context.Background(), env, scrub)
		// Warnings are bounded in number and size, and show no scrubbed text.
		if len(ws) > maxWarnings {
			t.Fatalf("%q: %d warnings", src, len(ws))
		}
		for _, w := range ws {
			if len(w.Message) > 4096 || strings.Contains(w.Message, secret[:8]) && !strings.Contains(src, secret[:8]) {
				t.Fatalf("%q: warning %.200q is too long or shows the scrubbed secret", src, w)
			}
		}
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
