package expr

import (
	"strings"
	"testing"
)

// FuzzCompileFEEL: Compile must never panic, whatever the input; compile errors are fine. A
// program that compiles must evaluate without panicking too.
func FuzzCompileFEEL(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.Expression)
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
		_, _ = p.Eval(env)
	})
}
