//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

// TestConnectionReferencesResolvedBeforeATrigger: through the worker binary, pa-engine and the
// emulator binary with connections checked, a triggerFlowRun naming a connection reference
// (connectionType 2) that does not exist, or whose connection is not shared with the worker's
// client, ends in an incident naming the reference (and the connection) and saying how to fix
// it, with 0 runs; a good reference runs to the end.
func TestConnectionReferencesResolvedBeforeATrigger(t *testing.T) {
	cfg := emulatorConfig()
	cfg["connections"] = map[string]any{
		"robot":   map[string]any{"sharedWith": []string{"*"}},
		"private": map[string]any{},
	}
	cfg["connectionReferences"] = []map[string]any{
		{"logicalName": "new_robot", "connectionId": "robot"},
		{"logicalName": "new_private", "connectionId": "private"},
	}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/single-task.bpmn")
	deploy(t, "integration/testdata/wait.bpmn")
	led := newLedger(t, recordsLog)
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)

	cases := []struct {
		name, reference string
		want            []string
	}{
		{"missing reference", "new_missing", []string{"connectionName", `connection reference "new_missing" does not exist`, "create it in the desktop flow's solution"}},
		{"connection not shared", "new_private", []string{`connection reference "new_private"`, "'private'", "share the connection with"}},
	}
	keys := make([]int64, len(cases))
	for i, c := range cases {
		v := triggerVars(dv, flowOK)
		v["connectionName"], v["connectionType"] = c.reference, 2
		keys[i] = createInstance(t, "single-task", v)
	}
	t.Cleanup(func() { cancelInstances(zeebe, keys) })
	if !led.until(60*time.Second, func() bool { _, n := led.ended(keys); return n == len(keys) }) {
		_, n := led.ended(keys)
		t.Fatalf("%d of %d bad references ended in an incident", n, len(keys))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := led.incidents[keys[i]]
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("incident %q should contain %q", msg, w)
				}
			}
			if f := led.failures[keys[i]]; len(f) != 1 || f[0].Retries != 0 {
				t.Errorf("JOB FAILED retries %v, want one failure with retries 0", retriesOf(f))
			}
		})
	}
	if runs := dv.runs(t); len(runs) != 0 {
		t.Fatalf("runs %v started for bad references, want none", runs)
	}

	v := triggerVars(dv, flowOK)
	v["connectionName"], v["connectionType"] = "new_robot", 2
	v["pollInterval"] = "PT1S"
	out := runProcess(t, "wait-single", v, 30*time.Second)
	if out["statusName"] != "Succeeded" {
		t.Fatalf("a good reference: %v", out)
	}
	if runs := dv.runs(t)["new_robot"]; len(runs) != 1 {
		t.Errorf("runs on new_robot: %v, want 1", runs)
	}
}
