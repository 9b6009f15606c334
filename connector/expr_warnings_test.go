package connector

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/secrets"
	"github.com/pa-connector/pa-connector/secrets/secretstest"
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

// A warning shows the values it is about, cut after 100 bytes: a secret the flow echoed into
// its outputs is scrubbed before it is cut, so that neither the whole secret nor the part a
// cut warning would show reaches the log.
func TestExpressionWarningsHoldNoSecret(t *testing.T) {
	f := newFixture(t)
	live := secrets.NewRegistry()
	var logs bytes.Buffer
	f.h.Live, f.h.Log = live, zerolog.New(live.Writer(&logs)).Level(zerolog.DebugLevel)
	long := strings.Repeat("0123456789abcdef", 16) // 256 characters: longer than a warning shows
	f.env["SECRET_LONG"] = long
	vars := f.waitVars(workflowID)
	vars["runInputs"] = map[string]any{"Input1": "{{secrets.LONG}}"}
	job := f.job(vars, map[string]string{"resultExpression": `={big: response.body.outputs.Output1 > 5}`})
	job.Secrets = live.NewSet() // the job's secrets, held while it runs, as the worker does
	if _, err := f.h.Handle(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `[NOT_COMPARABLE] Can't compare`) {
		t.Fatalf("the debug log has no warning:\n%s", logs.String())
	}
	if l := secretstest.Leaks(logs.String(), long); len(l) > 0 {
		t.Errorf("the secret reached the log through a warning: %s", strings.Join(l, "; "))
	}
}
