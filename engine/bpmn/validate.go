package bpmn

import (
	"regexp"

	"github.com/pa-connector/pa-connector/expr"
)

// validate checks the rules that need the linked model: start events per scope, flows at each
// kind of node, the exclusive gateways' conditions and the catch events of each activity.
func (b *builder) validate(p *process) {
	b.validateScope(p.def.Root)
	for _, f := range p.links {
		if f.Condition != "" && f.Source.Type != ExclusiveGateway {
			b.problem(f.ID, "Conditional sequence flows are only supported at exclusive or inclusive gateway")
		}
	}
}

func (b *builder) validateScope(scope *Element) {
	nones, starts := 0, 0
	for _, e := range scope.Children {
		if e.Type == StartEvent {
			starts++
			switch e.EventType {
			case NoneEvent:
				nones++
				if scope.NoneStart == nil {
					scope.NoneStart = e
				}
			case MessageEvt:
				scope.MessageStarts = append(scope.MessageStarts, e)
			}
		}
		b.validateNode(e)
		if e.Type == SubProcess {
			b.validateScope(e)
		}
	}
	switch {
	case scope.Type == Process && starts == 0:
		b.problem(scope.ID, "Must have at least one start event")
	case scope.Type == Process && nones > 1:
		b.problem(scope.ID, "Multiple none start events are not allowed")
	case scope.Type == SubProcess && (nones != 1 || starts != 1):
		b.problem(scope.ID, "Must have exactly one none start event")
	}
}

func (b *builder) validateNode(e *Element) {
	switch e.Type {
	case StartEvent:
		if len(e.Incoming) > 0 {
			b.problem(e.ID, "Start events must not have incoming sequence flows")
		}
	case EndEvent:
		if len(e.Outgoing) > 0 {
			b.problem(e.ID, "End events must not have outgoing sequence flows")
		}
	case BoundaryEvent:
		if len(e.Incoming) > 0 {
			b.problem(e.ID, "Boundary events must not have incoming sequence flows")
		}
		if len(e.Outgoing) == 0 {
			b.problem(e.ID, "Must have at least one outgoing sequence flow")
		}
	case ExclusiveGateway:
		if len(e.Outgoing) > 1 {
			for _, f := range e.Outgoing {
				if f.Condition == "" && f != e.Default {
					b.problem(e.ID, "Must have a condition or be default flow")
					break
				}
			}
		}
	}
	b.validateBoundaries(e)
}

// validateBoundaries checks that an activity's catch events can be told apart.
func (b *builder) validateBoundaries(a *Element) {
	codes, names := map[string]bool{}, map[string]bool{}
	catchAll := 0
	for _, be := range a.Boundaries {
		switch be.EventType {
		case ErrorEvent:
			if be.CatchAll {
				catchAll++
				continue
			}
			if codes[be.ErrorCode] {
				b.problem(a.ID, "Multiple error catch events with the same error code '%s' are not supported on the same scope.", be.ErrorCode)
			}
			codes[be.ErrorCode] = true
		case MessageEvt:
			if be.MessageName != "" && names[be.MessageName] {
				b.problem(a.ID, "Multiple message event definitions with the same name '%s' are not allowed.", be.MessageName)
			}
			names[be.MessageName] = true
		}
	}
	if catchAll > 1 {
		b.problem(a.ID, "The same scope can not contain more than one error catch event without error code.")
	}
}

// expression checks a raw attribute: a static value where an expression is required is an
// error; an expression ("=...") must compile.
func (b *builder) expression(element, raw string, mustBeExpression bool) {
	if !IsFEEL(raw) {
		if mustBeExpression {
			b.problem(element, "Expected expression but found static value '%s'. An expression must start with '=' (e.g. '=%s').", raw, raw)
		}
		return
	}
	err, done := b.compiled[raw]
	if !done {
		_, err = expr.Compile(raw)
		b.compiled[raw] = err
	}
	if err != nil {
		b.problem(element, "Invalid FEEL expression '%s': %v", raw, err)
	}
}

// targetPattern is what a mapping target must match: a variable name or a path into it.
const targetPattern = `[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)*`

var targetRE = regexp.MustCompile(`^` + targetPattern + `$`)

// target checks a mapping target.
func (b *builder) target(element, t string) {
	switch {
	case t == "":
		b.problem(element, "Attribute 'target' must be present and not empty")
	case !targetRE.MatchString(t):
		b.problem(element, "Expected path expression '%s' but doesn't match the pattern '%s'.", t, targetPattern)
	}
}
