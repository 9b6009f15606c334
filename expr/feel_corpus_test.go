package expr

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// corpusCase is one case of testdata/feel_corpus.json, the differential corpus whose
// expectations tools/feel-diff computes with feelin (see docs/feel.md).
type corpusCase struct {
	ID               int             `json:"id"`
	Expression       string          `json:"expression"`
	Context          json.RawMessage `json:"context"`
	Expected         json.RawMessage `json:"expected"`
	ExpectError      string          `json:"expectError"`
	Override         string          `json:"override"`
	Nondeterministic bool            `json:"nondeterministic"`
	Source           string          `json:"source"`
}

func loadCorpus(t testing.TB) []corpusCase {
	return loadCases[corpusCase](t, "testdata/feel_corpus.json")
}

// loadCases reads the cases of a testdata file: {"cases": [...]}.
func loadCases[C any](t testing.TB, file string) []C {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Cases []C }
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.Cases
}

func TestFEELCorpus(t *testing.T) {
	t.Parallel()
	cases := loadCorpus(t)
	if len(cases) < 300 {
		t.Fatalf("corpus has %d cases, want at least 300", len(cases))
	}
	failed := 0
	for _, c := range cases {
		ok := runCorpusCase(t, c)
		if !ok {
			failed++
		}
	}
	t.Logf("%d passed, %d failed", len(cases)-failed, failed)
}

func runCorpusCase(t *testing.T, c corpusCase) bool {
	t.Helper()
	p, err := Compile(c.Expression)
	if c.ExpectError != "" {
		if err == nil || !strings.Contains(err.Error(), c.ExpectError) {
			t.Errorf("case %d %q: compile error %v, want one containing %q", c.ID, c.Expression, err, c.ExpectError)
			return false
		}
		return true
	}
	if err != nil {
		t.Errorf("case %d %q (%s): %v", c.ID, c.Expression, c.Source, err)
		return false
	}
	env := map[string]any{}
	if len(c.Context) > 0 {
		v, err := decodeJSON(c.Context)
		if err != nil {
			t.Fatalf("case %d: context: %v", c.ID, err)
		}
		env = v.(map[string]any)
	}
	got, err := p.Eval(env)
	if err != nil {
		t.Errorf("case %d %q: %v", c.ID, c.Expression, err)
		return false
	}
	if c.Nondeterministic {
		return true
	}
	want, err := decodeJSON(c.Expected)
	if err != nil {
		t.Fatalf("case %d: expected: %v", c.ID, err)
	}
	if !valuesEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		ctx, _ := json.Marshal(env)
		t.Errorf("case %d %s\n  context %.300s\n  got     %s\n  want    %s", c.ID, short(c.Expression), ctx, g, w)
		return false
	}
	return true
}
