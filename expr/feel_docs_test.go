package expr

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docsCase is one case of testdata/feel_docs_examples.json: an example of Camunda's FEEL
// built-in function reference with its documented result, or a case of issue 14 whose
// expected value is feel-scala's (tools/feel-scala).
type docsCase struct {
	ID          int             `json:"id"`
	Expression  string          `json:"expression"`
	Context     json.RawMessage `json:"context"`
	Expected    json.RawMessage `json:"expected"`
	ExpectError string          `json:"expectError"` // the evaluation fails with this in its message
	Pattern     string          `json:"pattern"`     // nondeterministic: the result matches this
	FeelScala   json.RawMessage `json:"feelScala"`   // what feel-scala 1.18.1 answered
	Since       string          `json:"since"`       // a function of a later Camunda version: feel-scala 1.18.1 has none
	Override    string          `json:"override"`    // why the expected value is not the documented one
	Source      string          `json:"source"`
}

func loadDocsCases(t testing.TB) []docsCase {
	return loadCases[docsCase](t, "testdata/feel_docs_examples.json")
}

// TestFEELDocsExamples runs every documented example through Compile and Eval, what
// `pa-connector expr eval` and the engine use, with the machine's zone set to zones far from
// UTC on both sides: no answer may depend on it. Not parallel: it sets time.Local.
func TestFEELDocsExamples(t *testing.T) {
	cases := loadDocsCases(t)
	if len(cases) < 300 {
		t.Fatalf("corpus has %d cases, want at least 300", len(cases))
	}
	saved := time.Local
	defer func() { time.Local = saved }()
	for _, zone := range []string{"UTC", "Pacific/Kiritimati", "America/Adak"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		time.Local = loc
		failed := 0
		for _, c := range cases {
			if msg := runDocsCase(c); msg != "" {
				failed++
				t.Errorf("TZ=%s case %d %s (%s): %s", zone, c.ID, c.Expression, c.Source, msg)
			}
		}
		t.Logf("TZ=%s: %d of %d documented examples pass", zone, len(cases)-failed, len(cases))
	}
}

func runDocsCase(c docsCase) string {
	p, err := Compile("=" + c.Expression)
	if err != nil {
		return "compile: " + err.Error()
	}
	env := map[string]any{}
	if len(c.Context) > 0 {
		v, err := decodeJSON(c.Context)
		if err != nil {
			return "context: " + err.Error()
		}
		env = v.(map[string]any)
	}
	got, err := p.Eval(env)
	if c.ExpectError != "" {
		if err == nil || !strings.Contains(err.Error(), c.ExpectError) {
			return "error " + errString(err) + ", want one containing " + c.ExpectError
		}
		return ""
	}
	if err != nil {
		return err.Error()
	}
	if c.Pattern != "" {
		if s, ok := got.(string); !ok || !regexp.MustCompile(c.Pattern).MatchString(s) {
			return "got " + jsonString(got) + ", want a match of " + c.Pattern
		}
		return ""
	}
	want, err := decodeJSON(c.Expected)
	if err != nil {
		return "expected: " + err.Error()
	}
	if !valuesEqual(got, want) {
		return "got " + jsonString(got) + ", want " + string(c.Expected)
	}
	return ""
}

// TestFEELDocsExamplesAgreeWithFeelScala keeps the corpus honest: each expected value is
// feel-scala 1.18.1's answer, unless the case says why not (a later function, an override).
func TestFEELDocsExamplesAgreeWithFeelScala(t *testing.T) {
	t.Parallel()
	n := 0
	for _, c := range loadDocsCases(t) {
		if c.Pattern != "" || c.ExpectError != "" || c.Since != "" || c.Override != "" {
			continue
		}
		if len(c.FeelScala) == 0 {
			t.Errorf("case %d %s: no feelScala value (run tools/feel-scala/verify.py)", c.ID, c.Expression)
			continue
		}
		want, err1 := decodeJSON(c.Expected)
		fs, err2 := decodeJSON(c.FeelScala)
		if err1 != nil || err2 != nil || !valuesEqual(want, fs) {
			t.Errorf("case %d %s: expected %s, feel-scala %s", c.ID, c.Expression, c.Expected, c.FeelScala)
		}
		n++
	}
	t.Logf("%d expected values are feel-scala's", n)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
