package dataversetest

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"
)

// maxCalls is how many calls Calls keeps (the oldest are dropped); Count
// counts all of them.
const maxCalls = 10000

// Call is one request the emulator answered (or one callback it sent). It
// holds no header values, no query string and no body.
type Call struct {
	Op       string        `json:"op"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Status   int           `json:"status"` // 0 when the connection was reset
	Time     time.Time     `json:"time"`   // when the request arrived (wall clock)
	Duration time.Duration `json:"durationNs"`
	Caller   string        `json:"caller,omitempty"` // client id or static-token-N; never a secret
}

// Calls returns the recorded calls, oldest first.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// Count returns how many calls of operation op were recorded since the last
// Reset ("" counts all).
func (e *Emulator) Count(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range e.counts {
			n += c
		}
		return n
	}
	return e.counts[op]
}

// InFlight returns the number of Dataverse requests being handled now.
func (e *Emulator) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, u := range e.usage {
		n += u.inflight
	}
	return n
}

func (e *Emulator) addCallLocked(c Call) {
	e.counts[c.Op]++
	if len(e.calls) >= maxCalls {
		e.calls = append(e.calls[:0], e.calls[len(e.calls)-maxCalls+1:]...)
	}
	e.calls = append(e.calls, c)
}

func (e *Emulator) record(r *http.Request, op, caller string, rec *recorder, start time.Time) {
	c := Call{Op: op, Method: r.Method, Path: r.URL.Path, Status: rec.status, Time: start, Duration: time.Since(start), Caller: caller}
	if !rec.hijacked && c.Status == 0 {
		c.Status = http.StatusOK
	}
	e.mu.Lock()
	e.addCallLocked(c)
	e.mu.Unlock()
	e.opts.Logger.Info().Str("operation", c.Op).Str("method", c.Method).Str("path", c.Path).Int("status", c.Status).
		Int64("duration_ms", c.Duration.Milliseconds()).Str("caller", c.Caller).Msg("request")
}

// recorder remembers the status an answer got.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack takes the connection over, for the reset fault.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	r.hijacked = true
	return h.Hijack()
}
