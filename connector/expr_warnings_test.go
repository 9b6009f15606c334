package connector

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A result or error expression that gives null where feel-scala warns (a number compared with
// a string) completes as feel-scala would, and the job's debug log says why.
func TestExpressionWarningsAreLoggedAtDebug(t *testing.T) {
	f := newFixture(t)
	var log bytes.Buffer
	f.h.Log = zerolog.New(&log).Level(zerolog.DebugLevel)
	res, err := f.run(f.trigger(nil), map[string]string{
		"resultExpression": `={big: response.status > "5"}`,
		"errorExpression":  `=if response.status < "0" then bpmnError("X", "x") else null`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := res.Variables["big"]; !ok || v != nil {
		t.Errorf("variables %v, want big: null", res.Variables)
	}
	for _, want := range []string{`"expression":"resultExpression"`, `"expression":"errorExpression"`, `[NOT_COMPARABLE] `} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("debug log lacks %s:\n%s", want, log.String())
		}
	}
}
