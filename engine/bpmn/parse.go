package bpmn

import (
	"fmt"
	"strings"
)

// Parse reads one deployed resource and returns its executable processes in document order.
// The error's text is the <detail> Zeebe puts after '<resourceName>': in a deployment rejection:
// the XML parser's message, or a *ValidationError listing every validation failure. It never
// panics on any input.
func Parse(resourceName string, data []byte) (defs []*Definition, err error) {
	defer func() {
		if r := recover(); r != nil {
			defs, err = nil, fmt.Errorf("internal error reading resource '%s': %v", resourceName, r)
		}
	}()
	root, err := readTree(data)
	if err != nil {
		return nil, err
	}
	if !root.isBPMN("definitions") {
		return nil, fmt.Errorf("expected the root element 'definitions' of namespace '%s', but found '%s' of namespace '%s'", nsBPMN, root.local, root.space)
	}
	b := newBuilder(root)
	defs = b.build(root)
	if len(b.problems.list) > 0 {
		return nil, &ValidationError{Problems: b.problems.list}
	}
	return defs, nil
}

// builder turns the element tree of one resource into Definitions, collecting problems.
type builder struct {
	problems    problems
	errors      map[string]*node // top-level bpmn:error by id
	messages    map[string]*node // top-level bpmn:message by id
	ids         map[string]bool  // every id met, for duplicates
	unsupported map[string]bool  // ids of rejected elements: references to them are not reported again
	compiled    map[string]error // expressions compiled so far, with their outcome
}

func newBuilder(root *node) *builder {
	b := &builder{errors: map[string]*node{}, messages: map[string]*node{}, ids: map[string]bool{}, unsupported: map[string]bool{}, compiled: map[string]error{}}
	for _, c := range root.children {
		switch {
		case c.isBPMN("error"):
			b.errors[c.attr("id")] = c
		case c.isBPMN("message"):
			b.messages[c.attr("id")] = c
		}
	}
	return b
}

func (b *builder) problem(element, format string, args ...any) {
	b.problems.add(element, fmt.Sprintf(format, args...))
}

// build reads every executable process of the definitions element.
func (b *builder) build(root *node) []*Definition {
	var defs []*Definition
	for _, c := range root.bpmnChildren("process") {
		if !isTrue(c.attr("isExecutable"), false) {
			continue
		}
		if d := b.process(c); d != nil {
			defs = append(defs, d)
		}
	}
	if len(defs) == 0 && len(b.problems.list) == 0 {
		id := root.attr("id")
		if id == "" {
			id = "definitions"
		}
		b.problem(id, "Must contain at least one executable process")
	}
	return defs
}

// rawFlow is a sequenceFlow waiting for its ends to be resolved.
type rawFlow struct {
	n     *node
	scope *Element
}

// ref is an element's reference to another id, resolved once every node is read.
type ref struct {
	from *Element
	id   string
}

// process holds what one process needs between reading its nodes and linking them.
type process struct {
	def      *Definition
	flows    []rawFlow // document order
	links    []*Flow   // the linked flows, document order
	attached []ref     // boundary event -> attachedToRef, document order
	defaults []ref     // exclusive gateway -> default flow id, document order
}

func (b *builder) process(pn *node) *Definition {
	id := pn.attr("id")
	if id == "" {
		b.problem("process", "Attribute 'id' must be present and not empty")
		return nil
	}
	b.register(id)
	root := &Element{ID: id, Name: pn.attr("name"), Type: Process, EventType: Unspecified}
	p := &process{
		def: &Definition{ID: id, Root: root, Elements: map[string]*Element{id: root}, Flows: map[string]*Flow{}},
	}
	b.scope(p, root, pn)
	b.link(p)
	b.validate(p)
	return p.def
}

// register notes an id and reports it when already used in the resource.
func (b *builder) register(id string) {
	if b.ids[id] {
		b.problem(id, "Duplicate id '%s': ids must be unique in a resource", id)
	}
	b.ids[id] = true
}

// Elements of a process or sub-process that carry no execution semantics.
var ignoredInScope = map[string]bool{
	"documentation": true, "extensionElements": true, "laneSet": true, "textAnnotation": true,
	"association": true, "group": true, "dataObject": true, "dataObjectReference": true,
	"dataStoreReference": true, "property": true, "ioSpecification": true, "auditing": true,
	"monitoring": true, "category": true,
	// A sub-process is read as a scope: its own incoming and outgoing references are not children.
	"incoming": true, "outgoing": true,
}

var nodeTypes = map[string]ElementType{
	"startEvent":             StartEvent,
	"endEvent":               EndEvent,
	"serviceTask":            ServiceTask,
	"receiveTask":            ReceiveTask,
	"exclusiveGateway":       ExclusiveGateway,
	"parallelGateway":        ParallelGateway,
	"intermediateCatchEvent": IntermediateCatchEvent,
	"boundaryEvent":          BoundaryEvent,
	"subProcess":             SubProcess,
}

// scope reads the flow elements of a process or sub-process node into scope.
func (b *builder) scope(p *process, scope *Element, sn *node) {
	for _, c := range sn.children {
		if c.space != nsBPMN || ignoredInScope[c.local] {
			continue
		}
		if c.local == "sequenceFlow" {
			p.flows = append(p.flows, rawFlow{n: c, scope: scope})
			continue
		}
		typ, ok := nodeTypes[c.local]
		if ok && typ == SubProcess && isTrue(c.attr("triggeredByEvent"), false) {
			b.reject(c, "eventSubProcess")
			continue
		}
		if !ok {
			b.reject(c, c.local)
			continue
		}
		id := c.attr("id")
		if id == "" {
			b.problem(c.local, "Attribute 'id' must be present and not empty")
			continue
		}
		b.register(id)
		e := &Element{ID: id, Name: c.attr("name"), Type: typ, EventType: Unspecified, Parent: scope}
		scope.Children = append(scope.Children, e)
		p.def.Elements[id] = e
		b.node(p, e, c)
		if typ == SubProcess {
			b.scope(p, e, c)
		}
	}
}

// reject reports an element the engine does not run.
func (b *builder) reject(n *node, typeName string) {
	id := n.attr("id")
	if id != "" {
		b.unsupported[id] = true
		b.ids[id] = true
	} else {
		id = n.local
	}
	b.problem(id, "the element type '%s' is not supported by this engine", typeName)
}

// Children of a flow node that carry no execution semantics (or are read elsewhere).
var ignoredInNode = map[string]bool{
	"documentation": true, "extensionElements": true, "incoming": true, "outgoing": true,
	"dataInputAssociation": true, "dataOutputAssociation": true, "ioSpecification": true,
	"property": true, "dataInput": true, "dataOutput": true, "inputSet": true, "outputSet": true,
}

// node reads one flow node's own content: event definitions, extension elements, references.
func (b *builder) node(p *process, e *Element, n *node) {
	var eventDefs []*node
	for _, c := range n.children {
		switch {
		case c.space != nsBPMN || ignoredInNode[c.local]:
		case strings.HasSuffix(c.local, "EventDefinition") && isEvent(e.Type):
			eventDefs = append(eventDefs, c)
		case c.local == "multiInstanceLoopCharacteristics" || c.local == "standardLoopCharacteristics":
			b.problem(e.ID, "the loop characteristics '%s' are not supported by this engine", c.local)
		case e.Type == SubProcess && (c.local == "sequenceFlow" || ignoredInScope[c.local] || nodeTypes[c.local] != ""):
			// read by scope
		case e.Type == SubProcess:
			// unsupported flow elements of the sub-process are reported by scope
		default:
			b.problem(e.ID, "the element '%s' inside '%s' is not supported by this engine", c.local, n.local)
		}
	}
	if isTrue(n.attr("isForCompensation"), false) {
		b.problem(e.ID, "compensation handlers (isForCompensation) are not supported by this engine")
	}
	b.ioMapping(e, n)
	switch e.Type {
	case ServiceTask:
		b.taskDefinition(e, n)
	case ReceiveTask:
		b.catchMessage(e, n.attr("messageRef"))
	case ExclusiveGateway:
		if def := n.attr("default"); def != "" {
			p.defaults = append(p.defaults, ref{e, def})
		}
	case StartEvent:
		b.startEvent(e, n, eventDefs)
	case EndEvent:
		b.endEvent(e, n, eventDefs)
	case IntermediateCatchEvent:
		b.catchEvent(e, n, eventDefs)
	case BoundaryEvent:
		b.boundaryEvent(p, e, n, eventDefs)
	}
}

func isEvent(t ElementType) bool {
	return t == StartEvent || t == EndEvent || t == IntermediateCatchEvent || t == BoundaryEvent
}

func (b *builder) rejectEventDef(e *Element, n, def *node) {
	b.problem(e.ID, "the event definition '%s' of '%s' is not supported by this engine", def.local, n.local)
}

func (b *builder) startEvent(e *Element, n *node, defs []*node) {
	switch {
	case len(defs) == 0:
		e.EventType = NoneEvent
	case len(defs) > 1:
		b.problem(e.ID, "Must have exactly one event definition")
	case defs[0].local == "messageEventDefinition" && e.Parent.Type == Process:
		e.EventType = MessageEvt
		b.startMessage(e, defs[0].attr("messageRef"))
	case defs[0].local == "messageEventDefinition":
		b.problem(e.ID, "the event definition 'messageEventDefinition' of a start event inside a sub-process is not supported by this engine")
	default:
		b.rejectEventDef(e, n, defs[0])
	}
}

func (b *builder) endEvent(e *Element, n *node, defs []*node) {
	switch {
	case len(defs) == 0:
		e.EventType = NoneEvent
	case len(defs) > 1:
		b.problem(e.ID, "Must have exactly one event definition")
	case defs[0].local == "terminateEventDefinition":
		e.EventType = Terminate
	case defs[0].local == "errorEventDefinition":
		e.EventType = ErrorEvent
		b.throwError(e, defs[0].attr("errorRef"))
	default:
		b.rejectEventDef(e, n, defs[0])
	}
}

func (b *builder) catchEvent(e *Element, n *node, defs []*node) {
	if len(defs) != 1 {
		b.problem(e.ID, "Must have exactly one event definition")
		return
	}
	switch d := defs[0]; d.local {
	case "timerEventDefinition":
		e.EventType = TimerEvent
		b.timer(e, d, false)
	case "messageEventDefinition":
		e.EventType = MessageEvt
		b.catchMessage(e, d.attr("messageRef"))
	default:
		b.rejectEventDef(e, n, d)
	}
}

func (b *builder) boundaryEvent(p *process, e *Element, n *node, defs []*node) {
	e.CancelActivity = isTrue(n.attr("cancelActivity"), true)
	p.attached = append(p.attached, ref{e, n.attr("attachedToRef")})
	if len(defs) != 1 {
		b.problem(e.ID, "Must have exactly one event definition")
		return
	}
	switch d := defs[0]; d.local {
	case "timerEventDefinition":
		e.EventType = TimerEvent
		b.timer(e, d, true)
	case "messageEventDefinition":
		e.EventType = MessageEvt
		b.catchMessage(e, d.attr("messageRef"))
	case "errorEventDefinition":
		e.EventType = ErrorEvent
		if !e.CancelActivity {
			b.problem(e.ID, "An error boundary event must be interrupting (cancelActivity='false' is not allowed)")
			e.CancelActivity = true
		}
		b.catchError(e, d.attr("errorRef"))
	default:
		b.rejectEventDef(e, n, d)
	}
}

// timer reads a timerEventDefinition: exactly one of timeDuration, timeDate (and, on boundary
// events, timeCycle).
func (b *builder) timer(e *Element, d *node, boundary bool) {
	set := 0
	for _, c := range d.children {
		if c.space != nsBPMN {
			continue
		}
		v := strings.TrimSpace(string(c.text))
		switch c.local {
		case "timeDuration":
			e.TimeDuration = v
		case "timeDate":
			e.TimeDate = v
		case "timeCycle":
			if !boundary {
				b.problem(e.ID, "the timer 'timeCycle' of an intermediate catch event is not supported by this engine")
				return
			}
			e.TimeCycle = v
		default:
			continue
		}
		if v != "" {
			set++
			b.expression(e.ID, v, false)
		}
	}
	switch {
	case set == 0 && !boundary:
		b.problem(e.ID, "Intermediate timer catch event must have either a time duration or a time date.")
	case set == 0:
		b.problem(e.ID, "Must have a time duration, a time date or a time cycle")
	case set > 1:
		b.problem(e.ID, "Must be exactly one type of timer: timeDate, timeDuration or timeCycle")
	}
}

func (b *builder) taskDefinition(e *Element, n *node) {
	tds := n.extensions("taskDefinition")
	if len(tds) != 1 {
		b.problem(e.ID, "Must have exactly one 'zeebe:taskDefinition' extension element")
	}
	if len(tds) > 0 {
		td := tds[0]
		e.JobType = td.attr("type")
		if e.JobType == "" {
			b.problem(e.ID, "Attribute 'type' must be present and not empty")
		} else {
			b.expression(e.ID, e.JobType, false)
		}
		e.Retries = "3"
		if td.hasAttr("retries") {
			e.Retries = td.attr("retries")
			if e.Retries == "" {
				b.problem(e.ID, "Attribute 'retries' must be present and not empty")
			} else {
				b.expression(e.ID, e.Retries, false)
			}
		}
	}
	ths := n.extensions("taskHeaders")
	if len(ths) > 1 {
		b.problem(e.ID, "Must have at most one 'zeebe:taskHeaders' extension element")
	}
	seen := map[string]bool{}
	for _, th := range ths {
		for _, h := range th.zeebeChildren("header") {
			k, v := h.attr("key"), h.attr("value")
			switch {
			case k == "":
				b.problem(e.ID, "Attribute 'key' must be present and not empty")
			case seen[k]:
				b.problem(e.ID, "Headers contain duplicate entries for key '%s'", k)
			case strings.HasPrefix(k, "io.camunda.zeebe:"):
				b.problem(e.ID, "Attribute 'key' contains '%s', but header keys starting with 'io.camunda.zeebe:' are reserved for internal use.", k)
			}
			if v == "" {
				b.problem(e.ID, "Attribute 'value' must be present and not empty")
			}
			seen[k] = true
			e.Headers = append(e.Headers, Header{Key: k, Value: v})
		}
	}
}

func (b *builder) ioMapping(e *Element, n *node) {
	ios := n.extensions("ioMapping")
	if len(ios) > 1 {
		b.problem(e.ID, "Must have at most one 'zeebe:ioMapping' extension element")
	}
	for _, io := range ios {
		for _, c := range io.children {
			if c.space != nsZeebe || (c.local != "input" && c.local != "output") {
				continue
			}
			m := Mapping{Source: c.attr("source"), Target: c.attr("target")}
			output := c.local == "output"
			if m.Source != "" {
				b.expression(e.ID, m.Source, output)
			}
			b.target(e.ID, m.Target)
			if output {
				e.Outputs = append(e.Outputs, m)
			} else {
				e.Inputs = append(e.Inputs, m)
			}
		}
	}
}

// message returns the referenced bpmn:message, reporting a missing or unknown reference.
func (b *builder) message(e *Element, ref string) *node {
	if ref == "" {
		b.problem(e.ID, "Must reference a message")
		return nil
	}
	m := b.messages[ref]
	if m == nil {
		b.problem(e.ID, "Attribute 'messageRef' references an unknown message '%s'", ref)
		return nil
	}
	id := m.attr("id")
	e.MessageName = m.attr("name")
	if e.MessageName == "" {
		b.problem(id, "Name must be present and not empty")
	} else {
		b.expression(id, e.MessageName, false)
	}
	return m
}

// startMessage reads the message of a message start event (no subscription needed).
func (b *builder) startMessage(e *Element, ref string) {
	b.message(e, ref)
}

// catchMessage reads the message of a receive task, intermediate or boundary message catch.
func (b *builder) catchMessage(e *Element, ref string) {
	m := b.message(e, ref)
	if m == nil {
		return
	}
	id := m.attr("id")
	subs := m.extensions("subscription")
	if len(subs) != 1 {
		b.problem(id, "Must have exactly one zeebe:subscription extension element")
		if len(subs) == 0 {
			return
		}
	}
	e.CorrelationKey = subs[0].attr("correlationKey")
	if e.CorrelationKey == "" {
		b.problem(id, "Attribute 'correlationKey' must be present and not empty")
		return
	}
	b.expression(id, e.CorrelationKey, true)
}

// catchError reads an error boundary event's error: none (or one without code) catches all.
func (b *builder) catchError(e *Element, ref string) {
	if ref == "" {
		e.CatchAll = true
		return
	}
	en := b.errors[ref]
	if en == nil {
		b.problem(e.ID, "Attribute 'errorRef' references an unknown error '%s'", ref)
		return
	}
	e.ErrorCode = en.attr("errorCode")
	switch {
	case e.ErrorCode == "":
		e.CatchAll = true
	case IsFEEL(e.ErrorCode):
		b.problem(e.ID, "The errorCode of the error catch event is not allowed to be an expression")
	}
}

// throwError reads an error end event's error, which must have a code.
func (b *builder) throwError(e *Element, ref string) {
	if ref == "" {
		b.problem(e.ID, "Must reference an error")
		return
	}
	en := b.errors[ref]
	if en == nil {
		b.problem(e.ID, "Attribute 'errorRef' references an unknown error '%s'", ref)
		return
	}
	e.ErrorCode = en.attr("errorCode")
	if e.ErrorCode == "" {
		b.problem(en.attr("id"), "ErrorCode must be present and not empty")
		return
	}
	b.expression(e.ID, e.ErrorCode, false)
}

// isTrue reads an xsd:boolean attribute, def when absent or unreadable.
func isTrue(v string, def bool) bool {
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	return def
}
