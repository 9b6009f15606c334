package engine

import "encoding/json"

// Cmd is one input of the engine: what a client asked or what the engine decided from the
// clock or from an open job stream. Every Cmd is written to the log before its answer is sent,
// and replaying the log's Cmds rebuilds the state. Time is set by the engine when it processes
// the command; processing reads no other clock.
type Cmd struct {
	Op   string `json:"op"`
	Time int64  `json:"t"`

	Key       int64           `json:"k,omitempty"` // job, instance, incident or element instance key
	ProcessID string          `json:"pid,omitempty"`
	Version   int32           `json:"v,omitempty"`
	Resources []Resource      `json:"res,omitempty"`
	Variables json.RawMessage `json:"vars,omitempty"` // a JSON object (validated by the gateway)
	Fetch     []string        `json:"fetch,omitempty"`
	Local     bool            `json:"local,omitempty"`

	Type     string `json:"type,omitempty"`
	Worker   string `json:"worker,omitempty"`
	Timeout  int64  `json:"timeout,omitempty"`
	MaxJobs  int32  `json:"max,omitempty"`
	Retries  int32  `json:"retries,omitempty"`
	Backoff  int64  `json:"backoff,omitempty"`
	Message  string `json:"msg,omitempty"`
	Code     string `json:"code,omitempty"`
	Name     string `json:"name,omitempty"`
	Corr     string `json:"corr,omitempty"`
	ID       string `json:"id,omitempty"`
	TTL      int64  `json:"ttl,omitempty"`
	Await    bool   `json:"await,omitempty"`  // CreateProcessInstanceWithResult
	StreamID int64  `json:"stream,omitempty"` // push: the stream the job is activated for
	Tenant   string `json:"tenant,omitempty"` // as given by the client; only <default> is accepted
	HasKey   bool   `json:"haskey,omitempty"` // create: by processDefinitionKey
}

// Command operations.
const (
	OpDeploy        = "deploy"
	OpCreate        = "create"
	OpCancel        = "cancel"
	OpActivate      = "activate"
	OpPush          = "push" // activate one job for a job stream
	OpYield         = "yield"
	OpComplete      = "complete"
	OpFail          = "fail"
	OpThrow         = "throw"
	OpUpdateTimeout = "timeout"
	OpUpdateRetries = "retries"
	OpSetVariables  = "setvars"
	OpPublish       = "publish"
	OpResolve       = "resolve"
	OpTimeOut       = "timedout" // a job's deadline passed
	OpRecur         = "recur"    // a failed job's backoff elapsed
	OpTrigger       = "trigger"  // a timer is due
	OpExpire        = "expire"   // a message's time to live passed
)

// Resource is a deployed file.
type Resource struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
}

// Result is the engine's answer to a command.
type Result struct {
	Rejection *Rejection

	Key         int64
	Deployed    []DeployedProcess
	Instance    *InstanceCreated
	Jobs        []*ActivatedJob
	Variables   string // CreateProcessInstanceWithResult: the variables asked for, a JSON object
	NotFoundFor bool   // resolve: the client sees NOT_FOUND although the log says INVALID_STATE
}

// Rejection is a refused command: Zeebe's rejection type and reason, and the intent the
// client's message names.
type Rejection struct {
	Intent string
	Type   string
	Reason string
}

// DeployedProcess is one process of a deployment's answer.
type DeployedProcess struct {
	ProcessID    string
	Version      int32
	Key          int64
	ResourceName string
}

// InstanceCreated answers CreateProcessInstance.
type InstanceCreated struct {
	DefinitionKey int64
	ProcessID     string
	Version       int32
	Key           int64
}

// ActivatedJob is a job handed to a worker.
type ActivatedJob struct {
	Key                int64
	Type               string
	ProcessInstanceKey int64
	ProcessID          string
	Version            int32
	DefinitionKey      int64
	ElementID          string
	ElementInstanceKey int64
	CustomHeaders      string
	Worker             string
	Retries            int32
	Deadline           int64
	Variables          string
}
