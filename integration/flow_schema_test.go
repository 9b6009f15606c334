//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

const flowTyped = "d0c5f10e-0000-4000-8000-0000000000c1"

// TestInputsCheckedAgainstTheFlowSchema: through the worker binary, pa-engine and the emulator
// binary, a triggerFlowRun whose runInputs has a wrong name, misses a required input or gives
// a value of the wrong type ends in an incident naming the input and the expected type before
// any RunDesktopFlow call (the emulator counts 0 runs), and never quotes the value; right
// inputs run. The flow's schema is read once for all of them.
func TestInputsCheckedAgainstTheFlowSchema(t *testing.T) {
	cfg := emulatorConfig()
	cfg["flows"].(map[string]any)[flowTyped] = map[string]any{"name": "Typed invoice", "duration": "200ms",
		"inputSchema": []map[string]any{
			{"name": "Customer", "type": "string", "required": true},
			{"name": "Amount", "type": "number"},
			{"name": "Pin", "type": "string"},
		}}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/single-task.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken, "PA_CONNECTOR_LOG_LEVEL=debug")

	const secretValue = "pin-4711-never-shown"
	cases := []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"wrong name", map[string]any{"Customer": "Ada", "Amuont": 5}, []string{"runInputs.Amuont", "no input of that name", "Amount (number)", "Customer (string, required)"}},
		{"missing required", map[string]any{"Amount": 5, "Pin": secretValue}, []string{"runInputs.Customer", "is required", "a string"}},
		{"wrong type", map[string]any{"Customer": "Ada", "Pin": 4711}, []string{"runInputs.Pin", "must be a string", "got a number"}},
		{"wrong type of a secret-looking value", map[string]any{"Customer": "Ada", "Amount": secretValue}, []string{"runInputs.Amount", "must be a number", "got a string"}},
	}
	keys := make([]int64, len(cases))
	for i, c := range cases {
		v := triggerVars(dv, flowTyped)
		v["runInputs"] = c.inputs
		keys[i] = createInstance(t, "single-task", v)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })
	if !led.until(60*time.Second, func() bool { _, n := led.ended(keys); return n == len(keys) }) {
		_, n := led.ended(keys)
		t.Fatalf("%d of %d wrong inputs ended in an incident", n, len(keys))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := led.incidents[keys[i]]
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("incident %q should contain %q", msg, w)
				}
			}
			if strings.Contains(msg, secretValue) || strings.Contains(msg, "4711") {
				t.Errorf("the incident quotes an input's value: %q", msg)
			}
			if f := led.failures[keys[i]]; len(f) != 1 || f[0].Retries != 0 {
				t.Errorf("JOB FAILED retries %v, want one failure with retries 0", retriesOf(f))
			}
		})
	}
	if c := dv.counts(t); c["RunDesktopFlow"] != 0 {
		t.Fatalf("%d runs started for wrong inputs, want 0", c["RunDesktopFlow"])
	}

	v := triggerVars(dv, flowTyped)
	v["runInputs"] = map[string]any{"Customer": "Ada", "Amount": 12.5, "Pin": secretValue}
	out := runProcess(t, "single-task", v, 30*time.Second)
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("right inputs: flowSessionId = %v", out["flowSessionId"])
	}
	c := dv.counts(t)
	if c["RunDesktopFlow"] != 1 || c["GetWorkflowInputs"] != 1 {
		t.Errorf("emulator calls %v, want 1 RunDesktopFlow and 1 schema read for the 5 jobs (cached)", c)
	}
}
