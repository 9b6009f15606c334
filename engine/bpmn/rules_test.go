package bpmn

import (
	"errors"
	"strings"
	"testing"
)

const head = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="defs">`

// doc wraps the content of the executable process "p" and top-level elements.
func doc(process, top string) string {
	return head + `<bpmn:process id="p" isExecutable="true">` + process + `</bpmn:process>` + top + `</bpmn:definitions>`
}

// task is a service task with the given extension elements.
func task(id, ext string) string {
	return `<bpmn:serviceTask id="` + id + `"><bpmn:extensionElements>` + ext + `</bpmn:extensionElements></bpmn:serviceTask>`
}

const taskDef = `<zeebe:taskDefinition type="job"/>`

// line is start -> t -> end plus extra content.
func line(ext, extra string) string {
	return `<bpmn:startEvent id="s"/>` + task("t", ext) + `<bpmn:endEvent id="e"/>` +
		`<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>` + extra
}

// gateway is start -> gw -> a|b with the given flow contents and gateway attributes.
func gateway(attrs, fa, fb string) string {
	return `<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" ` + attrs + `/>` +
		`<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>` +
		`<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="gw"/>` +
		`<bpmn:sequenceFlow id="fa" sourceRef="gw" targetRef="a">` + fa + `</bpmn:sequenceFlow>` +
		`<bpmn:sequenceFlow id="fb" sourceRef="gw" targetRef="b">` + fb + `</bpmn:sequenceFlow>`
}

func cond(c string) string { return `<bpmn:conditionExpression>` + c + `</bpmn:conditionExpression>` }

// catchMsg is start -> catch (messageRef) -> end with the given top-level message.
func catchMsg(ref string) string {
	return `<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition ` + ref + `/></bpmn:intermediateCatchEvent><bpmn:endEvent id="e"/>` +
		`<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/><bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/>`
}

func message(sub string) string {
	return `<bpmn:message id="m" name="msg"><bpmn:extensionElements>` + sub + `</bpmn:extensionElements></bpmn:message>`
}

// boundary is line() with a boundary event b (attrs, definition) going to end "be".
func boundary(attrs, def string) string {
	return line(taskDef, `<bpmn:boundaryEvent id="b" `+attrs+`>`+def+`</bpmn:boundaryEvent><bpmn:endEvent id="be"/>`+
		`<bpmn:sequenceFlow id="fb" sourceRef="b" targetRef="be"/>`)
}

func unsupported(typ, id string) string {
	return "Element: " + id + "\n    - ERROR: the element type '" + typ + "' is not supported by this engine"
}

const staticMsg = "Expected expression but found static value '%s'. An expression must start with '=' (e.g. '=%s')."

func static(v string) string { return strings.ReplaceAll(staticMsg, "%s", v) }

// ruleCases are resources each rule refuses, with the element and the message expected.
var ruleCases = []struct {
	name, doc, element, msg string
}{
	{"no task definition", doc(line("", ""), ""), "t", "Must have exactly one 'zeebe:taskDefinition' extension element"},
	{"two task definitions", doc(line(taskDef+taskDef, ""), ""), "t", "Must have exactly one 'zeebe:taskDefinition' extension element"},
	{"empty type", doc(line(`<zeebe:taskDefinition type=""/>`, ""), ""), "t", "Attribute 'type' must be present and not empty"},
	{"missing type", doc(line(`<zeebe:taskDefinition retries="2"/>`, ""), ""), "t", "Attribute 'type' must be present and not empty"},
	{"empty retries", doc(line(`<zeebe:taskDefinition type="j" retries=""/>`, ""), ""), "t", "Attribute 'retries' must be present and not empty"},
	{"duplicate header", doc(line(taskDef+`<zeebe:taskHeaders><zeebe:header key="k" value="1"/><zeebe:header key="k" value="2"/></zeebe:taskHeaders>`, ""), ""),
		"t", "Headers contain duplicate entries for key 'k'"},
	{"reserved header", doc(line(taskDef+`<zeebe:taskHeaders><zeebe:header key="io.camunda.zeebe:x" value="1"/></zeebe:taskHeaders>`, ""), ""),
		"t", "Attribute 'key' contains 'io.camunda.zeebe:x', but header keys starting with 'io.camunda.zeebe:' are reserved for internal use."},
	{"static condition", doc(gateway(`default="fb"`, cond("x &gt; 1"), ""), ""), "fa", static("x > 1")},
	{"static output source", doc(line(taskDef+`<zeebe:ioMapping><zeebe:output source="x" target="y"/></zeebe:ioMapping>`, ""), ""), "t", static("x")},
	{"static correlation key", doc(catchMsg(`messageRef="m"`), message(`<zeebe:subscription correlationKey="key"/>`)), "m", static("key")},
	{"target not a path", doc(line(taskDef+`<zeebe:ioMapping><zeebe:input source="=x" target="a..b"/></zeebe:ioMapping>`, ""), ""),
		"t", "Expected path expression 'a..b' but doesn't match the pattern '" + targetPattern + "'."},
	{"target empty", doc(line(taskDef+`<zeebe:ioMapping><zeebe:input source="=x"/></zeebe:ioMapping>`, ""), ""), "t", "Attribute 'target' must be present and not empty"},
	{"gateway flow without condition", doc(gateway("", cond("=x"), ""), ""), "gw", "Must have a condition or be default flow"},
	{"default flow elsewhere", doc(gateway(`default="f0"`, cond("=x"), cond("=y")), ""), "gw", "Default flow must start at gateway"},
	{"unknown default flow", doc(gateway(`default="nope"`, cond("=x"), cond("=y")), ""), "gw", "Attribute 'default' references an unknown sequence flow 'nope'"},
	{"condition out of a task", doc(line(taskDef, `<bpmn:endEvent id="e2"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e2">`+cond("=x")+`</bpmn:sequenceFlow>`), ""),
		"f3", "Conditional sequence flows are only supported at exclusive or inclusive gateway"},
	{"message not referenced", doc(catchMsg(""), ""), "c", "Must reference a message"},
	{"unknown message", doc(catchMsg(`messageRef="nope"`), ""), "c", "Attribute 'messageRef' references an unknown message 'nope'"},
	{"message without subscription", doc(catchMsg(`messageRef="m"`), message("")), "m", "Must have exactly one zeebe:subscription extension element"},
	{"message without name", doc(catchMsg(`messageRef="m"`), `<bpmn:message id="m"/>`), "m", "Name must be present and not empty"},
	{"empty correlation key", doc(catchMsg(`messageRef="m"`), message(`<zeebe:subscription/>`)), "m", "Attribute 'correlationKey' must be present and not empty"},
	{"receive task without message", doc(`<bpmn:startEvent id="s"/><bpmn:receiveTask id="r"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="r"/>`, ""), "r", "Must reference a message"},
	{"timer without value", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="c"/>`, ""),
		"c", "Intermediate timer catch event must have either a time duration or a time date."},
	{"timer with two values", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration><bpmn:timeDate>2020-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="c"/>`, ""),
		"c", "Must be exactly one type of timer: timeDate, timeDuration or timeCycle"},
	{"catch event without definition", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="c"/>`, ""), "c", "Must have exactly one event definition"},
	{"boundary not attached", doc(boundary("", `<bpmn:errorEventDefinition/>`), ""), "b", "Must be attached to an activity"},
	{"boundary on a gateway", doc(line(taskDef, `<bpmn:exclusiveGateway id="g"/><bpmn:boundaryEvent id="b" attachedToRef="g"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>`), ""), "b", "Must be attached to an activity"},
	{"boundary on an unknown id", doc(boundary(`attachedToRef="nope"`, `<bpmn:errorEventDefinition/>`), ""), "b", "Attribute 'attachedToRef' references an unknown element 'nope'"},
	{"boundary without outgoing flow", doc(line(taskDef, `<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>`), ""), "b", "Must have at least one outgoing sequence flow"},
	{"error code expression", doc(boundary(`attachedToRef="t"`, `<bpmn:errorEventDefinition errorRef="err"/>`), `<bpmn:error id="err" errorCode="=code"/>`),
		"b", "The errorCode of the error catch event is not allowed to be an expression"},
	{"unknown error", doc(boundary(`attachedToRef="t"`, `<bpmn:errorEventDefinition errorRef="nope"/>`), ""), "b", "Attribute 'errorRef' references an unknown error 'nope'"},
	{"non-interrupting error boundary", doc(boundary(`attachedToRef="t" cancelActivity="false"`, `<bpmn:errorEventDefinition/>`), ""),
		"b", "An error boundary event must be interrupting (cancelActivity='false' is not allowed)"},
	{"two catch-all error boundaries", doc(boundary(`attachedToRef="t"`, `<bpmn:errorEventDefinition/>`)+`<bpmn:boundaryEvent id="b2" attachedToRef="t"><bpmn:errorEventDefinition/></bpmn:boundaryEvent><bpmn:sequenceFlow id="fb2" sourceRef="b2" targetRef="be"/>`, ""),
		"t", "The same scope can not contain more than one error catch event without error code."},
	{"error end without code", doc(`<bpmn:startEvent id="s"/><bpmn:endEvent id="e"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>`, `<bpmn:error id="err"/>`),
		"err", "ErrorCode must be present and not empty"},
	{"multiple none starts", doc(line(taskDef, `<bpmn:startEvent id="s2"/>`), ""), "p", "Multiple none start events are not allowed"},
	{"no start event", doc(task("t", taskDef), ""), "p", "Must have at least one start event"},
	{"unknown source", doc(line(taskDef, `<bpmn:sequenceFlow id="f3" sourceRef="nope" targetRef="e"/>`), ""), "f3", "Attribute 'sourceRef' references an unknown element 'nope'"},
	{"unknown target", doc(line(taskDef, `<bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="nope"/>`), ""), "f3", "Attribute 'targetRef' references an unknown element 'nope'"},
	{"flow into another scope", doc(line(taskDef, `<bpmn:subProcess id="sp"><bpmn:startEvent id="ss"/></bpmn:subProcess><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="ss"/>`), ""),
		"f3", "Attribute 'targetRef' references 'ss', which is not in the flow scope of the sequence flow"},
	{"FEEL that does not compile", doc(line(taskDef+`<zeebe:ioMapping><zeebe:input source="=a +" target="x"/></zeebe:ioMapping>`, ""), ""), "t", "Invalid FEEL expression '=a +'"},
	{"condition that does not compile", doc(gateway(`default="fb"`, cond("=x = = 1"), ""), ""), "fa", "Invalid FEEL expression '=x = = 1'"},
	{"missing process id", head + `<bpmn:process isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>`, "process", "Attribute 'id' must be present and not empty"},
	{"no executable process", head + `<bpmn:process id="p"><bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>`, "defs", "Must contain at least one executable process"},
	{"sub-process without start", doc(line(taskDef, `<bpmn:subProcess id="sp"><bpmn:endEvent id="se"/></bpmn:subProcess>`), ""), "sp", "Must have exactly one none start event"},
	{"duplicate id", doc(line(taskDef, `<bpmn:endEvent id="t"/>`), ""), "t", "Duplicate id 't': ids must be unique in a resource"},
	{"end event with outgoing flow", doc(line(taskDef, `<bpmn:sequenceFlow id="f3" sourceRef="e" targetRef="t"/>`), ""), "e", "End events must not have outgoing sequence flows"},
	// Unsupported elements are refused, not skipped.
	{"user task", doc(line(taskDef, `<bpmn:userTask id="u"/>`), ""), "u", "the element type 'userTask' is not supported by this engine"},
	{"script task", doc(line(taskDef, `<bpmn:scriptTask id="u"/>`), ""), "u", "the element type 'scriptTask' is not supported by this engine"},
	{"send task", doc(line(taskDef, `<bpmn:sendTask id="u"/>`), ""), "u", "the element type 'sendTask' is not supported by this engine"},
	{"call activity", doc(line(taskDef, `<bpmn:callActivity id="u"/><bpmn:sequenceFlow id="f3" sourceRef="u" targetRef="e"/>`), ""), "u", "the element type 'callActivity' is not supported by this engine"},
	{"inclusive gateway", doc(line(taskDef, `<bpmn:inclusiveGateway id="u"/>`), ""), "u", "the element type 'inclusiveGateway' is not supported by this engine"},
	{"event-based gateway", doc(line(taskDef, `<bpmn:eventBasedGateway id="u"/>`), ""), "u", "the element type 'eventBasedGateway' is not supported by this engine"},
	{"throw event", doc(line(taskDef, `<bpmn:intermediateThrowEvent id="u"/>`), ""), "u", "the element type 'intermediateThrowEvent' is not supported by this engine"},
	{"event sub-process", doc(line(taskDef, `<bpmn:subProcess id="u" triggeredByEvent="true"><bpmn:startEvent id="es"><bpmn:errorEventDefinition/></bpmn:startEvent></bpmn:subProcess>`), ""),
		"u", "the element type 'eventSubProcess' is not supported by this engine"},
	{"signal boundary", doc(boundary(`attachedToRef="t"`, `<bpmn:signalEventDefinition/>`), ""), "b", "the event definition 'signalEventDefinition' of 'boundaryEvent' is not supported by this engine"},
	{"escalation end", doc(`<bpmn:startEvent id="s"/><bpmn:endEvent id="e"><bpmn:escalationEventDefinition/></bpmn:endEvent>`, ""), "e", "the event definition 'escalationEventDefinition' of 'endEvent' is not supported by this engine"},
	{"message end", doc(`<bpmn:startEvent id="s"/><bpmn:endEvent id="e"><bpmn:messageEventDefinition/></bpmn:endEvent>`, ""), "e", "the event definition 'messageEventDefinition' of 'endEvent' is not supported by this engine"},
	{"compensation boundary", doc(boundary(`attachedToRef="t"`, `<bpmn:compensateEventDefinition/>`), ""), "b", "the event definition 'compensateEventDefinition' of 'boundaryEvent' is not supported by this engine"},
	{"conditional catch", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition/></bpmn:intermediateCatchEvent>`, ""), "c", "the event definition 'conditionalEventDefinition' of 'intermediateCatchEvent' is not supported by this engine"},
	{"link catch", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:linkEventDefinition name="l"/></bpmn:intermediateCatchEvent>`, ""), "c", "the event definition 'linkEventDefinition' of 'intermediateCatchEvent' is not supported by this engine"},
	{"timer start", doc(`<bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>`, ""), "s", "the event definition 'timerEventDefinition' of 'startEvent' is not supported by this engine"},
	{"message start in sub-process", doc(line(taskDef, `<bpmn:subProcess id="sp"><bpmn:startEvent id="ss"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent></bpmn:subProcess>`), message(`<zeebe:subscription correlationKey="=k"/>`)),
		"ss", "the event definition 'messageEventDefinition' of a start event inside a sub-process is not supported by this engine"},
	{"timer cycle on intermediate timer", doc(`<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`, ""),
		"c", "the timer 'timeCycle' of an intermediate catch event is not supported by this engine"},
	{"multi-instance", doc(line(`<zeebe:taskDefinition type="j"/>`, ""), "") /* replaced below */, "t", "the loop characteristics 'multiInstanceLoopCharacteristics' are not supported by this engine"},
	{"compensation handler", doc(`<bpmn:startEvent id="s"/><bpmn:serviceTask id="t" isForCompensation="true"><bpmn:extensionElements>`+taskDef+`</bpmn:extensionElements></bpmn:serviceTask>`, ""),
		"t", "compensation handlers (isForCompensation) are not supported by this engine"},
}

func init() {
	for i := range ruleCases {
		if ruleCases[i].name == "multi-instance" {
			ruleCases[i].doc = doc(`<bpmn:startEvent id="s"/><bpmn:serviceTask id="t"><bpmn:extensionElements>`+taskDef+
				`</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics/></bpmn:serviceTask><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>`, "")
		}
	}
}

func TestValidationRules(t *testing.T) {
	for _, c := range ruleCases {
		t.Run(c.name, func(t *testing.T) {
			defs, err := Parse("r.bpmn", []byte(c.doc))
			if err == nil {
				t.Fatalf("accepted: %d definitions", len(defs))
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("not a validation error: %v", err)
			}
			for _, p := range ve.Problems {
				if p.Element == c.element && strings.HasPrefix(p.Message, c.msg) {
					if !strings.Contains(err.Error(), "- Element: "+c.element+"\n") {
						t.Fatalf("text lacks the element line:\n%s", err)
					}
					return
				}
			}
			t.Fatalf("want %s: %q, got:\n%s", c.element, c.msg, err)
		})
	}
}

func TestUnsupportedFormat(t *testing.T) {
	_, err := Parse("r.bpmn", []byte(doc(line(taskDef, `<bpmn:userTask id="u"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="u"/>`), "")))
	want := "- " + unsupported("userTask", "u") + "\n"
	if err == nil || err.Error() != want {
		t.Fatalf("got %q, want %q (references to the refused element are not reported again)", err, want)
	}
}

func TestAllProblemsReported(t *testing.T) {
	src := doc(`<bpmn:startEvent id="s"/><bpmn:startEvent id="s2"/>`+task("t", `<zeebe:taskDefinition type=""/><zeebe:taskHeaders><zeebe:header key="k" value="1"/><zeebe:header key="k" value="2"/></zeebe:taskHeaders>`)+
		`<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>`, "")
	_, err := Parse("r.bpmn", []byte(src))
	want := "- Element: t\n" +
		"    - ERROR: Attribute 'type' must be present and not empty\n" +
		"    - ERROR: Headers contain duplicate entries for key 'k'\n" +
		"- Element: p\n" +
		"    - ERROR: Multiple none start events are not allowed\n"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestXMLRefusals(t *testing.T) {
	deep := head + strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300) + "</bpmn:definitions>"
	cases := []struct{ name, doc, want string }{
		{"syntax", head + "<bpmn:process", "XML syntax error"},
		{"empty", "", "no root element"},
		{"doctype", `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>` + doc(line(taskDef, ""), ""), "DOCTYPE"},
		{"undefined entity", doc(`<bpmn:startEvent id="&x;"/>`, ""), "entity"},
		{"deep", deep, "nested deeper than 200"},
		{"too large", head + strings.Repeat(" ", 4<<20) + "</bpmn:definitions>", "larger than the limit"},
		{"wrong root", `<definitions id="d"/>`, "expected the root element 'definitions'"},
		{"two roots", doc(line(taskDef, ""), "") + "<x/>", "XML syntax error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.bpmn", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
