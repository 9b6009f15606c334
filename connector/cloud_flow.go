package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// cloudFlow is a bound runCloudFlow: whether a 202's Location is polled for the final answer,
// and the flow URL's signatures. They are held apart from the bound's other secrets (scrub): a
// secret written into a URL makes the URL's path secret too (derived), and a signature must not
// hide the trigger's path from the request log.
type cloudFlow struct {
	wait bool
	sigs []string
}

// Polling a flow's Location: the pause is the 202's Retry-After (at least minFlowPause); without
// one it grows from 1 s to 30 s. A poll that fails for a reason a retry may fix (429, 408, 5xx,
// no answer) is repeated up to maxFlowPollFailures times in a row: handing the job back would
// start the flow again.
const (
	minFlowPause        = time.Second
	maxFlowPollFailures = 3
)

// bindCloudFlow builds runCloudFlow's trigger call. The flow URL is never quoted in a message:
// it carries the trigger's signature, which joins the job's secrets.
func bindCloudFlow(b *bound, v values) error {
	raw := strings.TrimSpace(v.text(spec.FlowURL))
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return inputErr(spec.FlowURL.Name, "must be the absolute URL of the flow's HTTP trigger, such as https://prod-00.westeurope.logic.azure.com/workflows/…/triggers/manual/paths/invoke?…")
	}
	sigs := urlSigs(u)
	for _, s := range sigs {
		if n := utf8.RuneCountInString(s); n < secrets.MinLength {
			return inputErr(spec.FlowURL.Name, "has a signature (sig) of %d characters, too short to be a trigger's: copy the whole URL", n)
		}
	}
	switch {
	case len(sigs) > 0:
		// A signed URL is the trigger's credential: a bearer token beside it is refused by the
		// trigger, and the authentication variable may be the process's Dataverse one.
		b.creds = nil
	case b.creds == nil:
		return inputErr(spec.FlowURL.Name, "has no signature (sig) and no authentication is given: a trigger restricted to the tenant needs an Entra ID token for %s", spec.FlowAudience)
	case b.creds.Type == auth.TypeClientCredentials && len(b.creds.Scopes) == 0:
		b.creds.Scopes = []string{spec.FlowAudience + "/.default"}
	default:
		if err := flowAudienceOnly(b.creds); err != nil {
			return err
		}
	}
	body, err := operations.CloudFlowBody(v.text(spec.EntityLogicalName), v.text(spec.RecordID), v.context(spec.FlowInputs))
	if err != nil {
		return err
	}
	b.call = operations.CloudFlowTrigger(raw, body)
	wait, _ := v[spec.WaitForResponse].(bool) // declared default: true
	b.flow = &cloudFlow{wait: wait, sigs: sigs}
	return nil
}

// flowAudienceOnly refuses credentials that would send a flow's trigger a token for another
// audience, a Dataverse one above all (the process's authentication variable): client
// credentials' scopes must be the flow audience's, and a bearer token that is a JWT must name
// it as its aud (an opaque token cannot be read, and is sent as given).
func flowAudienceOnly(c *auth.Credentials) error {
	switch c.Type {
	case auth.TypeClientCredentials:
		for _, s := range c.Scopes {
			if !isFlowAudience(strings.TrimSuffix(s, "/.default")) {
				return inputErr("authentication.scopes", "must be %s/.default for a cloud flow's trigger (got %s): a token for another audience, such as a Dataverse organization's, is not sent to a flow's host", spec.FlowAudience, excerpt(s, 100))
			}
		}
	case auth.TypeBearer:
		if aud, ok := jwtAudiences(c.Token); ok {
			for _, a := range aud {
				if isFlowAudience(a) {
					return nil
				}
			}
			return inputErr("authentication.token", "is an access token for %s, not for %s: a token for another audience, such as a Dataverse organization's, is not sent to a flow's host", excerpt(strings.Join(aud, ", "), 200), spec.FlowAudience)
		}
	}
	return nil
}

// isFlowAudience reports whether a token audience (or a scope's resource) is spec.FlowAudience,
// with or without its trailing slash.
func isFlowAudience(s string) bool {
	return strings.EqualFold(strings.TrimSuffix(s, "/"), strings.TrimSuffix(spec.FlowAudience, "/"))
}

// jwtAudiences reads the aud claim of a token shaped as a JWT, without checking its signature
// (only to refuse sending it where it does not belong); ok is false for any other token.
func jwtAudiences(token string) (aud []string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return nil, false
	}
	switch a := claims.Aud.(type) {
	case string:
		return []string{a}, true
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				aud = append(aud, s)
			}
		}
		return aud, true
	}
	return nil, false
}

// urlSigs returns the values of a URL's sig parameters.
func urlSigs(u *url.URL) []string {
	var out []string
	for k, vs := range u.Query() {
		if strings.EqualFold(k, "sig") {
			out = append(out, vs...)
		}
	}
	return out
}

// holdSigs holds the signatures of the URLs an answer's headers carry (a Location is signed
// like the trigger) with the job's secrets, before anything of the answer is used.
func holdSigs(b *bound, h http.Header) {
	for _, vs := range h {
		for _, v := range vs {
			if !strings.Contains(strings.ToLower(v), "sig") {
				continue
			}
			if u, err := url.Parse(strings.TrimSpace(v)); err == nil {
				b.secrets.Add(urlSigs(u)...)
			}
		}
	}
}

// runCloudFlow calls the flow's trigger. A 202 with a Location is polled, when the job waits
// for the response, until the flow's final answer; a 202 without one is the answer
// ({status: 202}).
//
// A flow that accepted the call (202) and is polled is recorded on the element instance
// (RecordedRunVariable, signed as a desktop flow's run) before the first poll: a job redelivered
// after the worker died while polling is an incident, never a second call of the trigger. The
// Location is not recorded (it carries a signature), so that job cannot resume the polling.
//
// The trigger is held (guard) before it is sent, and the hold lasts until the job is answered:
// from then on a shutdown, or a lease the gateway will not extend, is an incident saying the
// flow may have started, never a hand-back that would call the trigger again.
func (h *Handler) runCloudFlow(ctx context.Context, job Job, hd headers, b *bound, vars map[string]any) (*operations.Response, error) {
	if rec, err := h.recordedRun(job, vars); err != nil {
		return nil, err
	} else if rec != nil {
		return nil, Permanentf("runCloudFlow: an earlier attempt of this task called the flow's trigger, which accepted the call (202), and the worker stopped before reading its answer: "+
			"calling the trigger again would start the flow a second time. Check the flow's run history; to call it again, set %s to null on the task before resolving this incident", RecordedRunVariable)
	}
	b.secrets.Add(b.flow.sigs...)
	if err := guard(ctx, job, b, operations.OpRunCloudFlow); err != nil {
		return nil, err
	}
	res, err := h.send(ctx, job, hd, b, b.call)
	if err != nil {
		return nil, triggerRefused(err, b)
	}
	holdSigs(b, res.Header)
	if res.Status != http.StatusAccepted || res.Header.Get("Location") == "" || !b.flow.wait {
		return res, nil
	}
	job.sending(flowStarted)
	if job.SetLocal != nil {
		rec, err := h.records().record(job, &operations.Response{Status: http.StatusAccepted, Body: map[string]any{"runCloudFlow": "accepted"}})
		if err == nil {
			err = job.SetLocal(context.WithoutCancel(ctx), map[string]any{RecordedRunVariable: rec})
		}
		if err != nil {
			h.Log.Warn().Int64("job_key", job.Key).Str("error", err.Error()).
				Msg("could not record that the cloud flow accepted the call; a job redelivered after this worker stops would call its trigger again")
		}
	}
	return h.pollCloudFlow(ctx, job, hd, b, res)
}

// flowStarted is what an interrupted wait for a flow's final answer may have left behind.
const flowStarted = "the flow has started (its trigger answered 202 Accepted) and had not given its final answer; check its run history before resolving this incident (a retry calls the trigger again)"

// triggerRefused adds to a 401, 403 or 404 of the trigger what to check. A 5xx or 408 is an
// incident too: a flow's HTTP trigger answers one when the run has started (the flow's own
// Response action, or no answer within the synchronous limit of 120 s), so a retry could run
// it twice. A 429 (throttled before the run) is classified as any call's: retried.
func triggerRefused(err error, b *bound) error {
	var he *operations.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	switch {
	case he.Status == http.StatusUnauthorized, he.Status == http.StatusForbidden:
		return Permanentf("%w (the flow refused the call: check the flow URL's signature, or for a trigger restricted to the tenant the authentication)", err)
	case he.Status == http.StatusNotFound:
		return Permanentf("%w (no such flow: check the flow URL, and that the flow is turned on)", err)
	case he.Status == http.StatusRequestTimeout, he.Status >= 500:
		return Permanentf("%w: %s", err, unrepeatable(operations.OpRunCloudFlow, b))
	}
	return err
}

// pollCloudFlow reads the Location of a 202 until the flow's final answer, pausing as each 202's
// Retry-After asks and keeping the job's lease, until the job's deadline: the jobTimeout header
// from now, or the longest jobTimeout without one. The flow has started: nothing from here on
// hands the job back, which would start it again (the trigger's hold lasts until the job is
// answered, and every failure below is an incident).
//
// The job's credentials go with a poll only to the trigger's own origin (scheme, host and
// port): a Location on another allowed host is read without Authorization.
func (h *Handler) pollCloudFlow(ctx context.Context, job Job, hd headers, b *bound, res *operations.Response) (*operations.Response, error) {
	job.waiting()
	wait := hd.jobTimeout
	if wait <= 0 {
		wait = spec.JobTimeout.Longest
	}
	limit := time.Now().Add(wait)
	pauses := &backoff.Backoff{Min: time.Second, Base: 2 * time.Second, Factor: 1.5, Cap: 30 * time.Second}
	from, header := b.call.URL, res.Header
	var loc string
	for failures := 0; ; {
		if l := header.Get("Location"); l != "" {
			var err error
			if loc, err = operations.ResolveLocation(from, l); err != nil {
				return nil, Permanentf("runCloudFlow: the flow's 202 answer: %w", err)
			}
			if err := h.Hosts.Check(loc); err != nil {
				return nil, Permanentf("runCloudFlow: the flow's 202 answer names a Location the worker may not call: %w", err)
			}
		}
		pause := flowPause(header, pauses)
		if time.Now().Add(pause).After(limit) {
			return nil, Permanentf("runCloudFlow: the flow had not answered by the job's deadline (%s after its 202; set the jobTimeout header to wait longer); its run may go on, and a retry starts the flow again", wait)
		}
		// the lease must outlast the pause and the poll request after it (its connection timeout)
		if err := h.extendLease(ctx, job, pause+b.timeout); err != nil {
			return nil, Permanentf("runCloudFlow: the flow is still running and the job's timeout could not be extended (%w); a retry starts the flow again", err)
		}
		if err := sleep(ctx, pause); err != nil {
			return nil, err
		}
		poll := b
		if b.creds != nil && !sameOrigin(b.call.URL, loc) {
			anon := *b
			anon.creds = nil
			poll = &anon
		}
		next, err := h.send(ctx, job, hd, poll, operations.CloudFlowPoll(loc))
		if err != nil {
			var he *operations.HTTPError
			if retryablePoll(err) && failures < maxFlowPollFailures {
				failures++
				header = http.Header{}
				if errors.As(err, &he) {
					header = he.Header
					holdSigs(b, header)
				}
				header.Del("Location")
				continue
			}
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, Permanentf("%w (reading the flow's answer at its Location: the flow has started, a retry starts it again)", err)
		}
		failures = 0
		holdSigs(b, next.Header)
		if next.Status != http.StatusAccepted {
			return next, nil
		}
		from, header = loc, next.Header
	}
}

// sameOrigin reports whether two absolute URLs have the same scheme, host and port (a
// scheme's default port written or not).
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) &&
		strings.EqualFold(strings.TrimSuffix(ua.Hostname(), "."), strings.TrimSuffix(ub.Hostname(), ".")) &&
		originPort(ua) == originPort(ub)
}

// originPort is u's port, its scheme's default when none is written.
func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// flowPause is the pause before the next poll: the answer's Retry-After (at least minFlowPause),
// else the next growing pause.
func flowPause(h http.Header, pauses *backoff.Backoff) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if d := operations.RetryAfter(v, time.Now()); d > 0 || strings.TrimSpace(v) == "0" {
			return max(d, minFlowPause)
		}
	}
	return pauses.Next()
}

// retryablePoll reports whether a failed poll may succeed when repeated: throttled, timed out,
// a server error, or no answer.
func retryablePoll(err error) bool {
	var (
		he *operations.HTTPError
		te *operations.TransportError
		ho *egress.HostError
	)
	switch {
	case errors.As(err, &he):
		return he.Status == http.StatusTooManyRequests || he.Status == http.StatusRequestTimeout || he.Status >= 500
	case errors.As(err, &ho):
		return false
	case errors.As(err, &te):
		return true
	}
	return false
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
