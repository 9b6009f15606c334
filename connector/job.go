package connector

import (
	"context"
	"time"
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
	Lease *Lease
	// SetLocal, when set, records variables on the job's element instance (local scope), where
	// a redelivered job finds them.
	SetLocal func(ctx context.Context, vars map[string]any) error
}

// deadline is the job's current deadline.
func (j Job) deadline() time.Time {
	if j.Lease != nil {
		return j.Lease.Deadline()
	}
	return j.Deadline
}

// Result is a successful job's output variables.
type Result struct {
	Variables map[string]any
}
