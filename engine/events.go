package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// chooseFlow picks an exclusive gateway's outgoing flow: the first whose condition is true, in
// document order, else the default. A non-boolean condition or no flow at all is an incident.
func (e *Engine) chooseFlow(inst *ElementInstance, el *bpmn.Element) (*bpmn.Flow, bool) {
	if len(el.Outgoing) == 1 && el.Outgoing[0].Condition == "" {
		return el.Outgoing[0], true
	}
	var env map[string]any
	for _, f := range el.Outgoing {
		if f == el.Default || f.Condition == "" {
			continue
		}
		if env == nil {
			env = e.env(inst)
		}
		v, err := e.value(f.Condition, env)
		if err != nil {
			e.incident(inst, "EXTRACT_VALUE_ERROR", err.Error(), -1, "activate")
			return nil, false
		}
		b, ok := v.(bool)
		if !ok {
			e.incident(inst, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be 'BOOLEAN', but was '%s'.", exprText(f.Condition), feelType(v)), -1, "activate")
			return nil, false
		}
		if b {
			return f, true
		}
	}
	if el.Default != nil {
		return el.Default, true
	}
	if len(el.Outgoing) == 0 {
		return nil, true
	}
	e.incident(inst, "CONDITION_ERROR", "Expected at least one condition to evaluate to true, or to have a default flow", -1, "activate")
	return nil, false
}

// Timers.

var (
	isoDuration = regexp.MustCompile(`^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)
	isoCycle    = regexp.MustCompile(`^R(\d*)/(.+)$`)
)

// addDuration adds an ISO-8601 duration (PnYnMnWnDTnHnMnS) to t.
func addDuration(t time.Time, s string) (time.Time, bool) {
	m := isoDuration.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return t, false
	}
	if m[2]+m[3]+m[4]+m[5]+m[6]+m[7]+m[8] == "" {
		return t, false
	}
	n := func(i int) int {
		v, _ := strconv.Atoi(m[i])
		return v
	}
	sign := 1
	if m[1] == "-" {
		sign = -1
	}
	t = t.AddDate(sign*n(2), sign*n(3), sign*(7*n(4)+n(5)))
	secs, _ := strconv.ParseFloat(orZero(m[8]), 64)
	d := time.Duration(n(6))*time.Hour + time.Duration(n(7))*time.Minute + time.Duration(secs*float64(time.Second))
	return t.Add(time.Duration(sign) * d), true
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// parseDate reads an ISO-8601 date-time with an offset, optionally followed by a zone id.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
		zone := s[i+1 : len(s)-1]
		s = s[:i]
		if loc, err := time.LoadLocation(zone); err == nil {
			if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, loc); err == nil {
				return t, true
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// openTimer evaluates a timer event definition of ev (owner: the catch event, or the activity
// of a boundary timer) and schedules it.
func (e *Engine) openTimer(owner *ElementInstance, ev *bpmn.Element) bool {
	now := time.UnixMilli(e.now).UTC()
	raw, kind := ev.TimeDuration, "duration"
	switch {
	case ev.TimeDate != "":
		raw, kind = ev.TimeDate, "date"
	case ev.TimeCycle != "":
		raw, kind = ev.TimeCycle, "cycle"
	}
	v, err := e.value(raw, e.env(owner))
	if err != nil {
		e.incident(owner, "EXTRACT_VALUE_ERROR", err.Error(), -1, "activate")
		return false
	}
	s, ok := v.(string)
	if !ok {
		e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be one of '[DURATION, PERIOD, STRING]', but was '%s'.", exprText(raw), feelType(v)), -1, "activate")
		return false
	}
	t := &Timer{ElementInstanceKey: owner.Key, ProcessInstanceKey: owner.ProcessInstanceKey, DefinitionKey: owner.DefinitionKey,
		TargetElementID: ev.ID, Repetitions: 1}
	var due time.Time
	switch kind {
	case "duration":
		due, ok = addDuration(now, s)
		if !ok {
			e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Invalid duration format '%s' for expression '%s'.", s, exprText(raw)), -1, "activate")
			return false
		}
	case "date":
		due, ok = parseDate(s)
		if !ok {
			e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Invalid date-time format '%s' for expression '%s'.", s, exprText(raw)), -1, "activate")
			return false
		}
	case "cycle":
		m := isoCycle.FindStringSubmatch(strings.TrimSpace(s))
		if m != nil {
			due, ok = addDuration(now, m[2])
		}
		if m == nil || !ok || !due.After(now) {
			e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Invalid cycle format '%s' for expression '%s'.", s, exprText(raw)), -1, "activate")
			return false
		}
		t.Repetitions = -1
		if m[1] != "" {
			r, _ := strconv.Atoi(m[1])
			t.Repetitions = int32(r)
		}
		t.Interval = due.UnixMilli() - e.now
	}
	t.Key = e.st.key()
	t.DueDate = due.UnixMilli()
	e.st.Timers[t.Key] = t
	owner.Timers = append(owner.Timers, t.Key)
	e.event("TIMER", "CREATED", t.Key, e.timerValue(t))
	return true
}

func (e *Engine) timerValue(t *Timer) timerValue {
	return timerValue{ElementInstanceKey: t.ElementInstanceKey, ProcessInstanceKey: t.ProcessInstanceKey,
		ProcessDefinitionKey: t.DefinitionKey, DueDate: t.DueDate, TargetElementID: t.TargetElementID,
		Repetitions: t.Repetitions, TenantID: DefaultTenant}
}

func (e *Engine) triggerTimer(c *Cmd) *Result {
	t := e.st.Timers[c.Key]
	if t == nil {
		e.command("TIMER", "TRIGGER", c.Key, timerValue{TenantID: DefaultTenant})
		return e.rejected("TIMER", "TRIGGER", c.Key, timerValue{TenantID: DefaultTenant}, RejectNotFound,
			fmt.Sprintf("Expected to trigger timer with key '%d', but no such timer was found", c.Key))
	}
	e.command("TIMER", "TRIGGER", t.Key, e.timerValue(t))
	owner := e.st.Elements[t.ElementInstanceKey]
	e.event("TIMER", "TRIGGERED", t.Key, e.timerValue(t))
	delete(e.st.Timers, t.Key)
	if owner == nil {
		return &Result{}
	}
	removeKey(&owner.Timers, t.Key)
	el := e.model(owner.DefinitionKey).Elements[t.TargetElementID]
	if el.Type == bpmn.BoundaryEvent {
		if !el.CancelActivity && t.Repetitions != 1 {
			n := &Timer{Key: e.st.key(), ElementInstanceKey: t.ElementInstanceKey, ProcessInstanceKey: t.ProcessInstanceKey,
				DefinitionKey: t.DefinitionKey, DueDate: e.now + t.Interval, TargetElementID: t.TargetElementID,
				Repetitions: t.Repetitions - 1, Interval: t.Interval}
			if t.Repetitions < 0 {
				n.Repetitions = -1
			}
			e.st.Timers[n.Key] = n
			owner.Timers = append(owner.Timers, n.Key)
			e.event("TIMER", "CREATED", n.Key, e.timerValue(n))
		}
		e.fireBoundary(owner, el, nil)
	} else if owner.State == Activated {
		e.complete(owner)
	}
	return &Result{}
}

func removeKey(keys *[]int64, k int64) {
	for i, x := range *keys {
		if x == k {
			*keys = append((*keys)[:i], (*keys)[i+1:]...)
			return
		}
	}
}

// openBoundaryEvents schedules an activity's boundary timers and message subscriptions.
func (e *Engine) openBoundaryEvents(inst *ElementInstance, el *bpmn.Element) bool {
	for _, b := range el.Boundaries {
		switch b.EventType {
		case bpmn.TimerEvent:
			if !e.openTimer(inst, b) {
				return false
			}
		case bpmn.MessageEvt:
			if !e.openSubscription(inst, b) {
				return false
			}
		}
	}
	return true
}

// closeEvents cancels the timers and subscriptions an element instance owns.
func (e *Engine) closeEvents(inst *ElementInstance) {
	for _, k := range inst.Timers {
		if t := e.st.Timers[k]; t != nil {
			delete(e.st.Timers, k)
			e.event("TIMER", "CANCELED", k, e.timerValue(t))
		}
	}
	inst.Timers = nil
	for _, k := range inst.Subs {
		if s := e.st.Subs[k]; s != nil {
			delete(e.st.Subs, k)
			e.event("PROCESS_MESSAGE_SUBSCRIPTION", "DELETED", k, e.subValue(s, -1, nil))
		}
	}
	inst.Subs = nil
}

// fireBoundary runs a boundary event of activity: an interrupting one terminates the activity
// first. vars are the event's variables (message, error).
func (e *Engine) fireBoundary(activity *ElementInstance, b *bpmn.Element, vars []byte) {
	scope := e.scopeOf(activity)
	if scope == nil {
		return
	}
	if b.CancelActivity || b.EventType == bpmn.ErrorEvent {
		e.terminate(activity)
	}
	inst := &ElementInstance{Key: e.st.key(), ProcessInstanceKey: scope.ProcessInstanceKey, DefinitionKey: scope.DefinitionKey,
		ElementID: b.ID, FlowScopeKey: scope.Key}
	e.st.Elements[inst.Key] = inst
	scope.Tokens++
	scope.Children = append(scope.Children, inst.Key)
	e.transition(inst, b, Activating)
	e.transition(inst, b, Activated)
	e.completeWith(inst, b, vars)
}

// Messages.

func (e *Engine) subValue(s *Subscription, msgKey int64, vars []byte) messageSubscriptionValue {
	if vars == nil {
		vars = []byte("{}")
	}
	return messageSubscriptionValue{ProcessInstanceKey: s.ProcessInstanceKey, ElementInstanceKey: s.ElementInstanceKey,
		BpmnProcessID: s.ProcessID, MessageName: s.MessageName, CorrelationKey: s.CorrelationKey, MessageKey: msgKey,
		Interrupting: s.Interrupting, Variables: vars, ElementID: s.ElementID, TenantID: DefaultTenant}
}

// openSubscription evaluates ev's message name and correlation key in owner's scope and
// subscribes owner (the catch element, or the activity of a boundary event).
func (e *Engine) openSubscription(owner *ElementInstance, ev *bpmn.Element) bool {
	env := e.env(owner)
	name, err := e.value(ev.MessageName, env)
	if err != nil {
		e.incident(owner, "EXTRACT_VALUE_ERROR", err.Error(), -1, "activate")
		return false
	}
	ns, ok := name.(string)
	if !ok {
		e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be 'STRING', but was '%s'.", exprText(ev.MessageName), feelType(name)), -1, "activate")
		return false
	}
	key, err := e.value(ev.CorrelationKey, env)
	if err != nil {
		e.incident(owner, "EXTRACT_VALUE_ERROR", err.Error(), -1, "activate")
		return false
	}
	var corr string
	switch k := key.(type) {
	case string:
		corr = k
	case int64, float64, json.Number:
		corr = numberString(k)
	default:
		e.incident(owner, "EXTRACT_VALUE_ERROR", e.mismatch("Failed to extract the correlation key for '%s': The value must be either a string or a number, but was '%s'.", exprText(ev.CorrelationKey), feelType(key)), -1, "activate")
		return false
	}
	def := e.st.Definitions[owner.DefinitionKey]
	s := &Subscription{Key: e.st.key(), ElementInstanceKey: owner.Key, ProcessInstanceKey: owner.ProcessInstanceKey,
		ProcessID: def.ProcessID, ElementID: ev.ID, MessageName: ns, CorrelationKey: corr,
		Interrupting: ev.Type != bpmn.BoundaryEvent || ev.CancelActivity}
	e.st.Subs[s.Key] = s
	owner.Subs = append(owner.Subs, s.Key)
	e.event("PROCESS_MESSAGE_SUBSCRIPTION", "CREATED", s.Key, e.subValue(s, -1, nil))
	e.event("MESSAGE_SUBSCRIPTION", "CREATED", s.Key, e.subValue(s, -1, nil))
	return true
}

// correlateBuffered correlates, for each subscription of owner, the oldest buffered message
// that matches and was not yet correlated to this process.
func (e *Engine) correlateBuffered(owner *ElementInstance) {
	for _, sk := range append([]int64(nil), owner.Subs...) {
		s := e.st.Subs[sk]
		if s == nil || e.st.Elements[owner.Key] != owner {
			continue
		}
		for _, mk := range sortedKeys(e.st.Messages) {
			m := e.st.Messages[mk]
			if m.Name == s.MessageName && m.CorrelationKey == s.CorrelationKey && m.Deadline > e.now && !contains(m.Correlated, s.ProcessID) {
				e.correlate(s, m)
				break
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *Engine) msgValue(m *Message) messageValue {
	return messageValue{Name: m.Name, CorrelationKey: m.CorrelationKey, MessageID: m.MessageID, TimeToLive: m.TimeToLive,
		Deadline: m.Deadline, Variables: orObject([]byte(m.Variables)), TenantID: DefaultTenant}
}

// correlate hands message m to subscription s: the catch element completes, or the boundary
// event fires.
func (e *Engine) correlate(s *Subscription, m *Message) {
	m.Correlated = append(m.Correlated, s.ProcessID)
	vars := orObject([]byte(m.Variables))
	e.event("MESSAGE_SUBSCRIPTION", "CORRELATED", s.Key, e.subValue(s, m.Key, vars))
	e.event("PROCESS_MESSAGE_SUBSCRIPTION", "CORRELATED", s.Key, e.subValue(s, m.Key, vars))
	owner := e.st.Elements[s.ElementInstanceKey]
	if owner == nil {
		return
	}
	el := e.model(owner.DefinitionKey).Elements[s.ElementID]
	if el.Type == bpmn.BoundaryEvent {
		if s.Interrupting {
			delete(e.st.Subs, s.Key)
			removeKey(&owner.Subs, s.Key)
		}
		e.fireBoundary(owner, el, vars)
		return
	}
	delete(e.st.Subs, s.Key)
	removeKey(&owner.Subs, s.Key)
	if owner.State == Activated {
		e.completeWith(owner, el, vars)
	}
}

func (e *Engine) publish(c *Cmd) *Result {
	m := &Message{Name: c.Name, CorrelationKey: c.Corr, MessageID: c.ID, TimeToLive: c.TTL, Deadline: e.now + c.TTL,
		Variables: string(orObject(c.Variables))}
	e.command("MESSAGE", "PUBLISH", -1, e.msgValue(m))
	if c.ID != "" {
		for _, k := range sortedKeys(e.st.Messages) {
			o := e.st.Messages[k]
			if o.Name == m.Name && o.CorrelationKey == m.CorrelationKey && o.MessageID == m.MessageID {
				return e.rejected("MESSAGE", "PUBLISH", -1, e.msgValue(m), RejectAlreadyExists,
					fmt.Sprintf("Expected to publish a new message with id '%s', but a message with that id was already published", c.ID))
			}
		}
	}
	m.Key = e.st.key()
	e.event("MESSAGE", "PUBLISHED", m.Key, e.msgValue(m))
	for _, sk := range sortedKeys(e.st.Subs) {
		s := e.st.Subs[sk]
		if s != nil && s.MessageName == m.Name && s.CorrelationKey == m.CorrelationKey && !contains(m.Correlated, s.ProcessID) {
			e.correlate(s, m)
		}
	}
	e.startByMessage(m)
	if c.TTL <= 0 {
		e.event("MESSAGE", "EXPIRED", m.Key, e.msgValue(m))
	} else {
		e.st.Messages[m.Key] = m
	}
	return &Result{Key: m.Key}
}

// startByMessage starts an instance of each latest process with a message start event of the
// message's name, unless one started by a message with the same correlation key is active.
func (e *Engine) startByMessage(m *Message) {
	for _, id := range sortedNames(e.st.Latest) {
		if contains(m.Correlated, id) {
			continue
		}
		def := e.st.Definitions[e.st.Latest[id]]
		model := e.model(def.Key)
		for _, start := range model.Root.MessageStarts {
			if start.MessageName != m.Name {
				continue
			}
			if m.CorrelationKey != "" && e.activeByMessage(def.ProcessID, m.CorrelationKey) {
				break
			}
			m.Correlated = append(m.Correlated, id)
			pi := e.newProcessInstance(def)
			corr := m.CorrelationKey
			pi.StartedByMessage = &corr
			e.transition(pi, model.Root, Activating)
			e.setDocument(pi, orObject([]byte(m.Variables)), true)
			e.transition(pi, model.Root, Activated)
			e.activate(pi, start, nil)
			break
		}
	}
}

func (e *Engine) activeByMessage(processID, corr string) bool {
	for _, k := range sortedKeys(e.st.Elements) {
		el := e.st.Elements[k]
		if el.FlowScopeKey == -1 && el.StartedByMessage != nil && *el.StartedByMessage == corr && e.st.Definitions[el.DefinitionKey].ProcessID == processID {
			return true
		}
	}
	return false
}

func (e *Engine) expireMessage(c *Cmd) *Result {
	m := e.st.Messages[c.Key]
	if m == nil {
		return &Result{}
	}
	e.command("MESSAGE", "EXPIRE", m.Key, e.msgValue(m))
	delete(e.st.Messages, m.Key)
	e.event("MESSAGE", "EXPIRED", m.Key, e.msgValue(m))
	return &Result{}
}
