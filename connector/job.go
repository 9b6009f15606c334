package connector

import "time"

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
}

// Result is a successful job's output variables.
type Result struct {
	Variables map[string]any
}
