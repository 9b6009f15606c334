package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pa-connector/pa-connector/connector/secrets"
	"github.com/pa-connector/pa-connector/operations"
)

// CallbackPath is where the worker's listener takes Power Automate's callbacks: POST
// CallbackPath + token.
const CallbackPath = "/callbacks/"

// callbackColumns are the flowsession columns the receiver reads: the status columns and the
// workflow the run belongs to, checked against the token's.
const callbackColumns = operations.StatusColumns + ",_regardingobjectid_value"

// CallbackReceiver is the http.Handler of POST /callbacks/{token}. Power Automate's callback is
// not authenticated, so nothing in it is believed: the token proves the worker issued the URL
// (and says which organization, workflow and credentials), and the run's status and outputs
// are read from Dataverse. Answers: 200 once the run's completion is delivered (a message
// published, already published, or handed to the job waiting here); 401 or 403 for a forged,
// tampered or expired token or a run that is not the token's, with nothing published; 400 for
// a request without a run id; 5xx when Dataverse or Zeebe cannot be reached or the run has not
// ended yet, so Power Automate tries again (three times, one second apart).
func (h *Handler) CallbackReceiver() http.Handler {
	return http.HandlerFunc(h.serveCallback)
}

// callbackError is a receiver answer other than 200.
type callbackError struct {
	status int
	reason string // for the log and the metric; never a token or a secret
	err    error  // detail for the log only (the log scrubs it)
}

func (e *callbackError) Error() string { return e.reason }

func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	cb := h.Callbacks
	runID := strings.ToLower(strings.Trim(r.Header.Get("x-ms-run-id"), "{} "))
	// The secrets resolved for this callback stay held until its log line is written.
	held := h.Live.NewSet()
	defer held.Release()
	result, err := h.receiveCallback(r, runID, held)
	status := http.StatusOK
	ev := cb.Log.Info()
	if err != nil {
		var ce *callbackError
		if !errors.As(err, &ce) {
			ce = &callbackError{status: http.StatusInternalServerError, reason: "internal error", err: err}
		}
		status, result = ce.status, ce.reason
		ev = cb.Log.Warn()
		if ce.err != nil {
			ev = ev.Str("error", ce.err.Error())
		}
	}
	cb.count(result)
	if !operations.ValidID(runID) {
		runID = ""
	}
	ev.Str("flow_session_id", runID).Str("outcome", result).Int("status", status).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("callback " + result)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"outcome": result})
}

// receiveCallback verifies a callback, reads the run and delivers its completion. It returns
// the outcome (published, already-published, delivered).
func (h *Handler) receiveCallback(r *http.Request, runID string, held *secrets.Set) (string, error) {
	cb := h.Callbacks
	reject := func(status int, reason string) (string, error) {
		return "", &callbackError{status: status, reason: reason}
	}
	claims, err := cb.keys.parse(r.PathValue("token"), h.now())
	switch {
	case errors.Is(err, errExpiredToken):
		return reject(http.StatusForbidden, "expired token")
	case err != nil:
		return reject(http.StatusUnauthorized, "invalid token")
	}
	if !operations.ValidID(runID) {
		return reject(http.StatusBadRequest, "no x-ms-run-id")
	}
	if wf := r.Header.Get("x-ms-workflow-id"); wf != "" && !strings.EqualFold(strings.Trim(wf, "{} "), claims.Workflow) {
		return reject(http.StatusForbidden, "workflow mismatch")
	}
	// The body says nothing the receiver believes; it must merely not contradict the header.
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var body struct {
		ID string `json:"flowsessionid"`
	}
	if json.Unmarshal(raw, &body) == nil && body.ID != "" && !strings.EqualFold(body.ID, runID) {
		return reject(http.StatusBadRequest, "run id mismatch")
	}

	auth, err := cb.keys.auth(claims)
	if err != nil {
		return reject(http.StatusUnauthorized, "invalid token")
	}
	// The trigger's other secrets are held too; one that is gone by now is not needed to read.
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
		return "", &callbackError{status: http.StatusInternalServerError, reason: "credentials unavailable", err: err}
	}
	held.Add(used...)
	b := &bound{org: claims.Org, timeout: DefaultConnectionTimeout, secrets: held}
	if b.creds, b.scrub, err = credentials(auth, claims.Org); err == nil {
		held.Add(b.scrub...)
		held.Add(derived(b, append(used, b.scrub...))...)
		err = h.Hosts.Check(claims.Org)
		if err == nil && b.creds.TokenURL != "" {
			err = h.Hosts.Check(b.creds.TokenURL)
		}
	}
	if err != nil {
		return "", &callbackError{status: http.StatusInternalServerError, reason: "credentials unusable", err: err}
	}

	ctx, cancel := context.WithTimeout(r.Context(), 25*time.Second)
	defer cancel()
	job := Job{Deadline: time.Now().Add(25 * time.Second)} // bounds in-process waits on 429
	summary, err := h.readFinishedRun(ctx, job, b, claims, runID)
	if err != nil {
		var ce *callbackError
		if errors.As(err, &ce) {
			return "", ce
		}
		return "", &callbackError{status: http.StatusServiceUnavailable, reason: "dataverse unavailable", err: err}
	}
	// What leaves here (a message's variables, a waiting job's answer) holds no secret.
	summary = h.Live.Map(summary)

	if claims.Mode == callbackModeWait && cb.notify(runID, summary) {
		return "delivered", nil
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer pcancel()
	err = cb.publish(pctx, summary, h.maxOutputBytes())
	switch {
	case errors.Is(err, ErrMessageExists):
		return "already-published", nil
	case err != nil:
		return "", &callbackError{status: http.StatusServiceUnavailable, reason: "zeebe unavailable", err: err}
	}
	return "published", nil
}

// readFinishedRun reads run id's row with the token's credentials, checks that it belongs to
// the token's workflow and has ended, and returns its summary (outputs included).
func (h *Handler) readFinishedRun(ctx context.Context, job Job, b *bound, claims callbackClaims, id string) (map[string]any, error) {
	call := operations.Status(b.org, id)
	call.URL = strings.Replace(call.URL, operations.StatusColumns, callbackColumns, 1)
	res, err := h.send(ctx, job, headers{}, b, call)
	var he *operations.HTTPError
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return nil, &callbackError{status: http.StatusForbidden, reason: "unknown run"}
	case errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden || he.Status == http.StatusBadRequest):
		return nil, &callbackError{status: http.StatusBadGateway, reason: "dataverse refused", err: err}
	case err != nil:
		return nil, err
	}
	row, _ := res.Body.(map[string]any)
	// The run must name the token's workflow: a row whose workflow is null, missing or not a
	// string belongs to no workflow the token speaks for.
	if wf, _ := row["_regardingobjectid_value"].(string); wf == "" || !strings.EqualFold(wf, claims.Workflow) {
		return nil, &callbackError{status: http.StatusForbidden, reason: "workflow mismatch"}
	}
	code, ok := row["statuscode"].(int64)
	if !ok || !operations.Terminal(int(code)) {
		return nil, &callbackError{status: http.StatusServiceUnavailable, reason: "run not ended",
			err: fmt.Errorf("the run has statuscode %v in Dataverse", row["statuscode"])}
	}
	return h.summarize(ctx, job, headers{}, b, id, row)
}

// publish publishes a finished run's message: correlation key and message id are the flow
// session id, so Zeebe takes it once however often Power Automate calls back.
func (c *Callbacks) publish(ctx context.Context, summary map[string]any, maxBytes int) error {
	if c.Publisher == nil {
		return errors.New("no message publisher")
	}
	id, _ := summary["flowSessionId"].(string)
	vars := map[string]any{
		"flowSessionId": id,
		"statusCode":    summary["statusCode"],
		"statusName":    summary["statusName"],
		"flowOutputs":   summary["outputs"],
		"errorCode":     summary["errorCode"],
		"errorMessage":  summary["errorMessage"],
	}
	if raw, err := json.Marshal(vars); err != nil || len(raw) > maxBytes {
		vars["flowOutputs"] = nil
		vars["flowOutputsOmitted"] = fmt.Sprintf("the outputs are over the limit of %d bytes; read them with getFlowOutputs", maxBytes)
	}
	return c.Publisher.PublishMessage(ctx, Message{Name: c.Message, CorrelationKey: id, ID: id, TTL: c.MessageTTL, Variables: vars})
}

func (h *Handler) maxOutputBytes() int {
	if h.MaxOutputBytes > 0 {
		return h.MaxOutputBytes
	}
	return DefaultMaxOutputBytes
}
