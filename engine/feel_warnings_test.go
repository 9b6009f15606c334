package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const warnProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.com">
  <bpmn:process id="warns" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="choose"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="big"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="choose" />
    <bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="big"><bpmn:conditionExpression>=amount &gt; "5"</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>`

// A condition that compares a number with a string is null in feel-scala, with a warning
// saying why; Zeebe's incident for the non-boolean result carries that warning, and so does
// ours: the modeler learns why, not only that the result was null.
func TestIncidentCarriesTheEvaluationsWarnings(t *testing.T) {
	exp := &memExporter{}
	e := open(t, t.TempDir(), exp)
	defer e.Close()
	if r := do(t, e, &Cmd{Op: OpDeploy, Resources: []Resource{{Name: "warns.bpmn", Content: []byte(warnProcess)}}}); r.Rejection != nil {
		t.Fatalf("deploy: %+v", r.Rejection)
	}
	r := do(t, e, &Cmd{Op: OpCreate, ProcessID: "warns", Version: -1, Variables: json.RawMessage(`{"amount": 3}`)})
	if r.Rejection != nil {
		t.Fatalf("create: %+v", r.Rejection)
	}
	want := "Expected result of the expression 'amount > \"5\"' to be 'BOOLEAN', but was 'NULL'. The evaluation reported the following warnings:\n[NOT_COMPARABLE] "
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		exp.mu.Lock()
		for _, rec := range exp.recs {
			v, _ := rec.Value.(map[string]any)
			if rec.ValueType == "INCIDENT" && rec.Intent == "CREATED" && v["processInstanceKey"] == float64(r.Instance.Key) {
				exp.mu.Unlock()
				if msg, _ := v["errorMessage"].(string); !strings.HasPrefix(msg, want) {
					t.Fatalf("incident message %q, want it to start with %q", msg, want)
				}
				return
			}
		}
		exp.mu.Unlock()
	}
	t.Fatal("no incident within 10 s")
}
