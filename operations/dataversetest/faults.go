package dataversetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Fault makes the next Count matching requests misbehave, for reliability
// tests. Faults apply in the order they were injected; one request consumes
// at most one fault. On Dataverse paths a fault applies after authentication
// and the service-protection limits, so a delayed request holds its
// concurrency slot.
type Fault struct {
	// Op limits the fault to one operation (OpRunDesktopFlow, OpToken, ...); "" matches any.
	Op string `json:"op,omitempty"`
	// Count is how many requests get the fault; default 1.
	Count int `json:"count,omitempty"`
	// Delay is waited before answering (or before the Status / Reset).
	Delay time.Duration `json:"-"`
	// Status, when not 0, is answered instead of the real answer, with an
	// OData error body (an Entra error body on the token endpoint).
	Status int `json:"status,omitempty"`
	// Code and Message fill the error body; defaults depend on Status
	// (429: the requests limit, 5xx: 0x80040216 "An unexpected error occurred.").
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// RetryAfter, in whole seconds, is sent as Retry-After when not 0.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Reset closes the connection without an answer (after Delay).
	Reset bool `json:"reset,omitempty"`
}

// UnmarshalJSON reads a Fault whose delay is a duration string such as "250ms".
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	var w struct {
		plain
		Delay string `json:"delay,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	*f = Fault(w.plain)
	if w.Delay != "" {
		d, err := time.ParseDuration(w.Delay)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		f.Delay = d
	}
	return nil
}

// MarshalJSON writes Delay as a duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	w := struct {
		plain
		Delay string `json:"delay,omitempty"`
	}{plain: plain(f)}
	if f.Delay > 0 {
		w.Delay = f.Delay.String()
	}
	return json.Marshal(w)
}

// Inject queues a fault.
func (e *Emulator) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
}

// Faults returns the faults not used up yet.
func (e *Emulator) Faults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Fault, 0, len(e.faults))
	for _, f := range e.faults {
		out = append(out, *f)
	}
	return out
}

// takeFault consumes one use of the first fault matching op.
func (e *Emulator) takeFault(op string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		got := *f
		f.Count--
		if f.Count <= 0 {
			e.faults = append(e.faults[:i], e.faults[i+1:]...)
		}
		return got, true
	}
	return Fault{}, false
}

// applyFault runs a matching fault; it reports whether it answered.
func (e *Emulator) applyFault(w *recorder, r *http.Request, op string) bool {
	f, ok := e.takeFault(op)
	if !ok {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		case <-e.ctx.Done():
			t.Stop()
		}
	}
	switch {
	case f.Reset:
		if conn, _, err := w.Hijack(); err == nil {
			_ = conn.Close()
			return true
		}
		// Not hijackable (HTTP/2): abort the answer instead.
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
		}
		code, msg := f.Code, f.Message
		if op == OpToken {
			if code == "" {
				code = "temporarily_unavailable"
			}
			if msg == "" {
				msg = "AADSTS50196: The server terminated an operation because it encountered a client request loop or the service is temporarily unavailable."
			}
			writeAADError(w, f.Status, code, msg, nil)
			return true
		}
		if code == "" && msg == "" {
			code, msg = faultDefaults(f.Status, e.opts.Limits)
		}
		writeError(w, newError(f.Status, code, msg))
		return true
	}
	return false
}

func faultDefaults(status int, l Limits) (string, string) {
	switch {
	case status == http.StatusTooManyRequests:
		return CodeRequestsLimit, fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", l.Requests, int(l.Window.Seconds()))
	case status >= 500:
		return CodeUnexpected, "An unexpected error occurred."
	}
	return "", http.StatusText(status)
}
