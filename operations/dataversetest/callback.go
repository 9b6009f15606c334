package dataversetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// CallbackAttempt is one POST of a completion callback.
type CallbackAttempt struct {
	SessionID  string    `json:"flowsessionid"`
	WorkflowID string    `json:"workflowid"`
	URL        string    `json:"url"`             // the callbackUrl without its query (which may hold a secret)
	Attempt    int       `json:"attempt"`         // 1 for the first try
	RunStatus  int       `json:"runStatus"`       // the statuscode reported
	Status     int       `json:"status"`          // HTTP status received; 0 on a transport error
	Error      string    `json:"error,omitempty"` // transport error
	Time       time.Time `json:"time"`
	Body       []byte    `json:"body,omitempty"` // the JSON body sent
}

// Callbacks returns the callback attempts made so far, oldest first.
func (e *Emulator) Callbacks() []CallbackAttempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]CallbackAttempt(nil), e.callbacks...)
}

type callbackJob struct {
	url, sessionID, workflowID string
	runStatus                  int
	body                       []byte
}

// notifyLocked returns the callback a run that has just ended owes, once.
// It registers the delivery with the wait group, so Close waits for it.
func (e *Emulator) notifyLocked(s *session) *callbackJob {
	if s.CallbackURL == "" || s.notified || !Terminal(s.StatusCode) || e.closed {
		return nil
	}
	s.notified = true
	body, _ := json.Marshal(orderedObject{
		{"statuscode", s.StatusCode},
		{"statecode", s.StateCode},
		{"startedon", odataTime(s.StartedOn)},
		{"completedon", odataTime(s.CompletedOn)},
		{"flowsessionid", s.ID},
	})
	e.wg.Add(1)
	return &callbackJob{url: s.CallbackURL, sessionID: s.ID, workflowID: s.WorkflowID, runStatus: s.StatusCode, body: body}
}

// deliver sends a callback in the background: one try and up to
// DefaultCallbackRetries retries on 5xx, 408 or a transport error.
func (e *Emulator) deliver(job *callbackJob) {
	if job == nil {
		return
	}
	go func() {
		defer e.wg.Done()
		for attempt := 1; attempt <= 1+DefaultCallbackRetries; attempt++ {
			if !e.sendCallback(job, attempt) {
				return
			}
			if attempt == 1+DefaultCallbackRetries {
				return
			}
			t := time.NewTimer(e.opts.CallbackRetryInterval)
			select {
			case <-t.C:
			case <-e.ctx.Done():
				t.Stop()
				return
			}
		}
	}()
}

// sendCallback makes one attempt and reports whether it should be retried.
func (e *Emulator) sendCallback(job *callbackJob, attempt int) (retry bool) {
	start := time.Now()
	a := CallbackAttempt{SessionID: job.sessionID, WorkflowID: job.workflowID, URL: redactQuery(job.url), Attempt: attempt, RunStatus: job.runStatus, Time: start, Body: job.body}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, job.url, bytes.NewReader(job.body))
	if err == nil {
		req.Header.Set("User-Agent", "EnterpriseConnectors/1.0")
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("x-ms-workflow-id", job.workflowID)
		req.Header.Set("x-ms-run-id", job.sessionID)
		var resp *http.Response
		resp, err = e.opts.CallbackClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			a.Status = resp.StatusCode
		}
	}
	if err != nil {
		a.Error = err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			a.Error = ue.Op + " " + redactQuery(job.url) + ": " + ue.Err.Error()
		}
	}
	path := ""
	if u, perr := url.Parse(job.url); perr == nil {
		path = u.Path
	}
	e.mu.Lock()
	e.callbacks = append(e.callbacks, a)
	e.addCallLocked(Call{Op: OpCallback, Method: http.MethodPost, Path: path, Status: a.Status, Time: start, Duration: time.Since(start)})
	e.mu.Unlock()
	e.opts.Logger.Info().Str("operation", OpCallback).Int("attempt", attempt).Str("path", path).Int("status", a.Status).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("callback")
	if e.ctx.Err() != nil {
		return false
	}
	return err != nil || a.Status >= 500 || a.Status == http.StatusRequestTimeout
}

// redactQuery drops the query and fragment of a URL.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
