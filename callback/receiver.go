package callback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Path is where the worker's listener takes Power Automate's callbacks: POST Path + token.
const Path = "/callbacks/"

// Receiver is the http.Handler of POST /callbacks/{token}. Power Automate's callback is not
// authenticated, so nothing in it is believed: the token proves the worker issued the URL (and
// says which organization, workflow and credentials), and the run's status and outputs are
// read from Dataverse (Runs). Answers: 200 once the run's completion is delivered (a message
// published, already published, or handed to the job waiting here); 401 or 403 for a forged,
// tampered or expired token or a run that is not the token's, with nothing published; 400 for
// a request without a run id; 5xx when Dataverse or Zeebe cannot be reached or the run has not
// ended yet, so Power Automate tries again (three times, one second apart).
type Receiver struct {
	Callbacks *Callbacks
	Runs      RunReader
	Publisher Publisher
	// Message is the name of the message published for a completed run (default DefaultMessage).
	Message string
	// MessageTTL is how long Zeebe buffers the message for a catch event not reached yet
	// (0: DefaultMessageTTL; a message published with TTL 0 would be lost whenever the
	// callback comes before the process reaches its catch event).
	MessageTTL time.Duration
	// MaxOutputBytes bounds a message's variables: larger outputs are left out (0: no bound).
	MaxOutputBytes int
	// Live holds the secret values in use in the process; the receiver holds a callback's
	// there while it handles it, and scrubs what it publishes of them.
	Live *secrets.Registry
	Log  zerolog.Logger
	Now  func() time.Time

	counter *prometheus.CounterVec // nil until RegisterMetrics
}

// Run is a run a verified callback names, with what the token says about it.
type Run struct {
	ID       string
	Org      string         // organization URL the run belongs to
	Workflow string         // workflow id the token was issued for (lower case)
	Auth     map[string]any // the authentication object the token sealed
}

// RunReader reads a finished run for the receiver: with the run's credentials (their secret
// values held in held), it checks that the run belongs to the token's workflow and has ended,
// and returns its summary (outputs included). A refusal is an *Error.
type RunReader interface {
	ReadFinishedRun(ctx context.Context, run Run, held *secrets.Set) (map[string]any, error)
}

// Publisher publishes a Zeebe message. Only the Zeebe adapter implements it.
type Publisher interface {
	PublishMessage(ctx context.Context, m Message) error
}

// Message is a Zeebe message to publish.
type Message struct {
	Name           string
	CorrelationKey string
	ID             string // Zeebe refuses a second message with the same id while the first is buffered
	TTL            time.Duration
	Variables      map[string]any
}

// ErrMessageExists is PublishMessage's answer when a message with the same id is buffered.
var ErrMessageExists = errors.New("a message with this id was already published")

// Error is a receiver answer other than 200.
type Error struct {
	Status int
	Reason string // for the log and the metric; never a token or a secret
	Err    error  // detail for the log only (the log scrubs it)
}

func (e *Error) Error() string { return e.Reason }

// RegisterMetrics adds pa_connector_callbacks_total to reg.
func (rc *Receiver) RegisterMetrics(reg prometheus.Registerer) {
	rc.counter = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pa_connector_callbacks_total",
		Help: "Completion callbacks received, by outcome (published, already-published, delivered to a waiting job, or the reason for refusing one).",
	}, []string{"outcome"})
	reg.MustRegister(rc.counter)
}

func (rc *Receiver) count(outcome string) {
	if rc.counter != nil {
		rc.counter.WithLabelValues(outcome).Inc()
	}
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	runID := strings.ToLower(strings.Trim(r.Header.Get("x-ms-run-id"), "{} "))
	// The secrets resolved for this callback stay held until its log line is written.
	held := rc.Live.NewSet()
	defer held.Release()
	result, err := rc.receive(r, runID, held)
	status := http.StatusOK
	ev := rc.Log.Info()
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			ce = &Error{Status: http.StatusInternalServerError, Reason: "internal error", Err: err}
		}
		status, result = ce.Status, ce.Reason
		ev = rc.Log.Warn()
		if ce.Err != nil {
			ev = ev.Str("error", ce.Err.Error())
		}
	}
	rc.count(result)
	if !operations.ValidID(runID) {
		runID = ""
	}
	ev.Str("flow_session_id", runID).Str("outcome", result).Int("status", status).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("callback " + result)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"outcome": result})
}

// receive verifies a callback, has the run read and delivers its completion. It returns the
// outcome (published, already-published, delivered).
func (rc *Receiver) receive(r *http.Request, runID string, held *secrets.Set) (string, error) {
	cb := rc.Callbacks
	reject := func(status int, reason string) (string, error) {
		return "", &Error{Status: status, Reason: reason}
	}
	claims, err := cb.keys.parse(r.PathValue("token"), rc.now())
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

	ctx, cancel := context.WithTimeout(r.Context(), 25*time.Second)
	defer cancel()
	summary, err := rc.Runs.ReadFinishedRun(ctx, Run{ID: runID, Org: claims.Org, Workflow: claims.Workflow, Auth: auth}, held)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return "", ce
		}
		return "", &Error{Status: http.StatusServiceUnavailable, Reason: "dataverse unavailable", Err: err}
	}
	// What leaves here (a message's variables, a waiting job's answer) holds no secret.
	summary = rc.Live.Map(summary)

	if claims.Mode == ModeWait && cb.notify(runID, summary) {
		return "delivered", nil
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer pcancel()
	err = rc.publish(pctx, summary)
	switch {
	case errors.Is(err, ErrMessageExists):
		return "already-published", nil
	case err != nil:
		return "", &Error{Status: http.StatusServiceUnavailable, Reason: "zeebe unavailable", Err: err}
	}
	return "published", nil
}

// publish publishes a finished run's message: correlation key and message id are the flow
// session id, so Zeebe takes it once however often Power Automate calls back.
func (rc *Receiver) publish(ctx context.Context, summary map[string]any) error {
	if rc.Publisher == nil {
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
	maxBytes := rc.MaxOutputBytes
	if raw, err := json.Marshal(vars); err != nil || (maxBytes > 0 && len(raw) > maxBytes) {
		vars["flowOutputs"] = nil
		vars["flowOutputsOmitted"] = fmt.Sprintf("the outputs are over the limit of %d bytes; read them with getFlowOutputs", maxBytes)
	}
	name := rc.Message
	if name == "" {
		name = DefaultMessage
	}
	ttl := rc.MessageTTL
	if ttl <= 0 {
		ttl = DefaultMessageTTL
	}
	return rc.Publisher.PublishMessage(ctx, Message{Name: name, CorrelationKey: id, ID: id, TTL: ttl, Variables: vars})
}

func (rc *Receiver) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}
