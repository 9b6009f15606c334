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
    <bpmn:sequenceFlow id="f2" sourceRef="choose" targetRef="big"><bpmn:conditionExpression>CONDITION</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>`

// A condition that gives null in feel-scala (a number compared with a string, an unknown
// function, a misspelt variable) deploys, as on Zeebe; the incident for its non-boolean result
// carries the warnings saying why, worded as Zeebe words them: the modeler learns why, not
// only that the result was null.
func TestIncidentCarriesTheEvaluationsWarnings(t *testing.T) {
	for _, tc := range []struct{ condition, want string }{
		{`=amount &gt; "5"`, "Expected result of the expression 'amount > \"5\"' to be 'BOOLEAN', but was 'NULL'. The evaluation reported the following warnings:\n" +
			"[NOT_COMPARABLE] Can't compare '3' with '\"5\"'"},
		{`=roundUp(amount) &gt; 5`, "Expected result of the expression 'roundUp(amount) > 5' to be 'BOOLEAN', but was 'NULL'. The evaluation reported the following warnings:\n" +
			"[NO_FUNCTION_FOUND] No function found with name 'roundUp' and 1 parameters\n[NOT_COMPARABLE] Can't compare 'null' with '5'"},
		{`=amont &gt; 5`, "Expected result of the expression 'amont > 5' to be 'BOOLEAN', but was 'NULL'. The evaluation reported the following warnings:\n" +
			"[NO_VARIABLE_FOUND] No variable found with name 'amont'\n[NOT_COMPARABLE] Can't compare 'null' with '5'"},
	} {
		t.Run(tc.condition, func(t *testing.T) {
			if msg := incidentOf(t, strings.Replace(warnProcess, "CONDITION", tc.condition, 1)); msg != tc.want {
				t.Errorf("incident message\n%q, want\n%q", msg, tc.want)
			}
		})
	}
}

// incidentOf deploys process, creates an instance with amount 3, and returns its incident's
// message.
func incidentOf(t *testing.T, process string) string {
	exp := &memExporter{}
	e := open(t, t.TempDir(), exp)
	defer e.Close()
	if r := do(t, e, &Cmd{Op: OpDeploy, Resources: []Resource{{Name: "warns.bpmn", Content: []byte(process)}}}); r.Rejection != nil {
		t.Fatalf("deploy: %+v", r.Rejection)
	}
	r := do(t, e, &Cmd{Op: OpCreate, ProcessID: "warns", Version: -1, Variables: json.RawMessage(`{"amount": 3}`)})
	if r.Rejection != nil {
		t.Fatalf("create: %+v", r.Rejection)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		exp.mu.Lock()
		for _, rec := range exp.recs {
			v, _ := rec.Value.(map[string]any)
			if rec.ValueType == "INCIDENT" && rec.Intent == "CREATED" && v["processInstanceKey"] == float64(r.Instance.Key) {
				exp.mu.Unlock()
				msg, _ := v["errorMessage"].(string)
				return msg
			}
		}
		exp.mu.Unlock()
	}
	t.Fatal("no incident within 10 s")
	return ""
}
