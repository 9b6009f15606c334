package engine

import (
	"encoding/json"
	"testing"
	"time"
)

// feelProcess uses FEEL built-ins of Camunda's reference pages where a process evaluates
// FEEL: input and output mappings (calendar, string and list functions), a timer duration
// (a range function) and a gateway condition (calendar functions and a date comparison).
const feelProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://example.com">
  <bpmn:process id="feelfns" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="prepare">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="feel-prep" />
        <zeebe:ioMapping>
          <zeebe:input source="=last day of month(date(orderDate))" target="lastDay" />
          <zeebe:input source="=extract(reference, &quot;[0-9]+&quot;)" target="numbers" />
          <zeebe:output source="=day of week(date(orderDate)) + &quot; of week &quot; + string(week of year(date(orderDate)))" target="orderDay" />
          <zeebe:output source="=string join(numbers, &quot;-&quot;)" target="joined" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>=if during(string length(joined), [1..20]) then "PT0.1S" else "PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="choose" default="f5"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing><bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="weekend"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="weekday"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare" />
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="choose" />
    <bpmn:sequenceFlow id="f4" sourceRef="choose" targetRef="weekend"><bpmn:conditionExpression>=list contains(["Saturday", "Sunday"], day of week(date(orderDate))) and last day of month(date(orderDate)) = date("2024-02-29")</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="choose" targetRef="weekday" />
  </bpmn:process>
</bpmn:definitions>`

// A deployed process whose mappings, timer and condition use documented built-ins: an order
// of Saturday 2024-02-10 maps its calendar values, waits 0.1 s (a range function picks the
// duration: PT1H if it answered wrong) and takes the weekend branch; one of Monday
// 2024-02-12 takes the default branch.
func TestProcessUsesFEELBuiltins(t *testing.T) {
	exp := &memExporter{}
	e := open(t, t.TempDir(), exp)
	defer e.Close()
	if r := do(t, e, &Cmd{Op: OpDeploy, Resources: []Resource{{Name: "feelfns.bpmn", Content: []byte(feelProcess)}}}); r.Rejection != nil {
		t.Fatalf("deploy: %+v", r.Rejection)
	}
	for _, c := range []struct {
		orderDate, end, orderDay string
	}{
		{"2024-02-10", "weekend", "Saturday of week 6"},
		{"2024-02-12", "weekday", "Monday of week 7"},
	} {
		vars := `{"orderDate": "` + c.orderDate + `", "reference": "refs 12, 345 and 6"}`
		r := do(t, e, &Cmd{Op: OpCreate, ProcessID: "feelfns", Version: -1, Variables: json.RawMessage(vars)})
		if r.Rejection != nil {
			t.Fatalf("create: %+v", r.Rejection)
		}
		pik := r.Instance.Key
		jobs := do(t, e, &Cmd{Op: OpActivate, Type: "feel-prep", Worker: "w", Timeout: 60000, MaxJobs: 1}).Jobs
		if len(jobs) != 1 {
			t.Fatalf("activated %d jobs, want 1", len(jobs))
		}
		var jobVars map[string]any
		if err := json.Unmarshal([]byte(jobs[0].Variables), &jobVars); err != nil {
			t.Fatal(err)
		}
		if jobVars["lastDay"] != "2024-02-29" || !jsonEqual(jobVars["numbers"], []any{"12", "345", "6"}) {
			t.Errorf("input mappings gave lastDay %v, numbers %v; want 2024-02-29 and [12 345 6]", jobVars["lastDay"], jobVars["numbers"])
		}
		do(t, e, &Cmd{Op: OpComplete, Key: jobs[0].Key})
		end := waitForEnd(t, exp, pik, 10*time.Second)
		if end != c.end {
			t.Errorf("order of %s ended at %s, want %s", c.orderDate, end, c.end)
		}
		got := variables(exp, pik)
		if got["orderDay"] != `"`+c.orderDay+`"` || got["joined"] != `"12-345-6"` {
			t.Errorf("output mappings gave orderDay %s, joined %s; want %q and \"12-345-6\"", got["orderDay"], got["joined"], c.orderDay)
		}
	}
}

// waitForEnd waits for the instance's end event to complete and returns its id.
func waitForEnd(t *testing.T, exp *memExporter, pik int64, timeout time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		exp.mu.Lock()
		for _, r := range exp.recs {
			v, _ := r.Value.(map[string]any)
			if r.ValueType == "PROCESS_INSTANCE" && r.Intent == "ELEMENT_COMPLETED" && v["bpmnElementType"] == "END_EVENT" &&
				v["processInstanceKey"] == float64(pik) {
				exp.mu.Unlock()
				return v["elementId"].(string)
			}
		}
		exp.mu.Unlock()
	}
	t.Fatalf("instance %d did not end within %s (the timer's duration expression may have chosen PT1H)", pik, timeout)
	return ""
}

// variables are the instance's variables by name, as JSON, from its VARIABLE records.
func variables(exp *memExporter, pik int64) map[string]string {
	exp.mu.Lock()
	defer exp.mu.Unlock()
	out := map[string]string{}
	for _, r := range exp.recs {
		v, _ := r.Value.(map[string]any)
		if r.ValueType == "VARIABLE" && v["processInstanceKey"] == float64(pik) {
			out[v["name"].(string)], _ = v["value"].(string)
		}
	}
	return out
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
