package connector

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector/secrets"
	"github.com/pa-connector/pa-connector/operations"
)

// Callbacks is the worker's side of Power Automate's completion callbacks. A trigger that asks
// for one gets callbackUrl = PublicURL + "/callbacks/" + token (see callback_token.go); when the
// run ends, Power Automate POSTs there, the receiver (callback_receiver.go) reads the run's
// status and outputs from Dataverse itself, and either wakes the runFlowAndWait job waiting on
// this replica or publishes a Zeebe message correlated by the flow session id.
type Callbacks struct {
	// PublicURL is the base URL Power Automate reaches the worker's listener at (no trailing /).
	PublicURL string
	// Message is the name of the message published for a completed run.
	Message string
	// MessageTTL is how long Zeebe buffers the message for a catch event not reached yet.
	MessageTTL time.Duration
	// TokenTTL is a token's lifetime; 0: the run's timeout plus CallbackTokenMargin.
	TokenTTL time.Duration
	// SafetyPoll is how often a runFlowAndWait job waiting for its callback reads the status
	// anyway, in case the callback is lost or lands on another replica.
	SafetyPoll time.Duration
	// Publisher publishes messages; the Zeebe adapter (Worker) is one.
	Publisher MessagePublisher
	Log       zerolog.Logger

	counter *prometheus.CounterVec // nil until RegisterMetrics

	keys *callbackKeys
	key  []byte // to refuse jobs that read the key through a secret placeholder

	mu      sync.Mutex
	waiters map[string][]chan map[string]any // flow session id → jobs waiting on this replica
	recent  map[string]recentRun             // completions that came while nobody waited
}

// MessagePublisher publishes a Zeebe message. Only the Zeebe adapter implements it.
type MessagePublisher interface {
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

// Defaults of the callback settings.
const (
	DefaultCallbackMessage = "desktop-flow-completed"
	// CallbackTokenMargin is added to a run's timeout for its token's lifetime: a run may wait
	// up to 6 hours for a machine before its timeout starts counting (NoCandidateMachine), and
	// the callback is retried after that.
	CallbackTokenMargin = 6*time.Hour + 30*time.Minute
	// callbackRecentTTL is how long a completion nobody waited for is kept for a job that
	// registers just after (the run ended before the trigger's answer was handled).
	callbackRecentTTL = 10 * time.Minute
	callbackRecentMax = 10000
)

type recentRun struct {
	summary map[string]any
	at      time.Time
}

// NewCallbacks checks the key and returns the callbacks of a worker.
func NewCallbacks(publicURL, key string) (*Callbacks, error) {
	keys, err := newCallbackKeys(key)
	if err != nil {
		return nil, err
	}
	return &Callbacks{
		PublicURL:  strings.TrimRight(publicURL, "/"),
		Message:    DefaultCallbackMessage,
		MessageTTL: time.Hour,
		SafetyPoll: 5 * time.Minute,
		keys:       keys,
		key:        []byte(key),
		waiters:    map[string][]chan map[string]any{},
		recent:     map[string]recentRun{},
	}, nil
}

// RegisterMetrics adds pa_connector_callbacks_total to the worker's metrics.
func (c *Callbacks) RegisterMetrics(m *Metrics) {
	if m == nil {
		return
	}
	c.counter = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pa_connector_callbacks_total",
		Help: "Completion callbacks received, by outcome (published, already-published, delivered to a waiting job, or the reason for refusing one).",
	}, []string{"outcome"})
	m.Registry.MustRegister(c.counter)
}

func (c *Callbacks) count(outcome string) {
	if c.counter != nil {
		c.counter.WithLabelValues(outcome).Inc()
	}
}

// isKey reports whether a resolved secret value is the callback key.
func (c *Callbacks) isKey(v string) bool {
	return c != nil && subtle.ConstantTimeCompare([]byte(v), c.key) == 1
}

// callbackURL returns a fresh callback URL for a run of workflow in org, and its token.
func (c *Callbacks) callbackURL(org, workflow, mode string, runTimeout time.Duration, auth any, now time.Time) (string, string, error) {
	ttl := c.TokenTTL
	if ttl <= 0 {
		ttl = runTimeout + CallbackTokenMargin
	}
	tok, err := c.keys.sign(callbackClaims{Org: org, Workflow: workflow, Mode: mode, Expires: now.Add(ttl).Unix()}, auth)
	if err != nil {
		return "", "", fmt.Errorf("making the callback token: %w", err)
	}
	return c.PublicURL + "/callbacks/" + tok, tok, nil
}

// await registers a job waiting for run id on this replica. The channel receives the run's
// summary once; a completion that came just before is delivered at once. done unregisters.
func (c *Callbacks) await(id string) (ch <-chan map[string]any, done func()) {
	w := make(chan map[string]any, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.recent[id]; ok && time.Since(r.at) < callbackRecentTTL {
		w <- r.summary
	}
	c.waiters[id] = append(c.waiters[id], w)
	return w, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ws := c.waiters[id]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(c.waiters, id)
		} else {
			c.waiters[id] = ws
		}
	}
}

// notify hands a completed run's summary to the jobs waiting for it on this replica and
// reports whether there were any. Otherwise the summary is kept a while for a job that is
// about to wait (its trigger's answer is still on the way).
func (c *Callbacks) notify(id string, summary map[string]any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[id]
	for _, w := range ws {
		select {
		case w <- summary:
		default: // already has it
		}
	}
	if len(ws) > 0 {
		return true
	}
	now := time.Now()
	if len(c.recent) >= callbackRecentMax {
		for k, r := range c.recent {
			if now.Sub(r.at) >= callbackRecentTTL || len(c.recent) >= callbackRecentMax {
				delete(c.recent, k)
			}
		}
	}
	c.recent[id] = recentRun{summary: summary, at: now}
	return false
}

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
	mode := callbackModeMessage
	if b.wait {
		mode = callbackModeWait
	}
	u, tok, err := h.Callbacks.callbackURL(b.org, b.workflow, mode, time.Duration(b.body.Timeout)*time.Second, b.rawAuth, h.now())
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
