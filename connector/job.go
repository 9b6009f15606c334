package connector

import (
	"context"
	"errors"
	"time"

	"github.com/pa-connector/pa-connector/secrets"
)

// Job is what a handler needs of an activated job, independent of the gateway client.
type Job struct {
	Key                int64
	Type               string
	Retries            int32
	Deadline           time.Time
	ProcessInstanceKey int64
	BpmnProcessID      string
	ElementID          string
	ElementInstanceKey int64
	Headers            map[string]string
	Variables          string // JSON object
	// Lease, when set, holds the job's current deadline and extends it; nil means Deadline is fixed.
	Lease Lease
	// SetLocal, when set, records variables on the job's element instance (local scope), where
	// a redelivered job finds them.
	SetLocal func(ctx context.Context, vars map[string]any) error
	// Waiting, when set, is called once when the job stops working and starts waiting for a
	// run (runFlowAndWait after its trigger): the adapter moves it from a
	// PA_CONNECTOR_MAX_JOBS_ACTIVE slot to a PA_CONNECTOR_MAX_JOBS_WAITING one.
	Waiting func()
	// Secrets holds the job's secret values (resolved placeholders, credentials, tokens) until
	// the adapter has answered and logged the job; nil holds nothing.
	Secrets *secrets.Set
}

// Lease is a job's reservation on the worker, as the Zeebe adapter keeps it: its deadline,
// which a handler may push out (UpdateJobTimeout), and the hold that marks the critical section
// of a request that cannot be repeated (unrepeatable: a trigger, a cloud flow, a create, an
// action, an ETag-conditional write), from before it is sent until its outcome is safe: a
// desktop-flow run recorded, or, for the others, the job answered. A held lease never lapses;
// interrupted once the request is on its way (Sending), the job raises an incident saying what
// may have happened instead of being handed back.
type Lease interface {
	// Deadline is when the job's reservation ends.
	Deadline() time.Time
	// Extend sets the job's timeout to d from now (ErrNoExtension: it cannot be extended).
	Extend(ctx context.Context, d time.Duration) error
	// Hold starts the critical section of a request whose call lasts at most bound, after
	// making sure the lease outlasts it; on an error the request must not be sent.
	Hold(ctx context.Context, bound time.Duration) error
	// Sending marks the held request as on its way: it may reach its server, and what says
	// what it may have done (the incident's text if the job is interrupted from now on). A
	// later call replaces what (a cloud flow's 202: the flow has started).
	Sending(what string)
	// Release ends the critical section: the desktop-flow run is recorded.
	Release()
}

// ErrNoExtension means the lease cannot be extended.
var ErrNoExtension = errors.New("the job's timeout cannot be extended")

// hold starts the critical section of a request whose call lasts at most bound (see
// Lease.Hold); without a lease there is nothing to hold.
func (j Job) hold(ctx context.Context, bound time.Duration) error {
	if j.Lease == nil {
		return nil
	}
	return j.Lease.Hold(ctx, bound)
}

// sending marks the held request as on its way to its server; what says what it may have done.
func (j Job) sending(what string) {
	if j.Lease != nil {
		j.Lease.Sending(what)
	}
}

// release ends a desktop-flow trigger's critical section: its run is recorded.
func (j Job) release() {
	if j.Lease != nil {
		j.Lease.Release()
	}
}

// waiting tells the adapter the job now waits for its run.
func (j Job) waiting() {
	if j.Waiting != nil {
		j.Waiting()
	}
}

// deadline is the job's current deadline.
func (j Job) deadline() time.Time {
	if j.Lease != nil {
		return j.Lease.Deadline()
	}
	return j.Deadline
}

// Result is what a handler did: the operation it ran (for the job's log line and metrics, also
// on failure), a successful job's output variables and a warning.
type Result struct {
	Operation string
	Variables map[string]any
	// Warning, when set, says what the handler did otherwise than asked without failing the
	// job (a callback it could not use); it goes on the job's log line.
	Warning string
}
