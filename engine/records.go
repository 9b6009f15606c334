package engine

import "encoding/json"

// Record is one entry of the exported stream, in Zeebe 8.5's record shape (the field order of
// the broker's debug exporter, which tests match as raw text).
type Record struct {
	PartitionID          int            `json:"partitionId"`
	Value                any            `json:"value"`
	Key                  int64          `json:"key"`
	Position             int64          `json:"position"`
	Timestamp            int64          `json:"timestamp"`
	ValueType            string         `json:"valueType"`
	Intent               string         `json:"intent"`
	RejectionType        string         `json:"rejectionType"`
	RejectionReason      string         `json:"rejectionReason"`
	RecordVersion        int            `json:"recordVersion"`
	Authorizations       authorizations `json:"authorizations"`
	SourceRecordPosition int64          `json:"sourceRecordPosition"`
	BrokerVersion        string         `json:"brokerVersion"`
	RecordType           string         `json:"recordType"`
}

type authorizations struct {
	Tenants []string `json:"authorized_tenants"`
}

var defaultAuthorizations = authorizations{Tenants: []string{DefaultTenant}}

// DefaultTenant is the only tenant: multi-tenancy is off, as on a default Zeebe.
const DefaultTenant = "<default>"

// Version is the Zeebe version whose gateway protocol and semantics the engine follows.
const Version = "8.5.8"

// Record types and rejection types.
const (
	Event            = "EVENT"
	Command          = "COMMAND"
	CommandRejection = "COMMAND_REJECTION"

	RejectInvalidArgument = "INVALID_ARGUMENT"
	RejectNotFound        = "NOT_FOUND"
	RejectAlreadyExists   = "ALREADY_EXISTS"
	RejectInvalidState    = "INVALID_STATE"
	RejectProcessingError = "PROCESSING_ERROR"
)

// Record values. Field order follows Zeebe's JSON; processInstanceKey is never the last member
// (tests match `"processInstanceKey":<n>,`).

type jobValue struct {
	Type                     string          `json:"type"`
	Retries                  int32           `json:"retries"`
	RetryBackoff             int64           `json:"retryBackoff"`
	RecurringTime            int64           `json:"recurringTime"`
	Deadline                 int64           `json:"deadline"`
	Timeout                  int64           `json:"timeout"`
	Worker                   string          `json:"worker"`
	ErrorMessage             string          `json:"errorMessage"`
	ErrorCode                string          `json:"errorCode"`
	CustomHeaders            json.RawMessage `json:"customHeaders"`
	Variables                json.RawMessage `json:"variables"`
	ElementID                string          `json:"elementId"`
	ElementInstanceKey       int64           `json:"elementInstanceKey"`
	ProcessInstanceKey       int64           `json:"processInstanceKey"`
	BpmnProcessID            string          `json:"bpmnProcessId"`
	ProcessDefinitionKey     int64           `json:"processDefinitionKey"`
	ProcessDefinitionVersion int32           `json:"processDefinitionVersion"`
	JobKind                  string          `json:"jobKind"`
	TenantID                 string          `json:"tenantId"`
}

type jobBatchValue struct {
	Type              string     `json:"type"`
	Worker            string     `json:"worker"`
	Timeout           int64      `json:"timeout"`
	MaxJobsToActivate int32      `json:"maxJobsToActivate"`
	JobKeys           []int64    `json:"jobKeys"`
	Jobs              []jobValue `json:"jobs"`
	Truncated         bool       `json:"truncated"`
	TenantIDs         []string   `json:"tenantIds"`
}

type processInstanceValue struct {
	BpmnProcessID            string `json:"bpmnProcessId"`
	Version                  int32  `json:"version"`
	ProcessDefinitionKey     int64  `json:"processDefinitionKey"`
	ProcessInstanceKey       int64  `json:"processInstanceKey"`
	ElementID                string `json:"elementId"`
	FlowScopeKey             int64  `json:"flowScopeKey"`
	BpmnElementType          string `json:"bpmnElementType"`
	BpmnEventType            string `json:"bpmnEventType"`
	ParentProcessInstanceKey int64  `json:"parentProcessInstanceKey"`
	ParentElementInstanceKey int64  `json:"parentElementInstanceKey"`
	TenantID                 string `json:"tenantId"`
}

type variableValue struct {
	Name                 string `json:"name"`
	Value                string `json:"value"`
	ScopeKey             int64  `json:"scopeKey"`
	ProcessInstanceKey   int64  `json:"processInstanceKey"`
	ProcessDefinitionKey int64  `json:"processDefinitionKey"`
	BpmnProcessID        string `json:"bpmnProcessId"`
	TenantID             string `json:"tenantId"`
}

type variableDocumentValue struct {
	ScopeKey        int64           `json:"scopeKey"`
	UpdateSemantics string          `json:"updateSemantics"`
	Variables       json.RawMessage `json:"variables"`
	TenantID        string          `json:"tenantId"`
}

type incidentValue struct {
	ErrorType            string `json:"errorType"`
	ErrorMessage         string `json:"errorMessage"`
	BpmnProcessID        string `json:"bpmnProcessId"`
	ProcessDefinitionKey int64  `json:"processDefinitionKey"`
	ProcessInstanceKey   int64  `json:"processInstanceKey"`
	ElementID            string `json:"elementId"`
	ElementInstanceKey   int64  `json:"elementInstanceKey"`
	JobKey               int64  `json:"jobKey"`
	VariableScopeKey     int64  `json:"variableScopeKey"`
	TenantID             string `json:"tenantId"`
}

type messageValue struct {
	Name           string          `json:"name"`
	CorrelationKey string          `json:"correlationKey"`
	MessageID      string          `json:"messageId"`
	TimeToLive     int64           `json:"timeToLive"`
	Deadline       int64           `json:"deadline"`
	Variables      json.RawMessage `json:"variables"`
	TenantID       string          `json:"tenantId"`
}

type messageSubscriptionValue struct {
	ProcessInstanceKey int64           `json:"processInstanceKey"`
	ElementInstanceKey int64           `json:"elementInstanceKey"`
	BpmnProcessID      string          `json:"bpmnProcessId"`
	MessageName        string          `json:"messageName"`
	CorrelationKey     string          `json:"correlationKey"`
	MessageKey         int64           `json:"messageKey"`
	Interrupting       bool            `json:"interrupting"`
	Variables          json.RawMessage `json:"variables"`
	ElementID          string          `json:"elementId,omitempty"`
	TenantID           string          `json:"tenantId"`
}

type processInstanceCreationValue struct {
	BpmnProcessID        string          `json:"bpmnProcessId"`
	ProcessDefinitionKey int64           `json:"processDefinitionKey"`
	Version              int32           `json:"version"`
	Variables            json.RawMessage `json:"variables"`
	StartInstructions    []any           `json:"startInstructions"`
	ProcessInstanceKey   int64           `json:"processInstanceKey"`
	FetchVariables       []string        `json:"fetchVariables"`
	TenantID             string          `json:"tenantId"`
}

type timerValue struct {
	ElementInstanceKey   int64  `json:"elementInstanceKey"`
	ProcessInstanceKey   int64  `json:"processInstanceKey"`
	ProcessDefinitionKey int64  `json:"processDefinitionKey"`
	DueDate              int64  `json:"dueDate"`
	TargetElementID      string `json:"targetElementId"`
	Repetitions          int32  `json:"repetitions"`
	TenantID             string `json:"tenantId"`
}

type deploymentResource struct {
	ResourceName string `json:"resourceName"`
	Resource     []byte `json:"resource"`
}

type processMetadata struct {
	BpmnProcessID        string `json:"bpmnProcessId"`
	Version              int32  `json:"version"`
	ProcessDefinitionKey int64  `json:"processDefinitionKey"`
	ResourceName         string `json:"resourceName"`
	Checksum             []byte `json:"checksum"`
	Duplicate            bool   `json:"duplicate"`
	TenantID             string `json:"tenantId"`
}

type deploymentValue struct {
	Resources                    []deploymentResource `json:"resources"`
	ProcessesMetadata            []processMetadata    `json:"processesMetadata"`
	DecisionsMetadata            []any                `json:"decisionsMetadata"`
	DecisionRequirementsMetadata []any                `json:"decisionRequirementsMetadata"`
	FormMetadata                 []any                `json:"formMetadata"`
	TenantID                     string               `json:"tenantId"`
}

type processValue struct {
	BpmnProcessID        string `json:"bpmnProcessId"`
	Version              int32  `json:"version"`
	ProcessDefinitionKey int64  `json:"processDefinitionKey"`
	ResourceName         string `json:"resourceName"`
	Checksum             []byte `json:"checksum"`
	Resource             []byte `json:"resource"`
	Duplicate            bool   `json:"duplicate"`
	TenantID             string `json:"tenantId"`
}
