package dataversetest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Operation names used in Call.Op, Fault.Op and Count.
const (
	OpRunDesktopFlow       = "RunDesktopFlow"
	OpGetFlowSession       = "GetFlowSession"
	OpGetOutputs           = "GetOutputs"
	OpCancelDesktopFlowRun = "CancelDesktopFlowRun"
	OpToken                = "Token"
	OpCallback             = "Callback"
	OpOther                = "Other" // any other request under /api/data/ or unknown path
)

// Emulator is the Dataverse and Entra ID emulator as an http.Handler. Make it
// with NewHandler (or NewServer, which serves it) and stop it with Close.
type Emulator struct {
	opts    Options
	flows   map[string]Flow    // lower-case workflow id → flow
	static  map[string]string  // static token → caller name
	tables  map[string]*table  // logical name → table
	actions map[string]*Action // unique name → custom API
	flowKey []byte             // signs cloud-flow trigger URLs
	// principals are the application users by caller name (AppUsers).
	principals map[string]*principal
	orgs       map[string]bool // origins of Options.Organizations

	ctx    context.Context // cancelled by Close: stops delays and callbacks
	cancel context.CancelFunc
	wg     sync.WaitGroup // running callback deliveries

	mu        sync.Mutex
	closed    bool
	sessions  map[string]*session
	timers    map[string]*time.Timer // session id → completion timer
	tokens    map[string]issuedToken
	calls     []Call
	counts    map[string]int
	faults    []*Fault
	callbacks []CallbackAttempt
	usage     map[string]*usage      // web server + "/" + caller → service-protection usage
	nextSrv   int                    // the server a request without affinity goes to
	serverIDs []string               // affinity cookie value of each web server
	triggers  map[string][]time.Time // connectionName → trigger times
	store     *rowStore
	actionLog []ActionCall
	flowRuns  map[string]*flowRun
	version   int64
}

// NewHandler returns an emulator that is not bound to a listener; serve it
// with any http.Server and call Close when done.
func NewHandler(opts Options) *Emulator {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		opts:   opts,
		flows:  make(map[string]Flow, len(opts.Flows)),
		static: make(map[string]string, len(opts.Tokens)),
		ctx:    ctx,
		cancel: cancel,
	}
	for id, f := range opts.Flows {
		e.flows[strings.ToLower(strings.Trim(id, "{}"))] = f
	}
	for i, t := range opts.Tokens {
		if t != "" {
			e.static[t] = fmt.Sprintf("static-token-%d", i+1)
		}
	}
	if err := opts.Validate(); err != nil {
		panic("dataversetest: " + err.Error())
	}
	var err error
	if e.tables, err = compileTables(opts.allTables()); err != nil {
		panic("dataversetest: " + err.Error())
	}
	if e.actions, err = compileActions(opts.Actions, e.tables); err != nil {
		panic("dataversetest: " + err.Error())
	}
	e.flowKey = flowSigningKey(opts.FlowSigningKey)
	e.principals = compilePrincipals(opts)
	e.orgs = map[string]bool{}
	for _, o := range opts.Organizations {
		e.orgs[origin(o)] = true
	}
	for i := range opts.Limits.Servers {
		e.serverIDs = append(e.serverIDs, serverID(i))
	}
	e.resetLocked()
	return e
}

// resetLocked forgets all state except the configuration and issued tokens.
func (e *Emulator) resetLocked() {
	for _, t := range e.timers {
		t.Stop()
	}
	e.sessions = map[string]*session{}
	e.timers = map[string]*time.Timer{}
	if e.tokens == nil {
		e.tokens = map[string]issuedToken{}
	}
	e.calls = nil
	e.counts = map[string]int{}
	e.faults = nil
	e.callbacks = nil
	e.usage = map[string]*usage{}
	e.triggers = map[string][]time.Time{}
	if e.version == 0 {
		e.version = 1_000_000
	}
	e.actionLog = nil
	e.flowRuns = map[string]*flowRun{}
	e.store = newRowStore()
	if err := e.seedLocked(); err != nil {
		panic("dataversetest: " + err.Error())
	}
}

// Reset forgets runs, calls, faults, callbacks, limit usage, action calls
// and cloud-flow runs, and puts the tables' rows back to their seed rows.
// The configuration and issued tokens stay.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetLocked()
}

// Close stops timers, pending fault delays and callback retries, and waits
// for callback deliveries to return. The handler answers 503 afterwards.
func (e *Emulator) Close() {
	e.mu.Lock()
	e.closed = true
	for id, t := range e.timers {
		t.Stop()
		delete(e.timers, id)
	}
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

func (e *Emulator) now() time.Time { return e.opts.Clock() }

func (e *Emulator) nextVersionLocked() int64 {
	e.version++
	return e.version
}

// ServeHTTP routes a request to the token endpoint, the Dataverse Web API or
// the /_emulator/ admin endpoints.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.serve(w, r, false)
}

// TokenHandler serves only the token endpoint (404 elsewhere), for a
// second host when Options.SeparateTokenEndpoint is set.
func (e *Emulator) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serve(w, r, true) })
}

// serve answers one request on the organization's host, or on the token
// host when tokenHost is set.
func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, tokenHost bool) {
	if tokenHost && parseRoute(r.URL.Path).op != OpToken {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.serveAdmin(w, r)
		return
	}
	r = sameAsCurrentVersion(r)
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	rt := e.classify(r, parseRoute(r.URL.Path))
	caller := ""
	defer func() { e.record(r, rt.op, caller, rec, start) }()
	if e.isClosed() {
		writeError(rec, newError(http.StatusServiceUnavailable, CodeUnexpected, "The emulator is shutting down."))
		return
	}
	switch {
	case rt.op == OpToken && e.opts.SeparateTokenEndpoint && !tokenHost:
		http.NotFound(rec, r) // Dataverse's host has no token endpoint
	case rt.op == OpToken:
		caller = e.serveToken(rec, r, rt)
	case rt.op == OpCloudFlow || rt.op == OpCloudFlowPoll:
		caller = e.serveCloudFlow(rec, r, rt)
	case rt.api:
		caller = e.serveDataverse(rec, r, rt)
	default:
		http.NotFound(rec, r)
	}
}

func (e *Emulator) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// serveDataverse authenticates, applies the limits and faults and answers
// one Web API request. It returns the caller's name.
func (e *Emulator) serveDataverse(w *recorder, r *http.Request, rt route) string {
	setRequestHeaders(w)
	caller, ok := e.authenticate(r)
	if !ok {
		e.unauthorized(w, r)
		return ""
	}
	p := e.principalOf(caller)
	if p == nil {
		writeError(w, errNotMember)
		return caller
	}
	account := e.server(w, r) + "/" + caller
	release, lerr := e.admit(account)
	if lerr != nil {
		writeError(w, lerr)
		return caller
	}
	started := time.Now()
	defer func() { release(time.Since(started)) }()
	e.setRateHeaders(w, account)
	if e.applyFault(w, r, rt.op) {
		return caller
	}
	if cerr := checkContentType(r); cerr != nil {
		writeError(w, cerr)
		return caller
	}
	if aerr := e.authorize(p, rt, r.Method); aerr != nil {
		writeError(w, aerr)
		return caller
	}
	switch rt.op {
	case OpRunDesktopFlow:
		e.serveRun(w, r, rt, caller)
	case OpGetFlowSession:
		e.serveGetSession(w, r, rt)
	case OpGetOutputs:
		e.serveOutputs(w, r, rt)
	case OpCancelDesktopFlowRun:
		e.serveCancel(w, r, rt)
	case OpGetWorkflowInputs, OpGetWorkflowOutputs:
		e.serveFlowSchema(w, r, rt)
	case OpCreateRow, OpRetrieveRow, OpListRows, OpUpdateRow, OpDeleteRow:
		e.serveRows(w, r, rt)
	case OpMetadata:
		e.serveMetadata(w, r)
	case OpAction:
		e.serveAction(w, r, rt)
	case OpWhoAmI:
		e.serveWhoAmI(w, r, p)
	case OpServiceDocument:
		e.serveServiceDocument(w, r)
	default:
		e.serveUnknown(w, r, rt)
	}
	return caller
}

// route is a parsed request path.
type route struct {
	op     string
	api    bool   // under /api/data/v9.2/
	set    string // entity set, e.g. "flowsessions"
	key    string // raw key between the parentheses
	tail   string // the path after the key, e.g. "/outputs/$value"
	tenant string // token endpoint only
	method string // the method the operation wants
	table  *table // row operations: the table of the entity set
}

func parseRoute(path string) route {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" {
		return route{op: OpToken, tenant: parts[0], method: http.MethodPost}
	}
	if op, ok := cloudFlowOp(parts); ok {
		return route{op: op}
	}
	rest, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return route{op: OpOther}
	}
	switch rest {
	case "":
		return route{op: OpServiceDocument, api: true, method: http.MethodGet}
	case "WhoAmI", "WhoAmI()":
		return route{op: OpWhoAmI, api: true, set: "WhoAmI", method: http.MethodGet}
	}
	rt := route{op: OpOther, api: true, set: rest}
	open, close := strings.IndexByte(rest, '('), strings.IndexByte(rest, ')')
	if open > 0 && close > open {
		rt.set, rt.key, rt.tail = rest[:open], rest[open+1:close], rest[close+1:]
	} else if i := strings.IndexByte(rest, '/'); i >= 0 {
		rt.set, rt.tail = rest[:i], rest[i:]
	}
	switch {
	case rt.set == "workflows" && rt.key != "" && rt.tail == "/Microsoft.Dynamics.CRM.RunDesktopFlow":
		rt.op, rt.method = OpRunDesktopFlow, http.MethodPost
	case rt.set == "workflows" && rt.key != "" && rt.tail == "/inputs/$value":
		rt.op, rt.method = OpGetWorkflowInputs, http.MethodGet
	case rt.set == "workflows" && rt.key != "" && rt.tail == "/outputs/$value":
		rt.op, rt.method = OpGetWorkflowOutputs, http.MethodGet
	case rt.set == "flowsessions" && rt.key != "" && rt.tail == "":
		rt.op, rt.method = OpGetFlowSession, http.MethodGet
	case rt.set == "flowsessions" && rt.key != "" && rt.tail == "/outputs/$value":
		rt.op, rt.method = OpGetOutputs, http.MethodGet
	case rt.set == "flowsessions" && rt.key != "" && rt.tail == "/Microsoft.Dynamics.CRM.CancelDesktopFlowRun":
		rt.op, rt.method = OpCancelDesktopFlowRun, http.MethodPost
	}
	return rt
}

// orgURL is the organization URL as the client addressed it.
func orgURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// unauthorized answers 401 with Dataverse's challenge and an empty body.
func (e *Emulator) unauthorized(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("WWW-Authenticate", "Bearer authorization_uri=https://login.microsoftonline.com/"+e.opts.Tenant+"/oauth2/authorize, resource_id="+orgURL(r)+"/")
	h.Set("OData-Version", "4.0")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

// serveUnknown answers requests that are not one of the emulated operations
// the way Dataverse answers unknown segments and wrong methods.
func (e *Emulator) serveUnknown(w http.ResponseWriter, r *http.Request, rt route) {
	switch {
	case rt.set != "workflows" && rt.set != "flowsessions":
		writeError(w, newError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", rt.set)))
	case rt.key == "" && rt.tail == "" && r.Method != http.MethodGet && r.Method != http.MethodPost:
		writeError(w, methodNotAllowed(r))
	case rt.key == "" && rt.tail == "":
		writeError(w, newError(http.StatusNotImplemented, CodeUnexpected, fmt.Sprintf("The emulator does not implement %s on the %s collection.", r.Method, rt.set)))
	case rt.tail != "":
		seg := strings.Split(strings.TrimPrefix(rt.tail, "/"), "/")[0]
		writeError(w, newError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg)))
	default:
		writeError(w, newError(http.StatusNotImplemented, CodeUnexpected, fmt.Sprintf("The emulator does not implement %s on %s rows.", r.Method, rt.set)))
	}
}

// methodNotAllowed is the documented 405 for a method a collection does not
// support (PATCH or DELETE on an entity set).
func methodNotAllowed(r *http.Request) *odataError {
	return newError(http.StatusMethodNotAllowed, "", fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
}

// wrongMethod answers a known operation called with another method.
func wrongMethod(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError(http.StatusNotFound, "", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s%s'.", orgURL(r), r.URL.RequestURI())))
}
