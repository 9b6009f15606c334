package spec

import "time"

// Fields that every Dataverse call takes.
var (
	OrganizationURI = &Field{
		Name: "organizationUri", Label: "Organization URI", Group: "configuration", Kind: OrgURL, Required: true,
		Help: "Dynamics 365 / Dataverse environment URL, for example https://org.crm.dynamics.com. <a href=\"https://learn.microsoft.com/en-us/power-apps/developer/data-platform/discovery-service\">organization URL discovery docs</a>",
	}
	Authentication = &Field{
		Name: "authentication", Label: "Authentication", Group: "authentication", Kind: Auth, Required: true,
		Default:    "=authentication",
		Help:       "A FEEL context with the fields of one authentication type: {type: \"bearer\", token: ...} or {type: \"oauth-client-credentials-flow\", oauthTokenEndpoint: ..., clientId: ..., clientSecret: ..., scopes: ..., clientAuthentication: \"basicAuthHeader\" | \"credentialsBody\"}.",
		PickerHelp: "Bearer token and OAuth 2.0 client credentials fill the fields below. 'FEEL context' takes the whole authentication object from one FEEL expression, for example a process variable.",
		Variants: []Variant{
			{Type: "bearer", Label: "Bearer token", Fields: []*Field{
				{Name: "token", Label: "Bearer token", Kind: Text, Required: true,
					Help: "A Dataverse access token. Use a secret, for example {{secrets.DV_TOKEN}}."},
			}},
			{Type: "oauth-client-credentials-flow", Label: "OAuth 2.0 client credentials", Fields: []*Field{
				{Name: "oauthTokenEndpoint", Label: "OAuth token endpoint", Kind: Text, Required: true,
					Help: "URL to obtain the OAuth access token, for example https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token."},
				{Name: "clientId", Label: "Client Id (secret ID)", Kind: Text, Required: true,
					Help: "Microsoft Azure application client ID. See the <a href=\"https://learn.microsoft.com/en-us/azure/active-directory/develop/quickstart-register-app#register-an-application\">Azure app registration guide</a>."},
				{Name: "clientSecret", Label: "Client secret (Client secret value)", Kind: Text, Required: true,
					Help: "Microsoft Azure application client secret value. Use a secret, for example {{secrets.DV_CLIENT_SECRET}}."},
				{Name: "scopes", Label: "Scopes", Kind: Text, Default: "=organizationUri + \"/.default\"",
					Help: "Space-separated scopes of the token request. Default: the organization URI + \"/.default\" (also used when the field is empty)."},
				{Name: "clientAuthentication", Label: "Client authentication", Kind: Enum, NoFEEL: true, Default: "basicAuthHeader",
					Help: "How the client credentials are sent to the token endpoint. Camunda's template always uses the Basic auth header.",
					Choices: []Choice{
						{Value: "basicAuthHeader", Label: "Send client credentials as Basic auth header"},
						{Value: "credentialsBody", Label: "Send client credentials in body"},
					}},
			}},
		},
	}
	ConnectionTimeout = &Field{
		Name: "connectionTimeoutInSeconds", Label: "Connection timeout", Group: "errors", Kind: Int,
		Default: "20", Min: 0, Max: 3600, ZeroIsDefault: true, Unit: "seconds",
		Help: "The timeout in seconds of each request to Dataverse (connecting and reading the answer); empty or 0: 20 seconds",
	}
)

// Fields of the desktop-flow operations.
var (
	FlowSessionID = &Field{
		Name: "flowSessionId", Label: "Flow session ID", Group: "input", Kind: GUID, Required: true,
		Help: "Unique identifier (GUID) of the flow run. You can find this in the response of the 'Trigger a flow run' operation.",
	}
	WorkflowID = &Field{
		Name: "workflowId", Label: "Workflow ID (flow ID)", Group: "input", Kind: GUID, Required: true,
		Help: "The ID (GUID) of the desktop flow that you want to run.",
	}
	ConnectionName = &Field{
		Name: "connectionName", Label: "Connection name", Group: "input", Kind: Text, Required: true,
		Help: "Identifies the connection to be used with the desktop flow script.",
	}
	ConnectionType = &Field{
		Name: "connectionType", Label: "Connection type", Group: "input", Kind: Int, NoFEEL: true, Default: "1",
		Help: "How the connection name is resolved: 'Connection type' uses a direct connection, 'Connection reference type' uses a connection reference. With a connection reference the worker first reads its connectionreference row (cached per organization and name): a reference that is missing, inactive, of another connector or without a connection is an incident saying which and how to fix it; no run starts. Dataverse refusing the connection (unknown, not shared with the worker's application user) is an incident naming it too.",
		Choices: []Choice{
			{Value: "1", Label: "Connection type", Means: "connection"},
			{Value: "2", Label: "Connection reference type", Means: "connection reference"},
		},
	}
	RunMode = &Field{
		Name: "runMode", Label: "Run mode", Group: "input", Kind: Enum, Required: true, Default: "attended",
		Help:    "'attended' runs the flow interactively in a signed-in user session; 'unattended' runs it in the background without user interaction. A FEEL expression (for example =runMode) is allowed too.",
		Choices: []Choice{{Value: "attended"}, {Value: "unattended"}},
	}
	RunPriority = &Field{
		Name: "runPriority", Label: "Run priority", Group: "input", Kind: Text, Default: "normal",
		Help: "Use a standard priority ('normal' or 'high'), or supply your own value.",
	}
	RunTimeout = &Field{
		Name: "runTimeout", Wire: "timeout", Label: "Timeout", Group: "input", Kind: Int,
		Default: "7200", NoPrefill: true, Min: 1, Max: 86400, Unit: "seconds",
		Help: "Timeout for Power Automate script execution, in seconds.",
		Note: "Default = 7200 seconds (2 hours), max = 86400 (24 hours).",
	}
	RunInputs = &Field{
		Name: "runInputs", Wire: "inputs", Label: "Inputs", Group: "input", Kind: JSONObject, MaxBytes: 2 << 20,
		Help: "The desktop flow script input parameters: a FEEL context such as ={\"Name\": customerName} or a JSON-serialized string.",
	}
	ValidateInputs = &Field{
		Name: "validateInputs", Label: "Check inputs against the flow's schema", Group: "input", Kind: Bool, Default: "true",
		Help: "true: before triggering, the worker reads the desktop flow's input schema (cached per organization and flow) and a runInputs with an unknown name, without a required input, or with a value of another type is an incident naming the input and the expected type; no run starts. Values are never quoted. false: runInputs is sent as it is.",
	}
	CallbackURL = &Field{
		Name: "callbackUrl", Label: "Callback URL", Group: "input", Kind: Text,
		Help: "URL that will be called once the desktop flow script is complete. You can use the <a href=\"https://docs.camunda.io/docs/components/connectors/out-of-the-box-connectors/http-webhook/\">webhook connector</a> for this purpose.",
	}
	WaitMode = &Field{
		Name: "waitMode", Label: "Wait for the end by", Group: "input", Kind: Enum, NoFEEL: true,
		Help: "How the worker learns that the run ended. Callback: the worker sends its own callbackUrl (it needs PA_CONNECTOR_PUBLIC_URL); for 'Trigger a flow run' it then publishes the message desktop-flow-completed (correlation key: the flow session id) for a message catch event; 'Run a flow and wait' then completes without polling. Polling: no callback; 'Run a flow and wait' reads the status with growing pauses. Empty: callback when the worker has a public URL and no callback URL is set here, else polling; also polling, with a warning, when the credentials are given literally and make the callback URL longer than the 2000 characters Dataverse stores (with Callback that is an incident).",
		Choices: []Choice{
			{Value: "", Label: "Worker default"},
			{Value: "callback", Label: "Callback"},
			{Value: "poll", Label: "Polling"},
		},
	}
	PollInterval = &Field{
		Name: "pollInterval", Label: "Poll interval", Group: "input", Kind: Duration,
		Default: "PT30S", NoPrefill: true, Shortest: time.Second, Longest: time.Hour,
		Help: "When polling: the longest pause between two status reads, an ISO-8601 duration from PT1S to PT1H. Pauses start at about 1 second and grow to this. With callbacks the worker's safety poll (PA_CONNECTOR_CALLBACK_SAFETY_POLL) applies instead.",
	}
)

// Fields of listDesktopFlows.
var (
	FlowNameFilter = &Field{
		Name: "filter", Label: "Name contains", Group: "input", Kind: Text,
		Help: "Lists only the desktop flows whose name contains this text (any case). Empty: all of them.",
	}
	IncludeDrafts = &Field{
		Name: "includeDrafts", Label: "Include drafts", Group: "input", Kind: Bool, Default: "false",
		Help: "true: unpublished (Draft) desktop flows are listed too (Dataverse's MSCRM.IncludeUnpublished: true header).",
	}
)

// Fields of runCloudFlow: a cloud flow with the "When an HTTP request is received" trigger.
var (
	FlowURL = &Field{
		Name: "flowUrl", Label: "Flow URL", Group: "input", Kind: Text, Required: true,
		Help: "The HTTP POST URL of the flow's 'When an HTTP request is received' trigger (on *.logic.azure.com or *.environment.api.powerplatform.com). It carries the trigger's signature (sig): put it in a secret, for example {{secrets.NOTIFY_OWNER_FLOW_URL}}. The signature never reaches a log, an incident, a metric or a variable. A URL without a signature is a trigger restricted to the tenant: then authentication gives an Entra ID token for " + FlowAudience + " (client credentials' scopes default to " + FlowAudience + "/.default; other scopes, or a bearer JWT for another audience such as Dataverse's, are refused before anything is sent); a signed URL needs none (authentication is not sent with it).",
	}
	EntityLogicalName = &Field{
		Name: "entityLogicalName", Label: "Table (logical name)", Group: "input", Kind: Text,
		Help: "The logical name of the record's table (lead, account, incident), sent to the flow as entityLogicalName.",
	}
	RecordID = &Field{
		Name: "recordId", Label: "Record ID", Group: "input", Kind: Text,
		Help: "The record's id, sent to the flow as recordId.",
	}
	FlowInputs = &Field{
		Name: "inputs", Label: "Inputs", Group: "input", Kind: Context,
		Help: "More properties of the request body, as a FEEL context such as ={priority: \"high\"}. The flow receives {entityLogicalName, recordId, ...inputs}.",
	}
	WaitForResponse = &Field{
		Name: "waitForResponse", Label: "Wait for the flow's response", Group: "input", Kind: Bool, Default: "true",
		Help: "true: when the flow answers 202 with a Location, poll it (honouring Retry-After, keeping the job's lease) until the flow's final answer or the job's deadline. false: complete with the first answer (202: {status: 202}).",
	}
)

// FlowAudience is the audience of the Entra ID tokens that tenant-restricted flow triggers accept.
const FlowAudience = "https://service.flow.microsoft.com/"

// Task headers every job type takes (resultExpression's defaults are per operation).
var (
	ResultVariable = &Field{
		Name: "resultVariable", Label: "Result variable", Group: "output", Kind: Text, Binding: Header,
		Help: "Name of variable to store the response in ({status, headers, body}). <a href=\"https://docs.camunda.io/docs/components/connectors/use-connectors/#result-variable\" target=\"_blank\">result variable documentation</a>",
	}
	ResultExpression = &Field{
		Name: "resultExpression", Label: "Result expression", Group: "output", Kind: Expression, Binding: Header,
	}
	ErrorExpression = &Field{
		Name: "errorExpression", Label: "Error expression", Group: "errors", Kind: Expression, Binding: Header, Multiline: true,
		Help: "Expression to handle errors: bpmnError(code, message[, variables]), jobError(message[, variables[, retries[, retryBackoff]]]) or ignoreError([variables]); null means no error. <a href=\"https://docs.camunda.io/docs/components/connectors/use-connectors/#bpmn-errors\" target=\"_blank\">BPMN error handling documentation</a>",
	}
	RetryCount = &Field{
		Name: "retryCount", Label: "Retries", Group: "retries", Kind: Text, Binding: Retries, Default: "3",
	}
	// RetryBackoff: a retry parked for more than a day is better an incident that someone sees.
	RetryBackoff = &Field{
		Name: "retryBackoff", Label: "Retry backoff", Group: "retries", Kind: Duration, Binding: Header,
		Default: "PT30S", Shortest: 0, Longest: 24 * time.Hour,
		Help: "ISO-8601 duration to wait between retries",
	}
	// JobTimeout: a job reserved longer than a day hides a crashed worker's job for that long
	// (runFlowAndWait extends its lease itself).
	JobTimeout = &Field{
		Name: "jobTimeout", Label: "Job timeout", Group: "retries", Kind: Duration, Binding: Header,
		Shortest: time.Second, Longest: 24 * time.Hour,
		Note: "ISO-8601 duration after which Zeebe considers this job timed out if not yet completed. Leave empty to use the default timeout",
	}
)

// Task headers as the templates order them.
var taskHeaders = []*Field{ResultVariable, ResultExpression, ErrorExpression, RetryCount, RetryBackoff, JobTimeout}

const resultExpressionDocs = " <a href=\"https://docs.camunda.io/docs/components/connectors/use-connectors/#result-expression\" target=\"_blank\">result expression documentation</a>"

// dataverse is what every Dataverse call reads.
var dataverse = []*Field{OrganizationURI, Authentication, ConnectionTimeout}

func with(base []*Field, more ...*Field) []*Field {
	return append(append([]*Field{}, base...), more...)
}

// Operation names of power-automate:1.
const (
	OpGetStatus      = "getStatusOfFlowRun"
	OpGetOutputs     = "getFlowOutputs"
	OpTrigger        = "triggerFlowRun"
	OpRunFlowAndWait = "runFlowAndWait"
	OpCancel         = "cancelFlowRun"
	OpRunCloudFlow   = "runCloudFlow"
	OpListFlows      = "listDesktopFlows"
	OpFlowSchema     = "getDesktopFlowSchema"
)

// TriggerFields are RunDesktopFlow's parameters, in the order they are checked; the Camunda
// REST compatibility mode reads them from a body by their Wire names.
var TriggerFields = []*Field{ConnectionName, ConnectionType, RunMode, RunPriority, RunTimeout, RunInputs, CallbackURL}

// PowerAutomate is the job type power-automate:1: Dataverse desktop flows, with the variables
// of Camunda's Power Automate template.
var PowerAutomate = &JobType{
	Type:        "power-automate:1",
	File:        "pa-connector-power-automate.json",
	TemplateID:  "io.pa-connector.PowerAutomate.v1",
	Version:     1,
	Name:        "Power Automate (pa-connector)",
	Description: "Run Power Automate desktop flows through Dataverse with the pa-connector job worker (job type power-automate:1): trigger a run, get its status or outputs, cancel it, or run a flow and wait until it ends (by completion callback or polling); list desktop flows and read their input and output schemas; and run a cloud flow for a record through its HTTP trigger",
	Keywords: []string{"power automate", "desktop flow", "dataverse", "trigger flow run", "get flow run status",
		"get flow outputs", "cancel flow run", "run flow and wait", "callback", "rpa", "cloud flow", "run cloud flow", "list desktop flows", "desktop flow schema"},
	Engines: "^8.5",
	Icon:    "data:image/svg+xml;utf8,%3Csvg xmlns='http://www.w3.org/2000/svg' width='32' height='32' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='6' fill='%230F6CBD'/%3E%3Cpath d='M7 8h9l9 8-9 8H7l9-8z' fill='white'/%3E%3C/svg%3E",
	Groups: []Group{{"operation", "Operation"}, {"authentication", "Authentication"}, {"configuration", "Configuration"},
		{"input", "Input"}, {"output", "Output"}, {"errors", "Error handling"}, {"retries", "Retries"}},
	Default: OpGetStatus,
	Operations: []*Operation{
		{Name: OpGetStatus, Label: "Get the status of a flow run", Fields: with(dataverse, FlowSessionID),
			Result: Result{ID: "resultExpressionStatus", Value: "={statusCode: response.body.statuscode, statusName: response.statusName}",
				Help: "Expression to map the response into process variables. response.statusName is the name of response.body.statuscode (Succeeded, Failed, ...)." + resultExpressionDocs}},
		{Name: OpGetOutputs, Label: "Get flow outputs", Fields: with(dataverse, FlowSessionID),
			Result: Result{ID: "resultExpressionOutputs", Value: "={flowOutputs: response.body}",
				Help: "Expression to map the response into process variables." + resultExpressionDocs}},
		{Name: OpTrigger, Label: "Trigger a flow run", Fields: with(dataverse, with([]*Field{WorkflowID}, with(TriggerFields, ValidateInputs, WaitMode)...)...),
			Result: Result{ID: "resultExpressionTrigger", Value: "={flowSessionId: response.body.flowsessionId}",
				Help: "Expression to map the response into process variables." + resultExpressionDocs}},
		// runFlowAndWait sends its own callbackUrl when it waits by callback: the template offers none.
		{Name: OpRunFlowAndWait, Label: "Run a flow and wait until it ends",
			Fields: with(dataverse, WorkflowID, ConnectionName, ConnectionType, RunMode, RunPriority, RunTimeout, RunInputs, ValidateInputs, WaitMode, PollInterval),
			Result: Result{ID: "resultExpressionWait",
				Help: "Expression to map the run's summary into process variables: response.body is {flowSessionId, statusCode, statusName, startedOn, completedOn, errorCode, errorMessage, outputs}. Empty: the variables flowSessionId, statusCode, statusName and flowOutputs. A run that ends without succeeding throws the BPMN error DESKTOP_FLOW_FAILED (unless the error expression decides)." + resultExpressionDocs}},
		{Name: OpCancel, Label: "Cancel a flow run", Fields: with(dataverse, FlowSessionID),
			Result: Result{ID: "resultExpressionCancel",
				Help: "Expression to map the response into process variables (Dataverse answers a cancel with an empty body)." + resultExpressionDocs}},
		{Name: OpListFlows, Label: "List desktop flows", Fields: with(dataverse, FlowNameFilter, IncludeDrafts),
			Result: Result{ID: "resultExpressionListFlows", Value: "={desktopFlows: response.body.flows}",
				Help: "Expression to map the response into process variables: response.body.flows is a list of {name, workflowId, description, state} ordered by name; state is Draft, Activated or Suspended." + resultExpressionDocs}},
		{Name: OpFlowSchema, Label: "Get a desktop flow's input and output schema", Fields: with(dataverse, WorkflowID),
			Result: Result{ID: "resultExpressionFlowSchema", Value: "={flowSchema: response.body}",
				Help: "Expression to map the response into process variables: response.body is {name, workflowId, inputs, outputs}, inputs and outputs as JSON Schemas ({type: \"object\", properties: {name: {type, title, description, default, format}}, required}; null for a flow that declares none)." + resultExpressionDocs}},
		{Name: OpRunCloudFlow, Label: "Run a cloud flow for a record",
			Fields:   []*Field{FlowURL, Authentication, ConnectionTimeout, EntityLogicalName, RecordID, FlowInputs, WaitForResponse},
			Optional: []*Field{Authentication}, // a signed flow URL is its own credential
			Result: Result{ID: "resultExpressionCloudFlow", Value: "={flowResponse: response.body}",
				Help: "Expression to map the flow's answer into process variables: response is {status, headers, body}, the final answer after any 202 polling; a 202 without Location (or with waitForResponse false) gives {status: 202}." + resultExpressionDocs}},
	},
	Headers: taskHeaders,
}
