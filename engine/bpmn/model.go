// Package bpmn reads BPMN 2.0 XML with Zeebe's extension elements into the executable model the
// engine runs, and refuses at deployment whatever the engine cannot run, with Zeebe 8.5's messages
// (docs/engine.md, ../shared/reference/zeebe-engine-semantics.md §B). It knows nothing of state,
// jobs or gRPC.
package bpmn

// ElementType is Zeebe's BpmnElementType name, as records carry it.
type ElementType string

const (
	Process                ElementType = "PROCESS"
	SubProcess             ElementType = "SUB_PROCESS"
	StartEvent             ElementType = "START_EVENT"
	EndEvent               ElementType = "END_EVENT"
	ServiceTask            ElementType = "SERVICE_TASK"
	ReceiveTask            ElementType = "RECEIVE_TASK"
	ExclusiveGateway       ElementType = "EXCLUSIVE_GATEWAY"
	ParallelGateway        ElementType = "PARALLEL_GATEWAY"
	IntermediateCatchEvent ElementType = "INTERMEDIATE_CATCH_EVENT"
	BoundaryEvent          ElementType = "BOUNDARY_EVENT"
	SequenceFlow           ElementType = "SEQUENCE_FLOW"
)

// EventType is Zeebe's BpmnEventType name.
type EventType string

const (
	Unspecified EventType = "UNSPECIFIED"
	NoneEvent   EventType = "NONE"
	TimerEvent  EventType = "TIMER"
	MessageEvt  EventType = "MESSAGE"
	ErrorEvent  EventType = "ERROR"
	Terminate   EventType = "TERMINATE"
)

// Definition is one executable process of a deployed resource.
type Definition struct {
	ID       string              // bpmnProcessId
	Root     *Element            // the PROCESS element: its Children are the top-level nodes
	Elements map[string]*Element // every node of every scope by id (flows are in Flows)
	Flows    map[string]*Flow
}

// Element is a flow node, a sub-process or the process itself.
type Element struct {
	ID        string
	Name      string
	Type      ElementType
	EventType EventType // UNSPECIFIED for tasks, gateways, sub-processes and the process

	Parent   *Element   // flow scope: the process or a sub-process; nil for the process
	Children []*Element // PROCESS and SUB_PROCESS: their flow nodes, document order
	// NoneStart is the none start event among Children (PROCESS: nil when there is none;
	// SUB_PROCESS: always set, validation requires exactly one).
	NoneStart *Element
	// MessageStarts are the message start events among a PROCESS's Children.
	MessageStarts []*Element

	Incoming []*Flow // document order of the sequenceFlow elements
	Outgoing []*Flow // document order of the sequenceFlow elements
	Default  *Flow   // exclusive gateway: the default flow, or nil

	// Service task (zeebe:taskDefinition, zeebe:taskHeaders).
	JobType string   // raw attribute: static text or "=FEEL"
	Retries string   // raw attribute: static text or "=FEEL"; "3" when the attribute is absent
	Headers []Header // document order; static strings, never evaluated

	// zeebe:ioMapping, document order. Sources are raw: static text or "=FEEL".
	Inputs  []Mapping
	Outputs []Mapping

	// Timer events (intermediate catch, boundary): exactly one is set, raw (static or "=FEEL").
	TimeDuration string
	TimeDate     string
	TimeCycle    string // boundary timers only (non-interrupting repetition)

	// Message events (intermediate catch, receive task, boundary, start).
	MessageName    string // raw: static or "=FEEL"
	CorrelationKey string // raw "=FEEL" (empty for message start events)

	// Error events (boundary catch, end event). ErrorCode is the bpmn:error's errorCode;
	// CatchAll is true for an error catch without errorRef (or with an error without code).
	ErrorCode string
	CatchAll  bool

	// Boundary events.
	AttachedTo     *Element   // the activity a boundary event is attached to
	CancelActivity bool       // interrupting (the default)
	Boundaries     []*Element // on an activity: its boundary events, document order
}

// Header is one zeebe:header.
type Header struct{ Key, Value string }

// Mapping is one zeebe:input or zeebe:output: Source raw (static or "=FEEL"), Target a path such
// as "a" or "a.b".
type Mapping struct{ Source, Target string }

// Flow is a sequence flow.
type Flow struct {
	ID        string
	Source    *Element
	Target    *Element
	Condition string // raw "=FEEL" conditionExpression, or "" for none
}

// IsFEEL reports whether a raw attribute is an expression ("=" first, as Zeebe reads it).
func IsFEEL(raw string) bool { return len(raw) > 0 && raw[0] == '=' }
