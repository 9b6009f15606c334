// Package connector turns a job into an operation call and an outcome: it decodes the job's
// variables and headers, resolves secrets, binds and validates the operation, calls it through
// egress, waits for a run when asked, and maps the answer through the result and error
// expressions into output variables or a typed outcome (outcome.go). The Zeebe adapter (package
// zeebe) runs it and answers the gateway.
package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/callback"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Handler runs one job: decode, resolve secrets, bind, check hosts, call Dataverse (or, in
// compatibility mode, any allowed REST endpoint), and map the answer through the result and
// error expressions. It returns the output variables or a typed outcome error.
type Handler struct {
	Secrets *secrets.Resolver
	// Live holds the secret values in use in the process; the callback receiver holds its
	// values there and scrubs what it publishes and records (nil: nothing is scrubbed).
	Live      *secrets.Registry
	Hosts     *egress.HostPolicy
	Tokens    *auth.Cache
	Transport http.RoundTripper // shared base transport (connection pool, host-checked dialer, limits)
	Exprs     *expr.Cache
	// CompatType is the job type served with Camunda's REST connector contract.
	CompatType string
	// MaxOutputBytes caps the JSON size of a job's output variables (default 1.5 MB).
	MaxOutputBytes int
	// MaxThrottleWaits caps in-process waits on 429 for one job (default 5).
	MaxThrottleWaits int
	// Observe, when set, is told about each Dataverse request (for metrics).
	Observe func(op operations.Op, status int, d time.Duration)
	// OnThrottle, when set, is told about each 429 and whether the worker waited in-process.
	OnThrottle func(wait time.Duration, inProcess bool)
	// Limits keeps requests under Dataverse's service-protection limits (nil: no client-side limit).
	Limits *egress.Limits
	// JobTimeout is what a waiting job's timeout is extended to each time (default 5 minutes).
	JobTimeout time.Duration
	// Callbacks, when set, lets triggers ask Power Automate for a completion callback.
	Callbacks *callback.Callbacks
	// Records signs the runs triggers record on their element instance (nil: a random key
	// for this process, see record.go).
	Records *RunRecords
	// Tables caches the tables' metadata dataverse:1 resolves names with (nil: made on first use).
	Tables *operations.Tables
	// Schemas caches desktop flows' input schemas that triggers check inputs against (nil: made
	// on first use).
	Schemas *operations.Schemas
	// References caches the connection references triggers with connectionType 2 resolve
	// (nil: made on first use).
	References *operations.References
	// Log receives warnings that do not change a job's outcome.
	Log zerolog.Logger
	Now func() time.Time
}

// CompatJobType is the job type of Camunda's REST connector, which Camunda's Power Automate
// template uses; served when HTTPJSONCompat is on.
const CompatJobType = "io.camunda:http-json:1"

// DefaultMaxOutputBytes is Camunda's limit for a connector's output variables.
const DefaultMaxOutputBytes = 1536 * 1024

// Handle runs the job. ctx carries the job's deadline. The result names the operation, also
// with an error.
func (h *Handler) Handle(ctx context.Context, job Job) (result Result, _ error) {
	op, warning := "", ""
	defer func() { result.Operation, result.Warning = op, warning }()
	hd, err := parseHeaders(job.Headers)
	if err != nil {
		return Result{}, Permanent(err)
	}
	if hd.jobTimeout > 0 && job.Lease != nil {
		// The jobTimeout header sets the job's deadline, as Camunda's runtime does.
		if err := job.Lease.Extend(ctx, hd.jobTimeout); err != nil {
			h.Log.Warn().Int64("job_key", job.Key).Str("error", err.Error()).Msg("could not apply the jobTimeout header")
		}
	}
	vars, err := decodeVariables(job.Variables)
	if err != nil {
		return Result{}, Permanent(err)
	}
	var rawAuth any
	if h.Callbacks != nil {
		rawAuth = sealedAuth(vars)
	}
	_, used, err := h.Secrets.Resolve(vars)
	if err != nil {
		return Result{}, Permanent(err)
	}
	// From here on the job's secrets are held: the adapter scrubs its answer and the log
	// scrubs every line while they are, so nothing below scrubs by itself.
	job.Secrets.Add(used...)
	for _, v := range used {
		if h.Callbacks.IsKey(v) || h.Records.isKey(v) {
			return Result{}, Permanentf("a {{secrets.…}} placeholder resolves to the worker's callback key, which jobs may not read")
		}
	}
	b, err := h.bind(job.Type, vars)
	if err != nil {
		return Result{}, Permanent(fmt.Errorf("invalid input: %w", err))
	}
	b.secrets = job.Secrets
	b.secrets.Add(b.scrub...)
	b.secrets.Add(derived(b, append(used, b.scrub...))...)
	b.rawAuth = rawAuth
	if b.wait {
		op = string(OpRunFlowAndWait)
	} else if b.call.Op != "" {
		op = string(b.call.Op)
	} else {
		op = "rest"
	}
	if warning, err = h.resolveWaitMode(b); err != nil {
		if ie := (*InputError)(nil); errors.As(err, &ie) {
			return Result{}, Permanent(fmt.Errorf("invalid input: %w", err))
		}
		return Result{}, err
	}
	var res *operations.Response
	switch {
	case b.rows != nil:
		res, err = h.runRows(ctx, job, b)
	case b.flow != nil:
		res, err = h.runCloudFlow(ctx, job, hd, b, vars)
	case b.wait:
		res, err = h.runAndWait(ctx, job, hd, b, vars)
	case b.call.Op == operations.OpCancel:
		var w string
		res, w, err = h.cancelRun(ctx, job, hd, b)
		warning = joinWarnings(warning, w)
	default:
		res, err = h.call(ctx, job, hd, b, vars)
	}
	if err != nil && ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return Result{}, err // shutdown or deadline: the adapter decides, nothing to map
	}
	out, err := h.outcome(ctx, job, hd, b, res, err)
	err = unretryable(b, err)
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return Result{}, err // an expression stopped by the job's context: the adapter decides
	}
	if err != nil {
		return Result{}, err
	}
	if err := h.checkSize(out); err != nil {
		return Result{}, err
	}
	return Result{Variables: out}, nil
}

func (h *Handler) bind(jobType string, vars map[string]any) (*bound, error) {
	var (
		b   *bound
		err error
	)
	switch {
	case h.CompatType != "" && jobType == h.CompatType:
		b, err = bindREST(vars)
	case jobType == spec.Dataverse.Type:
		b, err = bindDataverse(vars)
	default:
		b, err = bindNative(vars)
	}
	if err != nil {
		return nil, err
	}
	if err := h.Hosts.Check(b.call.URL); err != nil {
		return nil, err
	}
	if b.creds != nil && b.creds.TokenURL != "" {
		if err := h.Hosts.Check(b.creds.TokenURL); err != nil {
			return nil, fmt.Errorf("authentication.oauthTokenEndpoint: %w", err)
		}
	}
	return b, nil
}

// RecordedRunVariable is the local variable on a trigger task's element instance that holds
// the run Dataverse started, so a redelivered job (after a crash or a timeout) returns that run
// instead of starting a second one.
const RecordedRunVariable = "paConnectorRun"

// call sends the bound call; a trigger is idempotent per element instance.
func (h *Handler) call(ctx context.Context, job Job, hd headers, b *bound, vars map[string]any) (*operations.Response, error) {
	if b.call.Op != operations.OpTrigger {
		return h.send(ctx, job, hd, b, b.call)
	}
	if res, err := h.recordedRun(job, vars); res != nil || err != nil {
		return res, err
	}
	if b.validate {
		if err := h.checkInputs(ctx, job, hd, b); err != nil {
			return nil, err
		}
	}
	if err := h.checkReference(ctx, job, hd, b); err != nil {
		return nil, err
	}
	// The critical section: from here until the run is recorded, the job is answered with the
	// run or an incident, never handed back (Lease.Hold). Unrecorded, it stays held to the end.
	if err := guard(ctx, job, b, b.call.Op); err != nil {
		return nil, err
	}
	res, err := h.send(ctx, job, hd, b, b.call)
	if err != nil {
		err = h.connectionRefused(b, err)
	}
	if err == nil && job.SetLocal != nil {
		// The record holds the answer as the job's variables would: scrubbed of held secrets.
		rec, rerr := h.records().record(job, &operations.Response{Status: res.Status, Body: h.Live.Value(res.Body)})
		if rerr == nil {
			rerr = job.SetLocal(context.WithoutCancel(ctx), map[string]any{RecordedRunVariable: rec})
		}
		if rerr != nil {
			body, _ := res.Body.(map[string]any)
			b.unrecorded = fmt.Sprintf("the run %v was started but could not be recorded on the element instance (%v)", body["flowsessionId"], rerr)
			h.Log.Warn().Int64("job_key", job.Key).Str("error", rerr.Error()).
				Msg("could not record the started run on the element instance; the job will not be retried, since a redelivered job would trigger again")
		} else {
			job.release()
		}
		failpoint("after-record")
	}
	return res, err
}

// unretryable turns a retry into an incident once the job has started a run it could not
// record (bound.unrecorded): the redelivered job would not find the run and would start a
// second one. The incident names the run, so an operator can follow it in Dataverse.
func unretryable(b *bound, err error) error {
	var retry *RetryError
	if b == nil || b.unrecorded == "" || !errors.As(err, &retry) {
		return err
	}
	return Permanentf("%w; not retried: %s, and a retry would start a second run; check the run in Dataverse before resolving this incident", err, b.unrecorded)
}

// send sends one call through the client stack (Egress.Client): auth, limits, 429 waits,
// redirects, metrics and sent-detection are its layers, not this function's.
func (h *Handler) send(ctx context.Context, job Job, _ headers, b *bound, call operations.Call) (*operations.Response, error) {
	e := egress.Egress{Base: h.Transport, Tokens: h.Tokens, Limits: h.Limits, Observe: h.Observe,
		OnThrottle: h.OnThrottle, MaxThrottleWaits: h.MaxThrottleWaits, Now: h.Now}
	r := egress.Route{Op: call.Op, Credentials: b.creds, OnToken: b.sentToken, Timeout: b.timeout, Deadline: job.deadline}
	if h.Limits != nil && b.org != "" {
		r.Identity = egress.Identity(b.org, b.creds)
		if call.Op == operations.OpTrigger {
			r.Connection = b.connection
		}
	}
	client := operations.Client{HTTP: e.Client(r), Redact: h.Live.Value}
	return client.Do(ctx, call)
}

// guard starts the critical section of a request of op that cannot be repeated (unrepeatable)
// and marks it as on its way, just before it is sent: from here on neither a shutdown nor a
// lapsed lease hands the job back; an interruption is an incident saying what may have
// happened (Lease.Hold). The hold lasts until the job is answered, except a desktop-flow
// trigger's, released once its run is recorded. A repeatable request is not held. On an error
// the request must not be sent.
func guard(ctx context.Context, job Job, b *bound, op operations.Op) error {
	what := unrepeatable(op, b)
	if what == "" {
		return nil
	}
	if err := job.hold(ctx, b.timeout); err != nil {
		return err
	}
	job.sending(what)
	return nil
}

// throttled is a 429 the worker could not wait out within the job's deadline.
type throttled struct {
	err  *operations.HTTPError
	wait time.Duration
}

func (t *throttled) Error() string {
	return fmt.Sprintf("%v (throttled by Dataverse; retry after %s)", t.err, t.wait)
}
func (t *throttled) Unwrap() error { return t.err }

// outcome evaluates the expressions and classifies a failure.
func (h *Handler) outcome(ctx context.Context, job Job, hd headers, b *bound, res *operations.Response, callErr error) (map[string]any, error) {
	var exprCtx map[string]any
	var response map[string]any
	if callErr == nil {
		response = responseContext(b, res)
		exprCtx = make(map[string]any, len(response)+2)
		for k, v := range response {
			exprCtx[k] = v
		}
		exprCtx["response"] = response
	} else {
		exprCtx = map[string]any{"error": errorContext(callErr)}
	}
	exprCtx["job"] = map[string]any{"retries": int64(job.Retries)}

	if hd.errorExpression != "" {
		decided, vars, err := h.errorExpression(ctx, job, hd, exprCtx)
		if err != nil {
			return nil, err
		}
		if decided != nil {
			return nil, decided
		}
		if vars != nil { // ignoreError(): complete with these variables
			return vars, nil
		}
	}
	if callErr != nil {
		return nil, classify(callErr, hd, b)
	}
	if b.wait {
		summary, _ := res.Body.(map[string]any)
		if code, _ := summary["statusCode"].(int64); !operations.Succeeded(int(code)) {
			return nil, failedRun(summary)
		}
		if hd.resultExpression == "" && hd.resultVariable == "" {
			return map[string]any{"flowSessionId": summary["flowSessionId"], "statusCode": summary["statusCode"],
				"statusName": summary["statusName"], "flowOutputs": summary["outputs"]}, nil
		}
	}
	out := map[string]any{}
	if hd.resultVariable != "" {
		out[hd.resultVariable] = response
	}
	if hd.resultExpression != "" {
		p, err := h.Exprs.Compile(hd.resultExpression)
		if err != nil {
			return nil, Permanentf("result expression: %w", err)
		}
		v, ws, err := p.EvalWarnings(ctx, exprCtx, expr.Scrub(h.Live.Message))
		h.logWarnings(job, "resultExpression", ws)
		if err != nil {
			return nil, exprFailed(ctx, "result expression", err)
		}
		switch m := v.(type) {
		case nil:
		case map[string]any:
			for k, x := range m {
				out[k] = x
			}
		default:
			return nil, Permanentf("result expression: must evaluate to a context (map), got %s", typeName(v))
		}
	}
	return out, nil
}

// logWarnings logs at debug the FEEL warnings of a job's expression (header names it): why
// parts of it gave null, as feel-scala reports them. The job's secrets are held, so the log
// scrubs them.
func (h *Handler) logWarnings(job Job, header string, ws []expr.Warning) {
	if len(ws) == 0 {
		return
	}
	texts := make([]string, len(ws))
	for i, w := range ws {
		texts[i] = w.String()
	}
	h.Log.Debug().Int64("job_key", job.Key).Str("expression", header).Strs("feel_warnings", texts).Msg("the expression reported warnings")
}

// errorExpression returns an outcome error, or variables to complete with (ignoreError), or
// neither (no error).
func (h *Handler) errorExpression(ctx context.Context, job Job, hd headers, exprCtx map[string]any) (error, map[string]any, error) {
	p, err := h.Exprs.Compile(hd.errorExpression)
	if err != nil {
		return nil, nil, Permanentf("error expression: %w", err)
	}
	v, ws, err := p.EvalWarnings(ctx, exprCtx, expr.Scrub(h.Live.Message))
	h.logWarnings(job, "errorExpression", ws)
	if err != nil {
		return nil, nil, exprFailed(ctx, "error expression", err)
	}
	m, ok := v.(map[string]any)
	if v == nil || (ok && len(m) == 0) {
		return nil, nil, nil
	}
	if !ok {
		return nil, nil, Permanentf("error expression: must evaluate to null or a context made by bpmnError(), jobError() or ignoreError(), got %s", typeName(v))
	}
	vars, _ := m["variables"].(map[string]any)
	msg, _ := m["message"].(string)
	switch m[expr.ErrorType] {
	case expr.TypeIgnoreError:
		if vars == nil {
			vars = map[string]any{}
		}
		return nil, vars, nil
	case expr.TypeJobError:
		var backoff time.Duration
		if rb := m["retryBackoff"]; rb != nil {
			s, ok := rb.(string)
			if !ok {
				return nil, nil, Permanentf("error expression: jobError retryBackoff: must be an ISO-8601 duration such as PT30S, got %s", typeName(rb))
			}
			var err error
			if backoff, err = boundedDuration(s, 0, MaxRetryBackoff); err != nil {
				return nil, nil, Permanentf("error expression: jobError retryBackoff: %w", err)
			}
		}
		retries, err := jobErrorRetries(m["retries"])
		if err != nil {
			return nil, nil, Permanentf("error expression: jobError retries: %w", err)
		}
		return &JobError{Message: msg, Variables: vars, Retries: retries, Backoff: backoff}, nil, nil
	case expr.TypeBPMNError, nil:
		code, _ := m["code"].(string)
		if code == "" {
			return nil, nil, Permanentf("error expression: the context has no error code; use bpmnError(code, message)")
		}
		return &BPMNError{Code: code, Message: msg, Variables: vars}, nil, nil
	}
	return nil, nil, Permanentf("error expression: unknown errorType %v", m[expr.ErrorType])
}

// exprFailed is the outcome of an expression that failed. Stopped because the job's context
// ended (lease expired, shutdown), it is returned as is: the adapter decides, as for a call.
// Anything else, an *expr.BudgetError included, is an incident naming the expression (what)
// and, for a budget, the limit.
func exprFailed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	return Permanentf("%s: %w", what, err)
}

// classify turns a call failure with no error-expression decision into an outcome.
func classify(err error, hd headers, b *bound) error {
	var (
		he *operations.HTTPError
		te *operations.TransportError
		ke *auth.TokenError
		ho *egress.HostError
		re *egress.RedirectError
		ie *operations.InputError
		ae *operations.AnswerError
	)
	var (
		retry *RetryError
		perm  *PermanentError
	)
	switch {
	case errors.As(err, &retry), errors.As(err, &perm):
		return err // already an outcome
	case errors.As(err, &ie):
		return rowsInput(ie)
	case errors.As(err, &he) && he.Status == http.StatusTooManyRequests:
		// The stack waited in process as long as the job's deadline allowed: hand the job
		// back for Retry-After (1 s when none was named) or the retryBackoff header, whichever
		// is longer, keeping its retries.
		wait := he.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		wait = max(wait, hd.retryBackoff)
		return &RetryError{Err: &throttled{err: he, wait: wait}, Backoff: wait, KeepRetries: true}
	case errors.As(err, &ho), errors.As(err, &re), errors.As(err, &ae):
		return Permanent(err)
	case errors.As(err, &ke):
		if ke.Permanent {
			return Permanentf("authentication failed: %w", err)
		}
		return &RetryError{Err: fmt.Errorf("authentication failed: %w", err), Backoff: max(hd.retryBackoff, ke.RetryAfter)}
	case errors.As(err, &he):
		if he.Status == http.StatusRequestTimeout || he.Status >= 500 {
			if what := unrepeatable(he.Op, b); what != "" && b != nil && (b.rows != nil || he.Op == operations.OpTrigger) && !he.OData {
				// Dataverse's own error (an OData error body) means the write's (or the
				// RunDesktopFlow action's) transaction rolled back, so it is retried; a 5xx or
				// 408 without one came from a gateway or proxy in front of it, and the write may
				// have been done, the run may have started.
				return Permanentf("%w: %s", err, what)
			}
			return &RetryError{Err: err, Backoff: max(hd.retryBackoff, he.RetryAfter)}
		}
		return Permanent(err)
	case errors.As(err, &te):
		if what := unrepeatable(te.Op, b); what != "" && egress.MayHaveBeenSent(err) {
			// RunDesktopFlow, a flow's trigger, a create and an action have no idempotency key:
			// a request that may have reached its server must not be sent again blindly, or a
			// second run, row or action could happen. One that failed before it was sent (the token endpoint, DNS,
			// dial, TLS handshake) is retried.
			return Permanentf("%w: %s", err, what)
		}
		return &RetryError{Err: err, Backoff: hd.retryBackoff}
	case auth.IsPermanent(err):
		return Permanentf("authentication failed: %w", err)
	}
	return &RetryError{Err: err, Backoff: hd.retryBackoff}
}

// unrepeatable says what a request of op that may have reached its server may have done, when
// sending it again could do it twice; "" when a retry is safe (reads, an update or delete that
// any state satisfies).
func unrepeatable(op operations.Op, b *bound) string {
	switch op {
	case operations.OpTrigger:
		return "the trigger's outcome is unknown, a run may have started; check the desktop flow's runs before resolving this incident (a retry triggers again)"
	case operations.OpRunCloudFlow: // polls are repeated in place, so this is the trigger
		return "the call's outcome is unknown, the flow may have started; check its run history before resolving this incident (a retry calls the trigger again)"
	case operations.OpCreateRow:
		return "the create's outcome is unknown, the row may have been created; check the table before resolving this incident (a retry creates another row)"
	case operations.OpPerformAction:
		return "the action's outcome is unknown, it may have run; check its effects before resolving this incident (a retry runs it again)"
	case operations.OpUpdateRow, operations.OpDeleteRow:
		if b != nil && b.etag {
			return "the outcome is unknown, the row may have been changed; check it before resolving this incident (a retry with the same ifMatch ETag is refused as a conflict)"
		}
	}
	return ""
}

// responseContext is the REST connector's response as expressions see it: status, headers
// (a header with several values becomes a list) and body; the status operation adds statusName.
func responseContext(b *bound, res *operations.Response) map[string]any {
	hdrs := make(map[string]any, len(res.Header))
	for k, v := range res.Header {
		if len(v) == 1 {
			hdrs[k] = v[0]
		} else {
			l := make([]any, len(v))
			for i, s := range v {
				l[i] = s
			}
			hdrs[k] = l
		}
	}
	out := map[string]any{"status": int64(res.Status), "headers": hdrs, "body": res.Body}
	if b.call.Op == operations.OpStatus {
		if m, ok := res.Body.(map[string]any); ok {
			if code, ok := m["statuscode"].(int64); ok {
				out["statusName"] = operations.StatusName(int(code))
			}
		}
	}
	return out
}

// errorContext is Camunda's error context: code is the HTTP status as a string ("404"; "408" for
// a timeout), message the reason phrase, variables.response the answer.
func errorContext(err error) map[string]any {
	var (
		he *operations.HTTPError
		te *operations.TransportError
		ke *auth.TokenError
	)
	out := map[string]any{"type": "io.camunda.connector.api.error.ConnectorException", "message": err.Error()}
	switch {
	case errors.As(err, &he):
		out["code"] = fmt.Sprint(he.Status)
		out["message"] = he.Reason
		hdrs := map[string]any{}
		for k, v := range he.Header {
			hdrs[k] = strings.Join(v, ",")
		}
		vars := map[string]any{"response": map[string]any{"headers": hdrs, "body": he.Body}}
		if he.Code != "" {
			// Dataverse's own error code and message (0x80060882, ...), beside the HTTP status.
			vars["code"], vars["message"] = he.Code, he.Message
		}
		out["variables"] = vars
	case errors.As(err, &te) && te.Timeout:
		out["code"] = "408"
	case errors.As(err, &ke):
		out["code"] = fmt.Sprint(ke.Status)
	}
	return out
}

func (h *Handler) checkSize(out map[string]any) error {
	limit := h.MaxOutputBytes
	if limit == 0 {
		limit = DefaultMaxOutputBytes
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return Permanentf("output variables cannot be encoded as JSON: %v", err)
	}
	if len(raw) > limit {
		return Permanentf("output variables are %d bytes, over the limit of %d bytes: narrow them with a result expression", len(raw), limit)
	}
	return nil
}

// joinWarnings joins two warnings of one job.
func joinWarnings(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
