package connector

import (
	"errors"
	"fmt"
	"time"
)

// The outcomes a handler can ask for besides success. They are matched with errors.As in the
// adapter only; any other error fails the job with one retry fewer and no backoff.

// PermanentError fails the job with no retries left: an incident at once. Used for input that no
// retry can fix (bad variables, a missing secret, a refused host, an expression error, 4xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the job fails with retries 0.
func Permanent(err error) error { return &PermanentError{Err: err} }

// Permanentf is Permanent(fmt.Errorf(...)).
func Permanentf(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}

// RetryError fails the job to be retried after Backoff. KeepRetries leaves the retry count as it
// is: a throttled call (429) or a job handed back at shutdown is no fault of the job's.
type RetryError struct {
	Err         error
	Backoff     time.Duration
	KeepRetries bool
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// BPMNError throws a BPMN error that a boundary event can catch.
type BPMNError struct {
	Code      string
	Message   string
	Variables map[string]any
}

func (e *BPMNError) Error() string { return fmt.Sprintf("BPMN error %s: %s", e.Code, e.Message) }

// JobError fails the job with the retries and backoff an error expression chose (jobError()).
type JobError struct {
	Message   string
	Variables map[string]any
	Retries   int
	Backoff   time.Duration
}

func (e *JobError) Error() string { return e.Message }

// Decision is how the adapter answers the gateway for a handler's error.
type Decision struct {
	Kind      string // "fail" or "bpmn-error"
	Retries   int32
	Backoff   time.Duration
	Message   string
	Code      string
	Variables map[string]any
}

// Decide maps a handler error to the command to send, given the job's current retries.
func Decide(err error, retries int32) Decision {
	var (
		perm  *PermanentError
		retry *RetryError
		bpmn  *BPMNError
		jobE  *JobError
	)
	switch {
	case errors.As(err, &bpmn):
		return Decision{Kind: "bpmn-error", Code: bpmn.Code, Message: bpmn.Message, Variables: bpmn.Variables}
	case errors.As(err, &jobE):
		return Decision{Kind: "fail", Retries: int32(max(jobE.Retries, 0)), Backoff: jobE.Backoff, Message: jobE.Message, Variables: jobE.Variables}
	case errors.As(err, &perm):
		return Decision{Kind: "fail", Retries: 0, Message: err.Error()}
	case errors.As(err, &retry):
		r := retries
		if !retry.KeepRetries {
			r = max(retries-1, 0)
		}
		return Decision{Kind: "fail", Retries: r, Backoff: retry.Backoff, Message: err.Error()}
	default:
		return Decision{Kind: "fail", Retries: max(retries-1, 0), Message: err.Error()}
	}
}
