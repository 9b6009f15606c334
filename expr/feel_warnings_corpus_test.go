package expr

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// warningCase is a case of testdata/feel_warnings.json or of testdata/feel_docs_examples.json:
// an expression with feel-scala 1.18.1's value and warnings (tools/feel-scala/verify.py).
type warningCase struct {
	ID                int             `json:"id"`
	Expression        string          `json:"expression"`
	Context           json.RawMessage `json:"context"`
	FeelScala         json.RawMessage `json:"feelScala"`
	FeelScalaWarnings []string        `json:"feelScalaWarnings"`
	Differs           string          `json:"differs"` // why our warnings are not feel-scala's (docs/feel.md)
	Since             string          `json:"since"`
	Pattern           string          `json:"pattern"`
	ExpectError       string          `json:"expectError"`
	Override          string          `json:"override"`
}

// TestWarningsAgreeWithFeelScala evaluates every case of the warnings corpus (built-ins given
// null and arguments of the wrong type, missing variables and context entries, arithmetic and
// conditions on the wrong types, unknown functions and invalid literals) and every documented
// example, and requires feel-scala's value and feel-scala's warnings, word for word and in
// order: what `expr eval` prints and an incident carries is what a cluster would say.
func TestWarningsAgreeWithFeelScala(t *testing.T) {
	t.Parallel()
	cases := loadCases[warningCase](t, "testdata/feel_warnings.json")
	if len(cases) < 400 {
		t.Fatalf("the warnings corpus has %d cases, want at least 400", len(cases))
	}
	for i := range cases {
		cases[i].Expression = strings.TrimPrefix(cases[i].Expression, "=")
	}
	docs := loadCases[warningCase](t, "testdata/feel_docs_examples.json")
	for _, c := range docs {
		if c.Since == "" && c.Pattern == "" && c.ExpectError == "" && c.Override == "" && len(c.FeelScala) > 0 {
			c.ID += 100000 // docs case N is reported as 10000N
			cases = append(cases, c)
		}
	}
	agree, differ := 0, 0
	for _, c := range cases {
		got, warnings, err := evalCase(c)
		if err != nil {
			t.Errorf("case %d %s: %v", c.ID, c.Expression, err)
			continue
		}
		want, err := decodeJSON(c.FeelScala)
		if err != nil {
			t.Fatalf("case %d: feelScala: %v", c.ID, err)
		}
		sameValue := valuesEqual(plain(got), want)
		sameWarnings := slices.Equal(warnings, c.FeelScalaWarnings) || len(warnings) == 0 && len(c.FeelScalaWarnings) == 0
		switch {
		case c.Differs != "" && sameValue && sameWarnings:
			t.Errorf("case %d %s: marked as differing (%s), but agrees with feel-scala now: drop the mark", c.ID, c.Expression, c.Differs)
		case c.Differs != "":
			differ++
		case !sameValue || !sameWarnings:
			t.Errorf("case %d %s:\n  got       %s %q\n  feel-scala %s %q", c.ID, c.Expression, jsonString(plain(got)), warnings, c.FeelScala, c.FeelScalaWarnings)
		default:
			agree++
		}
	}
	t.Logf("%d cases agree with feel-scala in value and warnings, %d differ as docs/feel.md says", agree, differ)
}

func evalCase(c warningCase) (any, []string, error) {
	p, err := Compile("=" + c.Expression)
	if err != nil {
		return nil, nil, err
	}
	env := map[string]any{}
	if len(c.Context) > 0 {
		v, err := decodeJSON(c.Context)
		if err != nil {
			return nil, nil, err
		}
		env = v.(map[string]any)
	}
	out, ws, err := p.EvalWarnings(context.Background(), env)
	var warnings []string
	for _, w := range ws {
		warnings = append(warnings, w.String())
	}
	return out, warnings, err
}
