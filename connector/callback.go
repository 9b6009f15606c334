package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/callback"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// The handler's side of completion callbacks (package callback): a trigger asks for one by
// sending a callbackUrl, and the receiver has the handler read the finished run.

// WaitMode values of the waitMode variable.
const (
	WaitPoll     = "poll"
	WaitCallback = "callback"
)

// resolveWaitMode decides how a native trigger learns that its run ended: the waitMode
// variable, else callback when the worker has a public URL and the modeler set no callbackUrl
// of their own, else poll. In callback mode it puts the worker's callbackUrl into the body.
//
// A callback URL that would not fit Dataverse's callbackurl column (credentials given literally
// travel sealed in it: a JWT bearer token makes it about 3,600 characters) is never sent. A task
// that insisted on callbacks (waitMode callback) gets an input error; a task that left the choice
// to the worker (waitMode empty) is triggered without a callbackUrl, as with poll, and the returned
// warning goes on the job's log line.
func (h *Handler) resolveWaitMode(b *bound) (warning string, _ error) {
	if b.call.Op == "" || b.workflow == "" {
		return "", nil // not a native trigger
	}
	own := b.body.CallbackURL != ""
	insisted := b.waitMode == WaitCallback
	switch b.waitMode {
	case WaitCallback:
		if h.Callbacks == nil {
			return "", inputErr("waitMode", "callback needs the worker's PA_CONNECTOR_PUBLIC_URL (and PA_CONNECTOR_CALLBACK_KEY); this worker has none, use poll")
		}
		if own {
			return "", inputErr("waitMode", "callback makes the worker send its own callbackUrl; leave callbackUrl empty or use poll")
		}
	case WaitPoll:
	case "":
		b.waitMode = WaitPoll
		if h.Callbacks != nil && !own {
			b.waitMode = WaitCallback
		}
	}
	if b.waitMode != WaitCallback {
		return "", nil
	}
	err := h.addCallbackURL(b)
	var long *callback.TooLongError
	if !errors.As(err, &long) {
		return "", err
	}
	why := fmt.Sprintf("the worker's callback URL would be %d characters, and Dataverse stores at most %d", long.Length, operations.MaxCallbackURL)
	if insisted {
		field, fix := "waitMode", "set waitMode to poll"
		if literalCredentials(b.rawAuth) {
			field, fix = "authentication", "give the credentials as {{secrets.NAME}} placeholders (they travel as references), or set waitMode to poll"
		}
		return "", inputErr(field, "waitMode is callback, but %s (credentials given literally travel sealed in it); %s", why, fix)
	}
	b.waitMode = WaitPoll
	then := "runFlowAndWait polls the status instead"
	if !b.wait {
		then = "the run is triggered without a callbackUrl, so no completion message is published for it"
	}
	return fmt.Sprintf("callback skipped: %s (credentials given literally travel sealed in it); %s. Give the credentials as {{secrets.NAME}} placeholders, or set waitMode (poll, or callback to make this an incident)", why, then), nil
}

// addCallbackURL puts a fresh callbackUrl into a native trigger's body; a URL that would be too
// long for Dataverse is a *callback.TooLongError and changes nothing.
func (h *Handler) addCallbackURL(b *bound) error {
	mode := callback.ModeMessage
	if b.wait {
		mode = callback.ModeWait
	}
	u, tok, err := h.Callbacks.URL(b.org, b.workflow, mode, time.Duration(b.body.Timeout)*time.Second, b.rawAuth, h.now())
	if err != nil {
		return err
	}
	body := b.body
	body.CallbackURL = u
	call, err := operations.Trigger(b.org, b.workflow, body)
	if err != nil {
		return err
	}
	b.secrets.Add(tok)
	b.body, b.call = body, call
	return nil
}

// literalCredentials reports whether a sealed authentication object holds a credential given
// literally, not as a {{secrets.…}} placeholder.
func literalCredentials(sealed any) bool {
	m, _ := sealed.(map[string]any)
	for _, k := range []string{"token", "clientSecret"} {
		if v, _ := m[k].(string); strings.TrimSpace(v) != "" && len(secrets.Placeholders(v)) == 0 {
			return true
		}
	}
	return false
}

// sealedAuthFields are the fields of the authentication variable a callback token seals, by
// type: those credentials() reads. Others would only lengthen the callback URL.
var sealedAuthFields = map[string][]string{
	auth.TypeBearer:            {"type", "token"},
	auth.TypeClientCredentials: {"type", "oauthTokenEndpoint", "clientId", "clientSecret", "clientAuthentication", "scopes"},
}

// sealedAuth is what a callback token seals of a job, taken before its secrets are resolved
// (Resolve rewrites vars in place): the authentication variable's sealedAuthFields as the job
// gave them, so a {{secrets.NAME}} placeholder travels as the reference and is resolved by the
// receiver from its own secrets, and under SecretRefsKey the placeholders the job's other
// variables use.
func sealedAuth(vars map[string]any) any {
	raw := vars["authentication"]
	m, ok := raw.(map[string]any)
	if !ok {
		return cloneJSON(raw)
	}
	typ, _ := m["type"].(string)
	fields := sealedAuthFields[strings.ToLower(strings.TrimSpace(typ))]
	if fields == nil {
		return cloneJSON(raw) // binding refuses it
	}
	out := make(map[string]any, len(fields)+1)
	for _, k := range fields {
		if v, ok := m[k]; ok {
			out[k] = cloneJSON(v)
		}
	}
	inAuth := map[string]bool{}
	for _, p := range secrets.Placeholders(out) {
		inAuth[p] = true
	}
	var refs []any
	for _, p := range secrets.Placeholders(vars) {
		if !inAuth[p] && len(refs) < maxSecretRefs {
			refs = append(refs, p)
		}
	}
	if len(refs) > 0 {
		out[SecretRefsKey] = refs
	}
	return out
}

// cloneJSON deep-copies a decoded JSON value (maps and slices), so resolving secrets in the
// job's variables leaves the copy's placeholders as they were.
func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneJSON(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = cloneJSON(x)
		}
		return l
	}
	return v
}

// SecretRefsKey is the key, in the authentication object a callback token seals, of the
// {{secrets.…}} placeholders the trigger's variables used outside the authentication. The
// receiver resolves them with the credentials and holds their values while it handles the
// callback, so that a run's outputs echoing a secret the trigger passed in are scrubbed from the
// message it publishes. Only names travel; credentials() ignores the key.
const SecretRefsKey = "paConnectorSecrets"

// maxSecretRefs bounds the placeholders a token carries (the token travels in a URL).
const maxSecretRefs = 32

// callbackColumns are the flowsession columns the receiver has read: the status columns and
// the workflow the run belongs to, checked against the token's.
const callbackColumns = operations.StatusColumns + ",_regardingobjectid_value"

// ReadFinishedRun reads a run a verified callback names (callback.RunReader), with the
// credentials its token sealed: it holds the trigger's secrets in held (one that is gone by now
// is not needed to read), checks that the run belongs to the token's workflow and has ended,
// and returns its summary (outputs included). Refusals are *callback.Error.
func (h *Handler) ReadFinishedRun(ctx context.Context, run callback.Run, held *secrets.Set) (map[string]any, error) {
	auth := run.Auth
	if refs, ok := auth[SecretRefsKey].([]any); ok {
		delete(auth, SecretRefsKey)
		for _, r := range refs {
			if _, vals, err := h.Secrets.Resolve(r); err == nil {
				held.Add(vals...)
			}
		}
	}
	_, used, err := h.Secrets.Resolve(auth)
	if err != nil {
		return nil, &callback.Error{Status: http.StatusInternalServerError, Reason: "credentials unavailable", Err: err}
	}
	held.Add(used...)
	b := &bound{org: run.Org, timeout: DefaultConnectionTimeout, secrets: held}
	if b.creds, b.scrub, err = credentials(auth, run.Org); err == nil {
		held.Add(b.scrub...)
		held.Add(derived(b, append(used, b.scrub...))...)
		err = h.Hosts.Check(run.Org)
		if err == nil && b.creds.TokenURL != "" {
			err = h.Hosts.Check(b.creds.TokenURL)
		}
	}
	if err != nil {
		return nil, &callback.Error{Status: http.StatusInternalServerError, Reason: "credentials unusable", Err: err}
	}
	job := Job{Deadline: time.Now().Add(25 * time.Second)} // bounds in-process waits on 429
	call := operations.Status(b.org, run.ID)
	call.URL = strings.Replace(call.URL, operations.StatusColumns, callbackColumns, 1)
	res, err := h.send(ctx, job, headers{}, b, call)
	var he *operations.HTTPError
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return nil, &callback.Error{Status: http.StatusForbidden, Reason: "unknown run"}
	case errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden || he.Status == http.StatusBadRequest):
		return nil, &callback.Error{Status: http.StatusBadGateway, Reason: "dataverse refused", Err: err}
	case err != nil:
		return nil, err
	}
	row, _ := res.Body.(map[string]any)
	// The run must name the token's workflow: a row whose workflow is null, missing or not a
	// string belongs to no workflow the token speaks for.
	if wf, _ := row["_regardingobjectid_value"].(string); wf == "" || !strings.EqualFold(wf, run.Workflow) {
		return nil, &callback.Error{Status: http.StatusForbidden, Reason: "workflow mismatch"}
	}
	code, ok := row["statuscode"].(int64)
	if !ok || !operations.Terminal(int(code)) {
		return nil, &callback.Error{Status: http.StatusServiceUnavailable, Reason: "run not ended",
			Err: fmt.Errorf("the run has statuscode %v in Dataverse", row["statuscode"])}
	}
	return h.summarize(ctx, job, headers{}, b, run.ID, row)
}
