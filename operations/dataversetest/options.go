package dataversetest

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options and Limits; a zero field takes these.
const (
	DefaultTenant                = "00000000-0000-4000-8000-00000000e1d0"
	DefaultTokenTTL              = 3599 * time.Second
	DefaultRequestsPerWindow     = 6000
	DefaultExecutionTime         = 20 * time.Minute
	DefaultConcurrentRequests    = 52
	DefaultLimitWindow           = 5 * time.Minute
	DefaultTriggersPerMinute     = 70
	DefaultCallbackRetryInterval = time.Second
	DefaultCallbackRetries       = 3
	DefaultRunTimeout            = 10800 // seconds, the documented default of RunDesktopFlow's timeout
	MaxRunTimeout                = 86400 // seconds
	MaxInputsBytes               = 2 << 20
	// MaxCallbackURL is the most characters a callbackUrl may have: the flowsession
	// callbackurl column holds 2000 (its documented MaxLength).
	MaxCallbackURL = 2000
	// NoCandidateMachineAfter is how long a run may wait for a machine before
	// it fails with errorcode NoCandidateMachine.
	NoCandidateMachineAfter = 6 * time.Hour
	// DefaultCancelDelay is how long a Waiting or Running run keeps its status
	// after CancelDesktopFlowRun accepted its cancel (204) before it is Cancelled (7).
	DefaultCancelDelay = 2 * time.Second
	// DefaultServers is the number of web servers limits are counted on: one, as a
	// trial environment has (the strictest layout).
	DefaultServers = 1
)

// Answers to a trigger above Limits.TriggersPerMinute.
const (
	// ThrottleFailedRun: the trigger is accepted (200) and its run fails at once,
	// statuscode 8 Failed, errorcode DesktopFlowsActionThrottled, never started
	// (the documented errorcode of runs throttled on their connection). The default.
	ThrottleFailedRun = "failedRun"
	// Throttle429: the trigger is refused with 429, code DesktopFlowsActionThrottled
	// and a Retry-After; no run is created (the emulator's earlier answer).
	Throttle429 = "429"
)

// Flow says how runs of one desktop flow (one workflow id) behave.
type Flow struct {
	// Name is the workflow's name, copied into flowsession.name.
	// Default "Desktop flow <first 8 characters of the id>".
	Name string
	// QueueDelay is the time a run spends Waiting (3) before it starts Running (2).
	// A delay of NoCandidateMachineAfter or more fails the run with NoCandidateMachine.
	QueueDelay time.Duration
	// Duration is the time a run spends Running before its final status.
	// A run whose timeout (seconds, counted from the start) is shorter ends TimedOut (10).
	Duration time.Duration
	// FinalStatus is the statuscode a run ends in; default 4 Succeeded
	// (e.g. 8 Failed, 9 Faulted, 10 TimedOut).
	FinalStatus int
	// ErrorCode and ErrorMessage fill flowsession.errorcode / errormessage of
	// runs that do not succeed.
	ErrorCode    string
	ErrorMessage string
	// Outputs are a succeeded run's outputs. A string value "${inputs.Name}"
	// (at any depth) is replaced by the run's input Name (null if absent).
	Outputs map[string]any
	// EchoInputs makes the outputs the run's inputs object (Outputs is then ignored).
	EchoInputs bool
	// Description is the workflow row's description.
	Description string
	// Draft makes the flow unpublished (statecode 0 Draft): the category-6 listing shows it
	// only with the MSCRM.IncludeUnpublished: true header.
	Draft bool
	// InputSchema and OutputSchema are the flow's variables, served as its schema
	// (workflows(id)/inputs/$value and /outputs/$value). A run whose inputs have an unknown
	// name, miss a required input or give a value of another type fails when it starts
	// (errorcode InvalidInputs). nil: no schema (404) and inputs are not checked.
	InputSchema, OutputSchema []FlowVariable
	// LicenseCheck is the licenseCheck.code of RunDesktopFlow's answer; default
	// ValidLicenseCoverage. Other documented codes: LicensingCheckFailed,
	// AttendedNoLicense, UnattendedNoAddon. It never blocks the run.
	LicenseCheck string
}

// Limits are the service-protection limits, per caller ("user"). A zero field
// takes its default; a negative one switches that limit off.
type Limits struct {
	// Requests per caller in Window (429, 0x80072322).
	Requests int
	// ExecutionTime is the combined handling time per caller in Window (429, 0x80072321).
	ExecutionTime time.Duration
	// Concurrent is the number of requests of one caller in flight at once (429, 0x80072326).
	Concurrent int
	// Window is the sliding window of Requests and ExecutionTime; default 5 minutes.
	Window time.Duration
	// TriggersPerMinute is the number of runs per connectionName in a sliding
	// minute; a trigger above it is answered as TriggerThrottle says.
	TriggersPerMinute int
	// TriggerThrottle is the answer above TriggersPerMinute: ThrottleFailedRun
	// (default) or Throttle429.
	TriggerThrottle string
	// Servers is the number of web servers of the environment; Requests,
	// ExecutionTime and Concurrent apply per server and caller. A client that
	// sends the ARRAffinity cookie of an answer stays on its server; one that does
	// not is spread over the servers in turn. Default 1.
	Servers int
	// MaxPenalty caps the Retry-After of a caller that keeps sending while it is
	// refused (each such request extends its wait, see docs/emulator.md);
	// default twice Window.
	MaxPenalty time.Duration
}

// Options configure an Emulator. The zero value is a working emulator with no
// flows, no credentials and the documented limits.
type Options struct {
	// Flows maps a workflow id (a GUID, any case) to how its runs behave.
	// RunDesktopFlow on any other id answers 404.
	Flows map[string]Flow
	// Connections are the desktop-flow connections by connection name. Empty: connections are
	// not checked, any connectionName (and with connectionType 2 any reference name) starts a
	// run. Declared: RunDesktopFlow's connection (connectionType 1), or the connectionreference
	// row (2) and its connectionid, must exist, be shared with the caller and usable, else the
	// trigger is refused (docs/emulator.md); a run on an offline machine fails as documented.
	Connections map[string]Connection
	// ConnectionReferences are seed rows of the connectionreference table (readable and
	// writable through the Web API like any table's rows).
	ConnectionReferences []ConnectionReference
	// Tokens are static bearer tokens that are always accepted (each one is its own caller).
	Tokens []string
	// Clients maps a client id to its secret for the client-credentials grant.
	Clients map[string]string
	// Tenant is the only tenant the token endpoint knows; default DefaultTenant.
	Tenant string
	// TokenTTL is the lifetime of issued tokens; default 3599 s.
	TokenTTL time.Duration
	// Limits are the service-protection limits.
	Limits Limits
	// CallbackAllowedHosts lets callbackUrl use these host names (without port)
	// although they are localhost or IP addresses, over http as well as https.
	CallbackAllowedHosts []string
	// CallbackRetryInterval is the pause between callback attempts; default 1 s.
	CallbackRetryInterval time.Duration
	// CallbackClient sends callbacks; default a client with a 30 s timeout.
	CallbackClient *http.Client
	// Clock is the emulator's time; default time.Now.
	Clock func() time.Time
	// CancelDelay is how long a Waiting or Running run keeps its status after its
	// cancel was accepted (204) before it is Cancelled (7); a run that ends on its
	// own first keeps that end. Default DefaultCancelDelay; negative: at once.
	CancelDelay time.Duration
	// RefuseCancelOfFinishedRun answers a cancel of a run that has ended with 400
	// 0x80040203 instead of 204 without a change (the default).
	RefuseCancelOfFinishedRun bool
	// Tables are added to the built-in tables (account, contact, lead,
	// incident, task, new_project, systemuser, team); one named like a
	// built-in table without Columns adds its Rows, AlternateKeys and Deny to
	// it. NewHandler panics on invalid tables, actions or flows (see Validate).
	Tables []Table
	// Actions are the custom APIs (bound or unbound) the Web API offers.
	Actions []Action
	// CloudFlows maps a flow (workflow) id to how its HTTP-request trigger answers.
	CloudFlows map[string]CloudFlow
	// FlowSigningKey signs the sig of cloud-flow trigger URLs; default a
	// random key per emulator (set it to keep URLs valid across restarts).
	FlowSigningKey string
	// AppUsers are the environment's application users by client id (a
	// static token's caller name, static-token-N, may be named too). With
	// none declared every caller is a System Administrator; with some, a
	// client that is not among them gets 403 0x80072560 and each operation
	// checks its privilege (403 0x80040220). A static token no AppUser names
	// stays an administrator.
	AppUsers map[string]AppUser
	// SecurityRoles are the roles AppUsers name, besides RoleSystemAdministrator.
	SecurityRoles map[string]SecurityRole
	// Organizations are the organization URLs (resources) the token endpoint
	// issues tokens for besides the host a token request comes to; a scope
	// for any other resource gets AADSTS500011. A token works only at the
	// organization it was issued for.
	Organizations []string
	// SeparateTokenEndpoint makes the organization's host answer the token
	// path 404, as Dataverse's does: serve TokenHandler on another host (the
	// login.microsoftonline.com of production). NewServer then starts two listeners.
	SeparateTokenEndpoint bool
	// Logger gets one line per request and callback (no secrets, no
	// bodies); the zero value logs nothing.
	Logger zerolog.Logger
}

func (o Options) withDefaults() Options {
	if o.Tenant == "" {
		o.Tenant = DefaultTenant
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	o.Limits = o.Limits.withDefaults()
	if o.CallbackRetryInterval <= 0 {
		o.CallbackRetryInterval = DefaultCallbackRetryInterval
	}
	if o.CallbackClient == nil {
		o.CallbackClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.CancelDelay == 0 {
		o.CancelDelay = DefaultCancelDelay
	}
	return o
}

func (l Limits) withDefaults() Limits {
	if l.Requests == 0 {
		l.Requests = DefaultRequestsPerWindow
	}
	if l.ExecutionTime == 0 {
		l.ExecutionTime = DefaultExecutionTime
	}
	if l.Concurrent == 0 {
		l.Concurrent = DefaultConcurrentRequests
	}
	if l.Window <= 0 {
		l.Window = DefaultLimitWindow
	}
	if l.TriggersPerMinute == 0 {
		l.TriggersPerMinute = DefaultTriggersPerMinute
	}
	if l.TriggerThrottle == "" {
		l.TriggerThrottle = ThrottleFailedRun
	}
	if l.Servers <= 0 {
		l.Servers = DefaultServers
	}
	if l.MaxPenalty <= 0 {
		l.MaxPenalty = 2 * l.Window
	}
	return l
}
