package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Variables the native job types read: operationType, the declared fields of every operation,
// and the recorded run.
var nativeVariables = func() []string {
	out := []string{"operationType"}
	seen := map[string]bool{}
	for _, j := range spec.JobTypes {
		for _, f := range j.Fields() {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f.Name)
			}
		}
	}
	return append(out, RecordedRunVariable)
}()

// Variables of Camunda's REST connector (io.camunda:http-json:1), read in compatibility mode.
var restVariables = []string{
	"method", "url", "headers", "queryParameters", "body", "authentication",
	"connectionTimeoutInSeconds", "readTimeoutInSeconds", RecordedRunVariable,
}

// DefaultConnectionTimeout is the declared connectionTimeoutInSeconds default.
var DefaultConnectionTimeout = time.Duration(declaredInt(spec.ConnectionTimeout)) * time.Second

// bound is a job's variables turned into one HTTP call.
type bound struct {
	call    operations.Call
	org     string            // Dataverse organization URL, "" for a plain REST call
	creds   *auth.Credentials // nil: no token needed
	timeout time.Duration
	scrub   []string // literal credentials to keep out of messages
	// secrets holds the job's secret values; the access tokens sent for the job join it.
	secrets *secrets.Set
	// connection is the trigger's connectionName, for the per-connection trigger limit.
	connection string
	// unrecorded names a run this job started but could not record on its element instance:
	// a redelivered job would not find it and would trigger again, so from then on the job
	// is never handed back for a retry (unretryable).
	unrecorded string
	// wait: runFlowAndWait — trigger, then poll until the run ends, then read its outputs.
	wait         bool
	pollInterval time.Duration
	// waitMode is how a native trigger learns that its run ended: WaitPoll or WaitCallback
	// (resolved by the handler); workflow and body are the trigger's, kept to add the callbackUrl.
	waitMode string
	workflow string
	body     operations.RunDesktopFlowBody
	// rawAuth is the authentication variable before secrets were resolved: what a callback
	// token seals, so secret placeholders stay references resolved by the receiver.
	rawAuth any
	// validate: check the trigger's inputs against the flow's input schema first (validateInputs).
	validate bool
	// rows runs a dataverse:1 operation (nil for the other job types).
	rows rowsFunc
	// etag: the write is conditional on an ETag (ifMatch other than "*"), so it cannot be
	// repeated after it may have been applied.
	etag bool
	// flow runs a cloud flow (runCloudFlow; nil for the other operations).
	flow *cloudFlow
}

// InputError is a variable that cannot be used; it names the field.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func inputErr(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// bindNative turns the native job type's variables into a call: the operation's declared fields
// are bound and checked (bindOperation), then the operation's handler builds the call.
func bindNative(v map[string]any) (*bound, error) {
	opName, b, val, err := bindOperation(v, spec.PowerAutomate, func(name string) bool { return nativeOps[name] != nil })
	if err != nil {
		return nil, err
	}
	if err := nativeOps[opName](b, val); err != nil {
		return nil, err
	}
	return b, nil
}

// bindOperation binds the fields jt declares for the operation named by operationType (one that
// has a handler), and the organization, timeout and credentials every operation carries.
func bindOperation(v map[string]any, jt *spec.JobType, handled func(string) bool) (string, *bound, values, error) {
	opName, err := str(v, "operationType", true)
	if err != nil {
		return "", nil, nil, err
	}
	op := jt.Operation(opName)
	if op == nil || !handled(opName) {
		var names []string
		for _, op := range jt.Operations {
			names = append(names, op.Name)
		}
		return "", nil, nil, inputErr("operationType", "unknown operation %q (want %s or %s)", opName,
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	val, err := bindFields(v, op.Fields, (*spec.Field).Var, op.Optional)
	if err != nil {
		return "", nil, nil, err
	}
	b := &bound{org: val.text(spec.OrganizationURI), timeout: time.Duration(val.int(spec.ConnectionTimeout)) * time.Second}
	for _, f := range op.Fields {
		if ba, ok := val[f].(boundAuth); ok { // absent only where it is optional (runCloudFlow)
			b.creds, b.scrub = ba.creds, ba.scrub
			defaultScopes(b.creds, b.org)
		}
	}
	return opName, b, val, nil
}

// nativeOps build each declared operation's call from its bound fields. Every operation
// spec.PowerAutomate declares has one, and only those (TestEveryDeclaredOperationHasAHandler).
var nativeOps = map[string]func(*bound, values) error{
	spec.OpGetStatus: func(b *bound, v values) error {
		b.call = operations.Status(b.org, v.text(spec.FlowSessionID))
		return nil
	},
	spec.OpGetOutputs: func(b *bound, v values) error {
		b.call = operations.Outputs(b.org, v.text(spec.FlowSessionID))
		return nil
	},
	spec.OpCancel: func(b *bound, v values) error {
		b.call = operations.Cancel(b.org, v.text(spec.FlowSessionID))
		return nil
	},
	spec.OpTrigger: bindTrigger,
	spec.OpRunFlowAndWait: func(b *bound, v values) error {
		b.wait, b.pollInterval = true, v.duration(spec.PollInterval)
		return bindTrigger(b, v)
	},
	spec.OpRunCloudFlow: bindCloudFlow,
	spec.OpListFlows: func(b *bound, v values) error {
		req := operations.ListDesktopFlowsRequest{Filter: v.text(spec.FlowNameFilter)}
		req.IncludeDrafts, _ = v[spec.IncludeDrafts].(bool)
		b.read(operations.OpListDesktopFlows, func(ctx context.Context, c operations.Caller, org string) (map[string]any, error) {
			return operations.ListDesktopFlows(ctx, c, org, req)
		})
		return nil
	},
	spec.OpFlowSchema: func(b *bound, v values) error {
		id := v.text(spec.WorkflowID)
		b.read(operations.OpGetDesktopFlowSchema, func(ctx context.Context, c operations.Caller, org string) (map[string]any, error) {
			return operations.GetDesktopFlowSchema(ctx, c, org, id)
		})
		return nil
	},
}

// read makes b an operation that reads through the Dataverse client (run by runRows).
func (b *bound) read(op operations.Op, fn func(ctx context.Context, c operations.Caller, org string) (map[string]any, error)) {
	b.call = operations.Call{Op: op, URL: b.org + "/"} // the organization's host, checked before any request
	b.rows = func(ctx context.Context, r *operations.Rows) (map[string]any, error) { return fn(ctx, r.Client, r.Org) }
}

func bindTrigger(b *bound, v values) error {
	wf, body := v.text(spec.WorkflowID), runBody(v)
	if n := utf8.RuneCountInString(body.CallbackURL); n > operations.MaxCallbackURL {
		return inputErr(spec.CallbackURL.Name, "is %d characters; Dataverse stores at most %d", n, operations.MaxCallbackURL)
	}
	var err error
	if b.call, err = operations.Trigger(b.org, wf, body); err != nil {
		return err
	}
	b.connection, b.workflow, b.body, b.waitMode = body.ConnectionName, wf, body, v.text(spec.WaitMode)
	b.validate, _ = v[spec.ValidateInputs].(bool)
	return nil
}

// runBody is RunDesktopFlow's body from the bound spec.TriggerFields.
func runBody(v values) operations.RunDesktopFlowBody {
	return operations.RunDesktopFlowBody{
		ConnectionName: v.text(spec.ConnectionName),
		ConnectionType: int32(v.int(spec.ConnectionType)),
		RunMode:        v.text(spec.RunMode),
		RunPriority:    v.text(spec.RunPriority),
		Timeout:        int32(v.int(spec.RunTimeout)),
		Inputs:         v.text(spec.RunInputs),
		CallbackURL:    v.text(spec.CallbackURL),
	}
}

// bindREST turns Camunda REST connector variables into a call. A URL that addresses a Dataverse
// desktop-flow operation gets that operation's type checks and coercions.
func bindREST(v map[string]any) (*bound, error) {
	method, err := str(v, "method", true)
	if err != nil {
		return nil, err
	}
	method = strings.ToUpper(method)
	switch method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
	default:
		return nil, inputErr("method", "unsupported HTTP method %q", method)
	}
	rawURL, err := str(v, "url", true)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Host == "" {
		return nil, inputErr("url", "must be an absolute URL")
	}
	if qp, ok := v["queryParameters"].(map[string]any); ok && len(qp) > 0 {
		q := u.Query()
		for _, k := range sortedKeys(qp) {
			q.Set(k, scalarString(qp[k]))
		}
		u.RawQuery = q.Encode()
	} else if v["queryParameters"] != nil && !ok {
		return nil, inputErr("queryParameters", "must be a context (map), got %s", typeName(v["queryParameters"]))
	}
	b := &bound{}
	b.call = operations.Call{Method: method, URL: u.String(), Header: http.Header{}}
	if b.timeout, err = seconds(v, "connectionTimeoutInSeconds", DefaultConnectionTimeout); err != nil {
		return nil, err
	}
	if rt, err := seconds(v, "readTimeoutInSeconds", 0); err != nil {
		return nil, err
	} else if rt > 0 && rt > b.timeout {
		b.timeout = rt
	}
	switch h := v["headers"].(type) {
	case nil:
	case map[string]any:
		for k, x := range h {
			b.call.Header.Set(k, scalarString(x))
		}
	default:
		return nil, inputErr("headers", "must be a context (map), got %s", typeName(h))
	}
	op, org, rowID, isDataverse := operations.Recognize(method, b.call.URL)
	if isDataverse {
		b.call.Op, b.org = op, org
		for k, x := range operations.Status(org, "").Header {
			if b.call.Header.Get(k) == "" {
				b.call.Header[k] = x
			}
		}
		if !operations.ValidID(rowID) {
			field := "flowSessionId"
			if op == operations.OpTrigger {
				field = "workflowId"
			}
			return nil, inputErr(field, "must be a GUID such as 00000000-0000-0000-0000-000000000000, got %s", excerpt(rowID, 60))
		}
	}
	body := v["body"]
	if s, ok := body.(string); ok && op == operations.OpTrigger {
		// A trigger's body given as JSON text gets the same checks as one given as a context:
		// "null" or a list must not reach Dataverse.
		if body, err = decodeJSON(s, "body"); err != nil {
			return nil, err
		}
		if _, ok := body.(map[string]any); !ok {
			return nil, inputErr("body", "must be a context (map) or a JSON object for RunDesktopFlow, got %s", typeName(body))
		}
	}
	switch body := body.(type) {
	case nil:
		if op == operations.OpTrigger {
			return nil, inputErr("body", "is required for RunDesktopFlow")
		}
	case string:
		if body != "" {
			b.call.Body = []byte(body)
		}
	default:
		if op == operations.OpTrigger {
			m, ok := body.(map[string]any)
			if !ok {
				return nil, inputErr("body", "must be a context (map) for RunDesktopFlow, got %s", typeName(body))
			}
			tv, err := bindFields(m, spec.TriggerFields, (*spec.Field).WireName, nil)
			if err != nil {
				var ie *InputError
				if errors.As(err, &ie) {
					ie.Field = "body." + ie.Field
				}
				return nil, err
			}
			tb := runBody(tv)
			b.connection = tb.ConnectionName
			body = tb
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, inputErr("body", "cannot be encoded as JSON: %v", err)
		}
		b.call.Body = raw
	}
	if b.call.Body != nil && b.call.Header.Get("Content-Type") == "" {
		b.call.Header.Set("Content-Type", "application/json")
	}
	if err := restAuth(v["authentication"], b, org); err != nil {
		return nil, err
	}
	return b, nil
}

// restAuth applies the REST connector's authentication types.
func restAuth(a any, b *bound, org string) error {
	m, ok := a.(map[string]any)
	if a == nil {
		return nil
	}
	if !ok {
		return inputErr("authentication", "must be a context (map), got %s", typeName(a))
	}
	typ, _ := m["type"].(string)
	switch strings.ToLower(typ) {
	case "", "noauth":
		return nil
	case "basic":
		user, _ := m["username"].(string)
		pass, _ := m["password"].(string)
		if user == "" {
			return inputErr("authentication.username", "is required for basic authentication")
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		b.call.Header.Set("Authorization", "Basic "+basic)
		b.scrub = append(b.scrub, pass, basic) // the header as a server may echo it

		return nil
	case "apikey":
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		loc, _ := m["apiKeyLocation"].(string)
		if name == "" {
			return inputErr("authentication.name", "is required for API key authentication")
		}
		b.scrub = append(b.scrub, value)
		if strings.EqualFold(loc, "query") {
			u, _ := url.Parse(b.call.URL)
			q := u.Query()
			q.Set(name, value)
			u.RawQuery = q.Encode()
			b.call.URL = u.String()
		} else {
			b.call.Header.Set(name, value)
		}
		return nil
	}
	var err error
	b.creds, b.scrub, err = credentials(a, org)
	return err
}

// credentials binds the template's authentication object for Dataverse.
func credentials(a any, org string) (*auth.Credentials, []string, error) {
	if err := authContext(a); err != nil {
		return nil, nil, err
	}
	m := a.(map[string]any)
	typ, _ := m["type"].(string)
	c := &auth.Credentials{Type: strings.ToLower(strings.TrimSpace(typ))}
	switch c.Type {
	case auth.TypeBearer:
		c.Token, _ = m["token"].(string)
		c.Token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.Token), "Bearer "))
	case auth.TypeClientCredentials:
		c.TokenURL, _ = m["oauthTokenEndpoint"].(string)
		c.ClientID, _ = m["clientId"].(string)
		c.ClientSecret, _ = m["clientSecret"].(string)
		c.ClientAuthentication, _ = m["clientAuthentication"].(string)
		switch s := m["scopes"].(type) {
		case nil:
		case string:
			c.Scopes = auth.SplitScopes(s)
		case []any:
			for _, x := range s {
				if xs, ok := x.(string); ok {
					c.Scopes = append(c.Scopes, auth.SplitScopes(xs)...)
				}
			}
		default:
			return nil, nil, inputErr("authentication.scopes", "must be a string or a list of strings, got %s", typeName(s))
		}
		defaultScopes(c, org)
	case "":
		return nil, nil, inputErr("authentication.type", "is required (bearer or oauth-client-credentials-flow)")
	default:
		return nil, nil, inputErr("authentication.type", "unknown type %q (want bearer or oauth-client-credentials-flow)", typ)
	}
	if err := c.Validate(); err != nil {
		return nil, nil, &InputError{Field: "authentication", Msg: err.Error()}
	}
	return c, []string{c.Token, c.ClientSecret}, nil
}

// str reads a string variable; numbers are not silently accepted.
func str(v map[string]any, field string, required bool) (string, error) {
	return strOf(field, v[field], required)
}

// strOf reads the string value x of field.
func strOf(field string, x any, required bool) (string, error) {
	switch s := x.(type) {
	case nil:
		if required {
			return "", inputErr(field, "is required")
		}
		return "", nil
	case string:
		if required && strings.TrimSpace(s) == "" {
			return "", inputErr(field, "is required")
		}
		return s, nil
	default:
		return "", inputErr(field, "must be a string, got %s", typeName(s))
	}
}

// integer reads a whole number given as a number or a numeric string (Zeebe passes static
// template values as strings).
func integer(v map[string]any, field string, def int64) (int64, error) {
	return integerOf(field, v[field], def)
}

// integerOf reads the whole-number value x of field.
func integerOf(field string, x any, def int64) (int64, error) {
	switch n := x.(type) {
	case nil:
		return def, nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) {
			return 0, inputErr(field, "must be a whole number, got %v", n)
		}
		if math.Abs(n) > 1<<31 {
			return 0, inputErr(field, "is out of range, got %v", n)
		}
		return int64(n), nil
	case string:
		s := strings.TrimSpace(n)
		if s == "" {
			return def, nil
		}
		i, err := strconv.ParseInt(s, 10, 32)
		if errors.Is(err, strconv.ErrRange) {
			return 0, inputErr(field, "is out of range, got %s", excerpt(n, 40))
		}
		if err != nil {
			return 0, inputErr(field, "must be a whole number, got %s", excerpt(n, 40))
		}
		return i, nil
	default:
		return 0, inputErr(field, "must be a whole number, got %s", typeName(n))
	}
}

func seconds(v map[string]any, field string, def time.Duration) (time.Duration, error) {
	n, err := integer(v, field, -1)
	if err != nil {
		return 0, err
	}
	if n == -1 {
		return def, nil
	}
	if n < 0 || n > 3600 {
		return 0, inputErr(field, "must be between 0 and 3600 seconds, got %d", n)
	}
	if n == 0 {
		return def, nil
	}
	return time.Duration(n) * time.Second, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, float64:
		return "a number"
	case map[string]any:
		return "a context"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// excerpt quotes an input value for a validation message when it has at most n characters,
// else only says how long it is. It never cuts the value: a cut could leave the prefix of a
// secret the value holds, which scrubbing (done where the message leaves the worker, and
// looking for whole secrets) would then miss.
func excerpt(s string, n int) string {
	if c := utf8.RuneCountInString(s); c > n {
		return fmt.Sprintf("a value of %d characters", c)
	}
	return strconv.Quote(s)
}

// OpRunFlowAndWait triggers a run and completes the job only when the run has ended.
const OpRunFlowAndWait operations.Op = spec.OpRunFlowAndWait

// sentToken holds an access token sent for the job with the job's secrets.
func (b *bound) sentToken(token string) { b.secrets.Add(token) }

// authContext checks that the authentication variable is there and is a context.
func authContext(a any) error {
	if _, ok := a.(map[string]any); ok {
		return nil
	}
	if a == nil {
		return inputErr("authentication", "is required")
	}
	return inputErr("authentication", "must be a context (map), got %s", typeName(a))
}

// boundAuth is an Auth field bound: the credentials and the literal secrets to scrub.
type boundAuth struct {
	creds *auth.Credentials
	scrub []string
}

// defaultScopes gives client credentials without scopes the organization's default scope.
func defaultScopes(c *auth.Credentials, org string) {
	if c.Type == auth.TypeClientCredentials && len(c.Scopes) == 0 && org != "" {
		c.Scopes = []string{org + "/.default"}
	}
}
