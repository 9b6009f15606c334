package bpmn

import "strings"

// link resolves the sequence flows, the boundary attachments and the default flows of a process.
func (b *builder) link(p *process) {
	flowIDs := map[string]bool{}
	for _, rf := range p.flows {
		id := rf.n.attr("id")
		flowIDs[id] = true
		if id == "" {
			b.problem("sequenceFlow", "Attribute 'id' must be present and not empty")
			continue
		}
		b.register(id)
		f := &Flow{ID: id}
		if ce := rf.n.bpmnChildren("conditionExpression"); len(ce) > 0 {
			f.Condition = strings.TrimSpace(string(ce[0].text))
			if f.Condition != "" {
				b.expression(id, f.Condition, true)
			}
		}
		src, tgt := b.flowEnd(p, rf, id, "sourceRef"), b.flowEnd(p, rf, id, "targetRef")
		if src == nil || tgt == nil {
			continue
		}
		f.Source, f.Target = src, tgt
		p.def.Flows[id] = f
		p.links = append(p.links, f)
		src.Outgoing = append(src.Outgoing, f)
		tgt.Incoming = append(tgt.Incoming, f)
	}
	for _, r := range p.attached {
		b.attach(p, r.from, r.id)
	}
	for _, r := range p.defaults {
		f := p.def.Flows[r.id]
		switch {
		case f == nil:
			if !flowIDs[r.id] {
				b.problem(r.from.ID, "Attribute 'default' references an unknown sequence flow '%s'", r.id)
			}
		case f.Source != r.from:
			b.problem(r.from.ID, "Default flow must start at gateway")
		default:
			r.from.Default = f
		}
	}
}

// flowEnd resolves a flow's sourceRef or targetRef to a flow node of the flow's own scope.
func (b *builder) flowEnd(p *process, rf rawFlow, id, attr string) *Element {
	to := rf.n.attr(attr)
	if to == "" {
		b.problem(id, "Attribute '%s' must be present and not empty", attr)
		return nil
	}
	e := p.def.Elements[to]
	switch {
	case e == nil:
		if !b.unsupported[to] {
			b.problem(id, "Attribute '%s' references an unknown element '%s'", attr, to)
		}
		return nil
	case e.Type == Process:
		b.problem(id, "Attribute '%s' references the process '%s', which is not a flow node", attr, to)
		return nil
	case e.Parent != rf.scope:
		b.problem(id, "Attribute '%s' references '%s', which is not in the flow scope of the sequence flow", attr, to)
		return nil
	}
	return e
}

// attach links a boundary event to the activity it is attached to.
func (b *builder) attach(p *process, e *Element, to string) {
	if to == "" {
		b.problem(e.ID, "Must be attached to an activity")
		return
	}
	a := p.def.Elements[to]
	switch {
	case a == nil:
		if !b.unsupported[to] {
			b.problem(e.ID, "Attribute 'attachedToRef' references an unknown element '%s'", to)
		}
	case a.Type != ServiceTask && a.Type != ReceiveTask && a.Type != SubProcess:
		b.problem(e.ID, "Must be attached to an activity")
	case a.Parent != e.Parent:
		b.problem(e.ID, "Must be attached to an activity of the same flow scope")
	default:
		e.AttachedTo = a
		a.Boundaries = append(a.Boundaries, e)
	}
}
