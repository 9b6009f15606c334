package dataversetest

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// startRun stores a new run and schedules its completion.
func (e *Emulator) startRun(s *session) {
	now := e.now()
	e.mu.Lock()
	s.Version = e.nextVersionLocked()
	e.sessions[s.ID] = s
	s.advance(now, e.nextVersionLocked)
	job := e.notifyLocked(s)
	if job == nil {
		e.scheduleLocked(s, now)
	}
	e.mu.Unlock()
	e.deliver(job)
}

// scheduleLocked (re)sets the timer that ends run s, so its callback goes out
// without anyone reading it.
func (e *Emulator) scheduleLocked(s *session, now time.Time) {
	if t := e.timers[s.ID]; t != nil {
		t.Stop()
		delete(e.timers, s.ID)
	}
	if Terminal(s.StatusCode) || e.closed {
		return
	}
	id := s.ID
	e.timers[id] = time.AfterFunc(s.deadline().Sub(now), func() {
		e.mu.Lock()
		delete(e.timers, id)
		e.mu.Unlock()
		e.Tick()
	})
}

// deadline is the clock time at which a run reaches its final status.
func (s *session) deadline() time.Time {
	if s.cancelAt != nil && (s.pinned || s.cancelAt.Before(s.naturalEnd())) {
		return *s.cancelAt
	}
	return s.naturalEnd()
}

// naturalEnd is when a run that is not cancelled ends.
func (s *session) naturalEnd() time.Time {
	if s.flow.QueueDelay >= NoCandidateMachineAfter {
		return s.CreatedOn.Add(NoCandidateMachineAfter)
	}
	run := s.flow.Duration
	if limit := time.Duration(s.Timeout) * time.Second; run > limit {
		run = limit
	}
	return s.CreatedOn.Add(s.flow.QueueDelay + run)
}

// Tick brings every run up to the emulator's clock and sends the callbacks
// of runs that have just ended. Timers call it; tests that move a fake
// Options.Clock call it after moving the clock (reads of a run also catch it up).
func (e *Emulator) Tick() {
	now := e.now()
	var jobs []*callbackJob
	e.mu.Lock()
	for _, s := range e.sessions {
		s.advance(now, e.nextVersionLocked)
		if job := e.notifyLocked(s); job != nil {
			jobs = append(jobs, job)
		}
		if t := e.timers[s.ID]; t != nil && Terminal(s.StatusCode) {
			t.Stop()
			delete(e.timers, s.ID)
		}
	}
	e.mu.Unlock()
	for _, j := range jobs {
		e.deliver(j)
	}
}

// withSession catches the run id up with the clock and runs fn on it under
// the lock; it reports whether the run exists.
func (e *Emulator) withSession(id string, fn func(s *session)) bool {
	now := e.now()
	e.mu.Lock()
	s, ok := e.sessions[id]
	var job *callbackJob
	if ok {
		s.advance(now, e.nextVersionLocked)
		if fn != nil {
			fn(s)
		}
		job = e.notifyLocked(s)
		if Terminal(s.StatusCode) {
			if t := e.timers[id]; t != nil {
				t.Stop()
				delete(e.timers, id)
			}
		}
	}
	e.mu.Unlock()
	e.deliver(job)
	return ok
}

// Session returns a snapshot of run id's flowsession row. Its Inputs map is
// shared with the emulator: read it, do not change it.
func (e *Emulator) Session(id string) (FlowSession, bool) {
	var f FlowSession
	ok := e.withSession(normalizeID(id), func(s *session) { f = s.FlowSession })
	return f, ok
}

// Sessions returns snapshots of all runs.
func (e *Emulator) Sessions() []FlowSession {
	e.Tick()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]FlowSession, 0, len(e.sessions))
	for _, k := range sortedKeys(e.sessions) {
		out = append(out, e.sessions[k].FlowSession)
	}
	return out
}

// SetStatus forces run id into statuscode and keeps it there: the clock no
// longer moves it. A final status sets completedon (and startedon if unset),
// fills errorcode for failures, makes outputs for 4 Succeeded and sends the
// callback.
func (e *Emulator) SetStatus(id string, statuscode int) error {
	if statuscode < StatusNotSpecified || statuscode > StatusTerminated {
		return fmt.Errorf("statuscode %d is not a flowsession status (0-14)", statuscode)
	}
	now := e.now()
	ok := e.withSession(normalizeID(id), func(s *session) {
		s.pinned = true
		s.StatusCode = statuscode
		s.StateCode = stateOf(statuscode)
		s.ModifiedOn = now
		s.Version = e.nextVersionLocked()
		if statuscode == StatusRunning && s.StartedOn == nil {
			s.StartedOn = ptr(now)
		}
		if !Terminal(statuscode) {
			s.CompletedOn = nil
			return
		}
		if s.StartedOn == nil && statuscode != StatusCancelled {
			s.StartedOn = ptr(now)
		}
		code, msg := s.flow.ErrorCode, s.flow.ErrorMessage
		if code == "" {
			code, msg = defaultError(statuscode)
		}
		s.ErrorCode, s.ErrorMessage, s.Outputs = "", "", nil
		s.finish(now, statuscode, code, msg, e.nextVersionLocked)
	})
	if !ok {
		return errors.New("no flowsession " + id)
	}
	return nil
}

// cancelLocked accepts a cancel of run s: a Waiting or Running run becomes
// Cancelled (7) CancelDelay later (at once when it is negative), unless it
// ends on its own first; a second cancel changes nothing. A finished run is
// left as it is, or the cancel refused with RefuseCancelOfFinishedRun.
func (e *Emulator) cancelLocked(s *session, now time.Time) *odataError {
	if Terminal(s.StatusCode) {
		if e.opts.RefuseCancelOfFinishedRun {
			return newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("The desktop flow run %s has already ended (statuscode %d) and cannot be cancelled.", s.ID, s.StatusCode))
		}
		return nil
	}
	if s.cancelAt != nil {
		return nil
	}
	at := now.Add(max(e.opts.CancelDelay, 0))
	s.cancelAt = &at
	s.advance(now, e.nextVersionLocked)
	if !Terminal(s.StatusCode) {
		e.scheduleLocked(s, now)
	}
	return nil
}

func normalizeID(id string) string {
	if g, ok := parseGUID(id); ok {
		return g
	}
	return id
}

// newSession builds the row of a new run.
func newSession(id, workflowID string, flow Flow, req runRequest, inputs map[string]any, caller string, now time.Time) *session {
	name := flow.Name
	if name == "" {
		name = "Desktop flow " + workflowID[:8]
	}
	s := &session{flow: flow, FlowSession: FlowSession{
		ID: id, WorkflowID: workflowID, Name: name,
		StatusCode: StatusWaiting, CreatedOn: now, ModifiedOn: now,
		RunMode: req.RunMode, RunPriority: "normal", ConnectionName: req.ConnectionName,
		ConnectionType: 1, Timeout: DefaultRunTimeout, Inputs: maps.Clone(inputs),
		CorrelationID: newGUID(), Caller: caller,
	}}
	if req.RunPriority != nil && *req.RunPriority != "" {
		s.RunPriority = *req.RunPriority
	}
	if req.ConnectionType != nil {
		s.ConnectionType = int(*req.ConnectionType)
	}
	if req.Timeout != nil {
		s.Timeout = int(*req.Timeout)
	}
	if req.CallbackURL != nil {
		s.CallbackURL = *req.CallbackURL
	}
	return s
}
