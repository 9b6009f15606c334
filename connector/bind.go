package connector

import (
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
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Variables the native job type reads, as Camunda's Power Automate template names them.
var nativeVariables = []string{
	"operationType", "organizationUri", "authentication", "flowSessionId", "workflowId",
	"connectionName", "connectionType", "runMode", "runPriority", "runTimeout", "runInputs",
	"callbackUrl", "connectionTimeoutInSeconds", "pollInterval", "waitMode", RecordedRunVariable,
}

// Variables of Camunda's REST connector (io.camunda:http-json:1), read in compatibility mode.
var restVariables = []string{
	"method", "url", "headers", "queryParameters", "body", "authentication",
	"connectionTimeoutInSeconds", "readTimeoutInSeconds", RecordedRunVariable,
}

// DefaultConnectionTimeout is the template's connectionTimeoutInSeconds default.
const DefaultConnectionTimeout = 20 * time.Second

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

// bindNative turns the native job type's variables into a call.
func bindNative(v map[string]any) (*bound, error) {
	opName, err := str(v, "operationType", true)
	if err != nil {
		return nil, err
	}
	org, err := orgURL(v)
	if err != nil {
		return nil, err
	}
	b := &bound{org: org}
	if b.timeout, err = seconds(v, "connectionTimeoutInSeconds", DefaultConnectionTimeout); err != nil {
		return nil, err
	}
	if b.creds, b.scrub, err = credentials(v["authentication"], org); err != nil {
		return nil, err
	}
	switch operations.Op(opName) {
	case OpRunFlowAndWait:
		b.wait = true
		if b.pollInterval, err = pollInterval(v); err != nil {
			return nil, err
		}
		fallthrough
	case operations.OpTrigger:
		wf, err := id(v, "workflowId")
		if err != nil {
			return nil, err
		}
		body, err := triggerBody(v, map[string]string{"timeout": "runTimeout", "inputs": "runInputs"})
		if err != nil {
			return nil, err
		}
		if b.call, err = operations.Trigger(org, wf, body); err != nil {
			return nil, err
		}
		b.connection = body.ConnectionName
		b.workflow, b.body = wf, body
		if b.waitMode, err = str(v, "waitMode", false); err != nil {
			return nil, err
		}
		if b.waitMode = strings.ToLower(strings.TrimSpace(b.waitMode)); b.waitMode != "" && b.waitMode != WaitPoll && b.waitMode != WaitCallback {
			return nil, inputErr("waitMode", "must be poll or callback, got %s", excerpt(b.waitMode, 40))
		}
	case operations.OpStatus, operations.OpOutputs, operations.OpCancel:
		sid, err := id(v, "flowSessionId")
		if err != nil {
			return nil, err
		}
		b.call = map[operations.Op]func(string, string) operations.Call{
			operations.OpStatus:  operations.Status,
			operations.OpOutputs: operations.Outputs,
			operations.OpCancel:  operations.Cancel,
		}[operations.Op(opName)](org, sid)
	default:
		return nil, inputErr("operationType", "unknown operation %q (want triggerFlowRun, getStatusOfFlowRun, getFlowOutputs, cancelFlowRun or runFlowAndWait)", opName)
	}
	return b, nil
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
			tb, err := triggerBody(m, map[string]string{})
			if err != nil {
				var ie *InputError
				if errors.As(err, &ie) {
					ie.Field = "body." + ie.Field
				}
				return nil, err
			}
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
	m, ok := a.(map[string]any)
	if !ok {
		if a == nil {
			return nil, nil, inputErr("authentication", "is required")
		}
		return nil, nil, inputErr("authentication", "must be a context (map), got %s", typeName(a))
	}
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
		if len(c.Scopes) == 0 && org != "" {
			c.Scopes = []string{org + "/.default"}
		}
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

// triggerBody binds RunDesktopFlow's fields with the types Dataverse declares. names maps a body
// field to the variable that holds it when they differ (runTimeout, runInputs).
func triggerBody(v map[string]any, names map[string]string) (operations.RunDesktopFlowBody, error) {
	name := func(f string) string {
		if n, ok := names[f]; ok {
			return n
		}
		return f
	}
	var b operations.RunDesktopFlowBody
	var err error
	if b.ConnectionName, err = str(v, "connectionName", true); err != nil {
		return b, err
	}
	mode, err := str(v, "runMode", true)
	if err != nil {
		return b, err
	}
	b.RunMode = strings.ToLower(strings.TrimSpace(mode))
	if b.RunMode != "attended" && b.RunMode != "unattended" {
		return b, inputErr("runMode", "must be attended or unattended, got %s", excerpt(mode, 40))
	}
	if b.RunPriority, err = str(v, "runPriority", false); err != nil {
		return b, err
	}
	if b.RunPriority == "" {
		b.RunPriority = "normal"
	}
	ct, err := integer(v, "connectionType", 1)
	if err != nil {
		return b, err
	}
	if ct != 1 && ct != 2 {
		return b, inputErr("connectionType", "must be 1 (connection) or 2 (connection reference), got %d", ct)
	}
	b.ConnectionType = int32(ct)
	to, err := integer(v, name("timeout"), 7200)
	if err != nil {
		return b, err
	}
	if to < 1 || to > 86400 {
		return b, inputErr(name("timeout"), "must be between 1 and 86400 seconds, got %d", to)
	}
	b.Timeout = int32(to)
	switch in := v[name("inputs")].(type) {
	case nil:
	case string:
		if strings.TrimSpace(in) != "" {
			obj, err := decodeJSON(in, name("inputs"))
			if err != nil {
				var ie *InputError
				if errors.As(err, &ie) && ie.Field == name("inputs") {
					ie.Msg = "must be a JSON object (as a context or a JSON string): " + strings.TrimPrefix(ie.Msg, "is ")
				}
				return b, err
			}
			if _, ok := obj.(map[string]any); !ok {
				// "null", a list or a number would reach the flow as its inputs: Dataverse takes an object.
				return b, inputErr(name("inputs"), "must be a JSON object (as a context or a JSON string), got %s", typeName(obj))
			}
			b.Inputs = in
		}
	case map[string]any:
		raw, err := json.Marshal(in)
		if err != nil {
			return b, inputErr(name("inputs"), "cannot be encoded as JSON: %v", err)
		}
		b.Inputs = string(raw)
	default:
		return b, inputErr(name("inputs"), "must be a context or a JSON object string, got %s", typeName(in))
	}
	if len(b.Inputs) > 2<<20 {
		return b, inputErr(name("inputs"), "is %d bytes; Dataverse takes at most 2 MB", len(b.Inputs))
	}
	if b.CallbackURL, err = str(v, "callbackUrl", false); err != nil {
		return b, err
	}
	return b, nil
}

func orgURL(v map[string]any) (string, error) {
	s, err := str(v, "organizationUri", true)
	if err != nil {
		return "", err
	}
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", inputErr("organizationUri", "must be an absolute URL such as https://org.crm.dynamics.com")
	}
	if u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return "", inputErr("organizationUri", "must be the organization's root URL, without path or query")
	}
	return s, nil
}

func id(v map[string]any, field string) (string, error) {
	s, err := str(v, field, true)
	if err != nil {
		return "", err
	}
	s = strings.Trim(strings.TrimSpace(s), "{}")
	if !operations.ValidID(s) {
		return "", inputErr(field, "must be a GUID such as 00000000-0000-0000-0000-000000000000, got %s", excerpt(s, 60))
	}
	return strings.ToLower(s), nil
}

// str reads a string variable; numbers are not silently accepted.
func str(v map[string]any, field string, required bool) (string, error) {
	switch s := v[field].(type) {
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
	switch n := v[field].(type) {
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
const OpRunFlowAndWait operations.Op = "runFlowAndWait"

// DefaultPollInterval is the longest pause between two status reads of runFlowAndWait.
const DefaultPollInterval = 30 * time.Second

func pollInterval(v map[string]any) (time.Duration, error) {
	s, err := str(v, "pollInterval", false)
	if err != nil || s == "" {
		return DefaultPollInterval, err
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, inputErr("pollInterval", "%v", err)
	}
	if d < time.Second || d > time.Hour {
		return 0, inputErr("pollInterval", "must be between PT1S and PT1H, got %s", s)
	}
	return d, nil
}

// sentToken holds an access token sent for the job with the job's secrets.
func (b *bound) sentToken(token string) { b.secrets.Add(token) }
