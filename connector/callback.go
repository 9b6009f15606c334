package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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
// of their own, else poll.
func (h *Handler) resolveWaitMode(b *bound) error {
	if b.call.Op == "" || b.workflow == "" {
		return nil // not a native trigger
	}
	own := b.body.CallbackURL != ""
	switch b.waitMode {
	case WaitCallback:
		if h.Callbacks == nil {
			return inputErr("waitMode", "callback needs the worker's PA_CONNECTOR_PUBLIC_URL (and PA_CONNECTOR_CALLBACK_KEY); this worker has none, use poll")
		}
		if own {
			return inputErr("waitMode", "callback makes the worker send its own callbackUrl; leave callbackUrl empty or use poll")
		}
	case WaitPoll:
	case "":
		b.waitMode = WaitPoll
		if h.Callbacks != nil && !own {
			b.waitMode = WaitCallback
		}
	}
	return nil
}

// addCallbackURL puts a fresh callbackUrl into a native trigger's body.
func (h *Handler) addCallbackURL(b *bound) error {
	mode := callback.ModeMessage
	if b.wait {
		mode = callback.ModeWait
	}
	u, tok, err := h.Callbacks.URL(b.org, b.workflow, mode, time.Duration(b.body.Timeout)*time.Second, b.rawAuth, h.now())
	if err != nil {
		return err
	}
	b.secrets.Add(tok)
	body := b.body
	body.CallbackURL = u
	call, err := operations.Trigger(b.org, b.workflow, body)
	if err != nil {
		return err
	}
	b.call = call
	return nil
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
// {{secrets.…}} placeholders the trigger's variables used anywhere. The receiver resolves them
// with the credentials and holds their values while it handles the callback, so that a run's
// outputs echoing a secret the trigger passed in are scrubbed from the message it publishes.
// Only names travel; credentials() ignores the key.
const SecretRefsKey = "paConnectorSecrets"

// maxSecretRefs bounds the placeholders a token carries (the token travels in a URL).
const maxSecretRefs = 32

// withSecretRefs returns the authentication object auth with the placeholders found in vars
// under SecretRefsKey; auth that is not an object is returned as it is.
func withSecretRefs(auth any, vars map[string]any) any {
	m, ok := auth.(map[string]any)
	if !ok {
		return auth
	}
	refs := secrets.Placeholders(vars)
	if len(refs) == 0 {
		return auth
	}
	l := make([]any, 0, min(len(refs), maxSecretRefs))
	for _, r := range refs[:min(len(refs), maxSecretRefs)] {
		l = append(l, r)
	}
	m[SecretRefsKey] = l
	return m
}

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
