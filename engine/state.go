package engine

import (
	"sort"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// State is everything the engine knows, derived from the command log alone: replaying the same
// commands onto an empty State gives the same State (processing reads no clock, no randomness
// and iterates maps only in sorted order). It is saved whole as the snapshot.
type State struct {
	NextKey      int64 // next key to draw (partition 1: 2^51 + n)
	NextPosition int64 // position of the next record

	Definitions map[int64]*Definition // by process definition key
	Latest      map[string]int64      // bpmnProcessId → key of its latest version

	Elements  map[int64]*ElementInstance // every active element instance, process instances included
	Variables map[int64]map[string]*Variable
	Jobs      map[int64]*Job
	Incidents map[int64]*Incident
	Timers    map[int64]*Timer
	Messages  map[int64]*Message      // published messages still buffered
	Subs      map[int64]*Subscription // open message subscriptions by key

	// Activatable is, per job type, the keys of ACTIVATABLE jobs in ascending order.
	Activatable map[string][]int64
}

func newState() *State {
	return &State{
		NextKey:      1<<51 + 1,
		NextPosition: 1,
		Definitions:  map[int64]*Definition{},
		Latest:       map[string]int64{},
		Elements:     map[int64]*ElementInstance{},
		Variables:    map[int64]map[string]*Variable{},
		Jobs:         map[int64]*Job{},
		Incidents:    map[int64]*Incident{},
		Timers:       map[int64]*Timer{},
		Messages:     map[int64]*Message{},
		Subs:         map[int64]*Subscription{},
		Activatable:  map[string][]int64{},
	}
}

func (s *State) key() int64 {
	k := s.NextKey
	s.NextKey++
	return k
}

// Definition is a deployed process version.
type Definition struct {
	Key          int64
	ProcessID    string
	Version      int32
	ResourceName string
	Checksum     []byte
	Resource     []byte // the whole resource; the model is parsed from it again after a restart

	model *bpmn.Definition
}

// Element instance states.
const (
	Activating  = "ELEMENT_ACTIVATING"
	Activated   = "ELEMENT_ACTIVATED"
	Completing  = "ELEMENT_COMPLETING"
	Terminating = "ELEMENT_TERMINATING"
)

// ElementInstance is a running flow node, sub-process or process instance.
type ElementInstance struct {
	Key                int64
	ProcessInstanceKey int64
	DefinitionKey      int64
	ElementID          string
	FlowScopeKey       int64 // -1 for a process instance
	State              string
	// Tokens counts what keeps a scope (process, sub-process) alive: active children and
	// tokens waiting at a joining parallel gateway.
	Tokens int
	// Joins: on a scope, the tokens that reached each incoming flow of its joining gateways.
	Joins map[string]int `json:",omitempty"`
	// JobKey is the job of a service task, 0 when none.
	JobKey int64 `json:",omitempty"`
	// Children lists the keys of a scope's active child element instances.
	Children []int64 `json:",omitempty"`
	// Interrupted: an interrupting event fired; the scope ends by running that event's path.
	Interrupted bool `json:",omitempty"`
	// Timers and Subs are the timers and message subscriptions this instance owns (its own
	// catch event, or the boundary events of an activity).
	Timers []int64 `json:",omitempty"`
	Subs   []int64 `json:",omitempty"`
	// StartedByMessage is the correlation key of the message that started a process instance.
	StartedByMessage *string `json:",omitempty"`
}

// Variable is one variable of a scope: its key and its value as JSON text.
type Variable struct {
	Key   int64
	Value string
}

// Job states.
const (
	JobActivatable = "ACTIVATABLE"
	JobActivated   = "ACTIVATED"
	JobFailed      = "FAILED"
	JobErrorThrown = "ERROR_THROWN"
)

// Job is a service task's unit of work.
type Job struct {
	Key                int64
	State              string
	Type               string
	Retries            int32
	RetryBackoff       int64
	RecurringTime      int64 // when a FAILED job with a backoff becomes activatable again; -1 otherwise
	Deadline           int64 // -1 unless ACTIVATED
	Timeout            int64
	Worker             string
	ErrorMessage       string
	ErrorCode          string
	CustomHeaders      string // JSON object
	ElementID          string
	ElementInstanceKey int64
	ProcessInstanceKey int64
	ProcessID          string
	DefinitionKey      int64
	Version            int32
}

// Incident is an open incident. Step says what resolving it retries for an element incident.
type Incident struct {
	Key                int64
	ErrorType          string
	ErrorMessage       string
	ProcessID          string
	DefinitionKey      int64
	ProcessInstanceKey int64
	ElementID          string
	ElementInstanceKey int64
	JobKey             int64
	VariableScopeKey   int64
	Step               string `json:",omitempty"` // "activate" or "complete"
}

// Timer is a scheduled timer event.
type Timer struct {
	Key                int64
	ElementInstanceKey int64 // the catch event, or the activity a boundary timer is attached to
	ProcessInstanceKey int64
	DefinitionKey      int64
	DueDate            int64
	TargetElementID    string
	Repetitions        int32
	Interval           int64 `json:",omitempty"` // cycle timers: ms between repetitions
}

// Message is a published message still in the buffer.
type Message struct {
	Key            int64
	Name           string
	CorrelationKey string
	MessageID      string
	TimeToLive     int64
	Deadline       int64
	Variables      string
	Correlated     []string `json:",omitempty"` // bpmnProcessIds it was correlated to
}

// Subscription waits for a message on a catch element (or a boundary's activity).
type Subscription struct {
	Key                int64
	ElementInstanceKey int64 // the catch element, or the activity a boundary event is attached to
	ProcessInstanceKey int64
	ProcessID          string
	ElementID          string // the catch element or the boundary event
	MessageName        string
	CorrelationKey     string
	Interrupting       bool
}

// sortedKeys returns a map's int64 keys in ascending order, so processing is deterministic.
func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// activatable index maintenance.
func (s *State) addActivatable(j *Job) {
	keys := s.Activatable[j.Type]
	i := sort.Search(len(keys), func(i int) bool { return keys[i] >= j.Key })
	if i < len(keys) && keys[i] == j.Key {
		return
	}
	keys = append(keys, 0)
	copy(keys[i+1:], keys[i:])
	keys[i] = j.Key
	s.Activatable[j.Type] = keys
}

func (s *State) removeActivatable(j *Job) {
	keys := s.Activatable[j.Type]
	i := sort.Search(len(keys), func(i int) bool { return keys[i] >= j.Key })
	if i < len(keys) && keys[i] == j.Key {
		keys = append(keys[:i], keys[i+1:]...)
	}
	if len(keys) == 0 {
		delete(s.Activatable, j.Type)
	} else {
		s.Activatable[j.Type] = keys
	}
}
