package bpmn

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) []*Definition {
	t.Helper()
	defs, err := Parse("ok.bpmn", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkInvariants(t, defs)
	return defs
}

func TestSupportedElements(t *testing.T) {
	src := doc(`
		<bpmn:startEvent id="s"/>
		<bpmn:startEvent id="ms"><bpmn:messageEventDefinition messageRef="start"/></bpmn:startEvent>
		<bpmn:parallelGateway id="fork"/>
		<bpmn:subProcess id="sp">
			<bpmn:extensionElements><zeebe:ioMapping><zeebe:input source="=x" target="y"/></zeebe:ioMapping></bpmn:extensionElements>
			<bpmn:startEvent id="ss"/>
			`+task("inner", `<zeebe:taskDefinition type="=&quot;t&quot; + x" retries="=2"/>`)+`
			<bpmn:endEvent id="se"><bpmn:terminateEventDefinition/></bpmn:endEvent>
			<bpmn:sequenceFlow id="sf1" sourceRef="ss" targetRef="inner"/>
			<bpmn:sequenceFlow id="sf2" sourceRef="inner" targetRef="se"/>
		</bpmn:subProcess>
		<bpmn:receiveTask id="rt" messageRef="m"/>
		<bpmn:boundaryEvent id="tb" attachedToRef="sp" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
		<bpmn:boundaryEvent id="eb" attachedToRef="sp"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>
		<bpmn:boundaryEvent id="mb" attachedToRef="rt"><bpmn:messageEventDefinition messageRef="m2"/></bpmn:boundaryEvent>
		<bpmn:parallelGateway id="join"/>
		<bpmn:endEvent id="ee"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>
		<bpmn:endEvent id="e"/>
		<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
		<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="sp"/>
		<bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="rt"/>
		<bpmn:sequenceFlow id="f4" sourceRef="sp" targetRef="join"/>
		<bpmn:sequenceFlow id="f5" sourceRef="rt" targetRef="join"/>
		<bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
		<bpmn:sequenceFlow id="f7" sourceRef="tb" targetRef="e"/>
		<bpmn:sequenceFlow id="f8" sourceRef="eb" targetRef="ee"/>
		<bpmn:sequenceFlow id="f9" sourceRef="mb" targetRef="e"/>
		<bpmn:sequenceFlow id="f10" sourceRef="ms" targetRef="fork"/>`,
		`<bpmn:message id="start" name="go"/>`+
			`<bpmn:message id="m" name="=&quot;m-&quot; + x"><bpmn:extensionElements><zeebe:subscription correlationKey="=k"/></bpmn:extensionElements></bpmn:message>`+
			`<bpmn:message id="m2" name="cancel"><bpmn:extensionElements><zeebe:subscription correlationKey="=k"/></bpmn:extensionElements></bpmn:message>`+
			`<bpmn:error id="err" errorCode="=code"/>`)
	d := mustParse(t, src)[0]
	el := d.Elements
	if d.Root.NoneStart != el["s"] || len(d.Root.MessageStarts) != 1 || d.Root.MessageStarts[0] != el["ms"] {
		t.Errorf("starts: %+v %+v", d.Root.NoneStart, d.Root.MessageStarts)
	}
	if ms := el["ms"]; ms.EventType != MessageEvt || ms.MessageName != "go" || ms.CorrelationKey != "" {
		t.Errorf("message start: %+v", ms)
	}
	sp := el["sp"]
	if sp.Type != SubProcess || sp.NoneStart != el["ss"] || len(sp.Children) != 3 || el["inner"].Parent != sp || len(sp.Inputs) != 1 {
		t.Errorf("sub-process: %+v", sp)
	}
	if len(sp.Boundaries) != 2 || sp.Boundaries[0] != el["tb"] || sp.Boundaries[1] != el["eb"] {
		t.Errorf("boundaries: %+v", sp.Boundaries)
	}
	if tb := el["tb"]; tb.CancelActivity || tb.EventType != TimerEvent || tb.TimeCycle != "R3/PT1S" {
		t.Errorf("timer boundary: %+v", tb)
	}
	if eb := el["eb"]; !eb.CancelActivity || !eb.CatchAll || eb.EventType != ErrorEvent {
		t.Errorf("error boundary: %+v", eb)
	}
	if mb := el["mb"]; mb.MessageName != "cancel" || mb.CorrelationKey != "=k" || mb.AttachedTo != el["rt"] || mb.EventType != MessageEvt {
		t.Errorf("message boundary: %+v", mb)
	}
	if rt := el["rt"]; rt.Type != ReceiveTask || rt.EventType != Unspecified || rt.MessageName != `="m-" + x` {
		t.Errorf("receive task: %+v", rt)
	}
	if in := el["inner"]; in.JobType != `="t" + x` || in.Retries != "=2" {
		t.Errorf("inner: %+v", in)
	}
	if el["se"].EventType != Terminate || el["ee"].EventType != ErrorEvent || el["ee"].ErrorCode != "=code" || el["e"].EventType != NoneEvent {
		t.Errorf("end events")
	}
	if fork := el["fork"]; fork.Type != ParallelGateway || len(fork.Outgoing) != 2 || len(fork.Incoming) != 2 || fork.Incoming[0].ID != "f1" {
		t.Errorf("fork: %+v", fork)
	}
	if len(d.Flows) != 12 {
		t.Errorf("%d flows", len(d.Flows))
	}
}

func TestNamespacesAndProcesses(t *testing.T) {
	body := `<process id="%s" isExecutable="%s"><startEvent id="%s_s"/><serviceTask id="%s_t"><extensionElements><zeebe:taskDefinition type="j"/></extensionElements></serviceTask>` +
		`<sequenceFlow id="%s_f" sourceRef="%s_s" targetRef="%s_t"/></process>`
	proc := func(id, exec string) string {
		return strings.NewReplacer("%s\"", id+"\"", "%s_", id+"_").Replace(strings.Replace(body, `isExecutable="%s"`, `isExecutable="`+exec+`"`, 1))
	}
	cases := []struct {
		name, src string
		ids       []string
	}{
		{"default namespace", `<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">` +
			proc("a", "true") + proc("b", "false") + proc("c", "true") + `</definitions>`, []string{"a", "c"}},
		{"bpmn2 prefix", `<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">` +
			`<bpmn2:process id="x" isExecutable="true"><bpmn2:startEvent id="x_s"/><bpmn2:serviceTask id="x_t"><bpmn2:extensionElements><zeebe:taskDefinition type="j"/></bpmn2:extensionElements></bpmn2:serviceTask>` +
			`<bpmn2:sequenceFlow id="x_f" sourceRef="x_s" targetRef="x_t"/></bpmn2:process></bpmn2:definitions>`, []string{"x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defs := mustParse(t, c.src)
			var ids []string
			for _, d := range defs {
				ids = append(ids, d.ID)
				if tk := d.Elements[d.ID+"_t"]; tk.Retries != "3" || tk.JobType != "j" || len(tk.Incoming) != 1 {
					t.Errorf("task: %+v", tk)
				}
			}
			if strings.Join(ids, ",") != strings.Join(c.ids, ",") {
				t.Errorf("processes %v, want %v", ids, c.ids)
			}
		})
	}
}

func TestIgnoredContent(t *testing.T) {
	src := `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
		xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" modeler:executionPlatform="Camunda Cloud">
		<bpmn:collaboration id="c"><bpmn:participant id="pa" processRef="p"/></bpmn:collaboration>
		<bpmn:process id="p" isExecutable="true" camunda:foo="bar">
			<bpmn:documentation>doc</bpmn:documentation>
			<bpmn:extensionElements><zeebe:versionTag value="1"/></bpmn:extensionElements>
			<bpmn:laneSet id="ls"><bpmn:lane id="l"/></bpmn:laneSet>
			<bpmn:startEvent id="s"><bpmn:documentation>x</bpmn:documentation><bpmn:outgoing>f</bpmn:outgoing></bpmn:startEvent>
			<bpmn:serviceTask id="t" zeebe:modelerTemplate="x" camunda:asyncBefore="true"><bpmn:extensionElements>
				<zeebe:taskDefinition type="j"/><zeebe:taskHeaders/><zeebe:properties><zeebe:property name="a" value="b"/></zeebe:properties><zeebe:unknown/>
			</bpmn:extensionElements><bpmn:incoming>f</bpmn:incoming></bpmn:serviceTask>
			<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>
			<bpmn:textAnnotation id="ta"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>
			<bpmn:association id="as" sourceRef="t" targetRef="ta"/>
		</bpmn:process>
		<bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="pl" bpmnElement="p"/></bpmndi:BPMNDiagram>
	</bpmn:definitions>`
	d := mustParse(t, src)[0]
	if len(d.Elements) != 3 || len(d.Elements["t"].Headers) != 0 {
		t.Errorf("elements: %v", d.Elements)
	}
}
