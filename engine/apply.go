package engine

import (
	"fmt"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// apply processes one command against the state and returns its answer. It is the only
// function that changes the state, in live processing and in replay alike.
func (e *Engine) apply(c *Cmd) (res *Result) {
	e.work = e.work[:0]
	e.steps = 0
	switch c.Op {
	case OpDeploy:
		res = e.deploy(c)
	case OpCreate:
		res = e.create(c)
	case OpCancel:
		res = e.cancel(c)
	case OpActivate:
		res = e.activateJobs(c)
	case OpPush:
		res = e.pushJob(c)
	case OpYield:
		res = e.yieldJob(c)
	case OpComplete:
		res = e.completeJob(c)
	case OpFail:
		res = e.failJob(c)
	case OpThrow:
		res = e.throwError(c)
	case OpUpdateTimeout:
		res = e.updateTimeout(c)
	case OpUpdateRetries:
		res = e.updateRetries(c)
	case OpSetVariables:
		res = e.setVariables(c)
	case OpPublish:
		res = e.publish(c)
	case OpResolve:
		res = e.resolve(c)
	case OpTimeOut:
		res = e.timeOutJob(c)
	case OpRecur:
		res = e.recurJob(c)
	case OpTrigger:
		res = e.triggerTimer(c)
	case OpExpire:
		res = e.expireMessage(c)
	default:
		res = reject("UNKNOWN", RejectInvalidArgument, fmt.Sprintf("unknown command %q", c.Op))
	}
	e.drain()
	if res == nil {
		res = &Result{}
	}
	return res
}

// Work that processing a command sets off (activating the next elements, completing scopes)
// runs in order from a queue, as Zeebe processes follow-up commands, with a budget so that a
// process looping without a wait state cannot hold the engine.
const maxSteps = 100000

func (e *Engine) enqueue(f func()) { e.work = append(e.work, f) }

func (e *Engine) drain() {
	for i := 0; i < len(e.work); i++ {
		e.steps++
		e.work[i]()
	}
	e.work = e.work[:0]
}

func reject(intent, typ, reason string) *Result {
	return &Result{Rejection: &Rejection{Intent: intent, Type: typ, Reason: reason}}
}

// Record writing. Every record takes the next position, whether or not an exporter is set, so
// positions are the same in replay.

func (e *Engine) record(recordType, valueType, intent string, key int64, value any, source int64, rtype, reason string) int64 {
	pos := e.st.NextPosition
	e.st.NextPosition++
	if e.opts.Exporter == nil || (e.replaying && pos <= e.lastExp) {
		return pos
	}
	if rtype == "" {
		rtype = "NULL_VAL"
	}
	e.recs = append(e.recs, Record{
		PartitionID: 1, Value: value, Key: key, Position: pos, Timestamp: e.now,
		ValueType: valueType, Intent: intent, RejectionType: rtype, RejectionReason: reason,
		RecordVersion: 1, Authorizations: defaultAuthorizations, SourceRecordPosition: source,
		BrokerVersion: Version, RecordType: recordType,
	})
	return pos
}

// command writes the record of the command being processed; the events that follow name it
// as their source.
func (e *Engine) command(valueType, intent string, key int64, value any) {
	e.source = e.record(Command, valueType, intent, key, value, -1, "", "")
}

func (e *Engine) event(valueType, intent string, key int64, value any) {
	e.record(Event, valueType, intent, key, value, e.source, "", "")
}

// rejected writes the rejection of the command being processed and returns the answer.
func (e *Engine) rejected(valueType, intent string, key int64, value any, typ, reason string) *Result {
	e.record(CommandRejection, valueType, intent, key, value, e.source, typ, reason)
	return reject(intent, typ, reason)
}

// model returns the parsed model of a definition, parsing the stored resource after a restart.
func (e *Engine) model(defKey int64) *bpmn.Definition {
	d := e.st.Definitions[defKey]
	if d == nil {
		return nil
	}
	if d.model == nil {
		defs, err := bpmn.Parse(d.ResourceName, d.Resource)
		if err != nil {
			panic(fmt.Sprintf("engine: stored resource %s no longer parses: %v", d.ResourceName, err))
		}
		for _, m := range defs {
			if m.ID == d.ProcessID {
				d.model = m
			}
		}
	}
	return d.model
}

func (e *Engine) elementOf(inst *ElementInstance) *bpmn.Element {
	m := e.model(inst.DefinitionKey)
	if inst.FlowScopeKey == -1 {
		return m.Root
	}
	return m.Elements[inst.ElementID]
}
