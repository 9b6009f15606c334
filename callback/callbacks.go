// Package callback is the worker's side of Power Automate's completion callbacks. A trigger
// that asks for one gets callbackUrl = PublicURL + Path + token (token.go); when the run ends,
// Power Automate POSTs there, the Receiver (receiver.go) has the run's status and outputs read
// from Dataverse (by a RunReader, the job handler), and either wakes the runFlowAndWait job
// waiting on this replica (Callbacks.Await) or publishes a Zeebe message correlated by the
// flow session id (by a Publisher, built on the gateway client).
package callback

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/operations"
)

// Callbacks issues callback URLs and keeps the jobs waiting on this replica for their run.
type Callbacks struct {
	// PublicURL is the base URL Power Automate reaches the worker's listener at (no trailing /).
	PublicURL string
	// TokenTTL is a token's lifetime; 0: the run's timeout plus TokenMargin.
	TokenTTL time.Duration
	// SafetyPoll is how often a runFlowAndWait job waiting for its callback reads the status
	// anyway, in case the callback is lost or lands on another replica.
	SafetyPoll time.Duration

	keys *callbackKeys
	key  []byte // to refuse jobs that read the key through a secret placeholder

	mu      sync.Mutex
	waiters map[string][]chan map[string]any // flow session id → jobs waiting on this replica
	recent  map[string]recentRun             // completions that came while nobody waited
}

// Defaults of the callback settings.
const (
	DefaultMessage = "desktop-flow-completed"
	// DefaultMessageTTL is how long Zeebe buffers the message by default.
	DefaultMessageTTL = time.Hour
	// TokenMargin is added to a run's timeout for its token's lifetime: a run may wait
	// up to 6 hours for a machine before its timeout starts counting (NoCandidateMachine), and
	// the callback is retried after that.
	TokenMargin = 6*time.Hour + 30*time.Minute
	// callbackRecentTTL is how long a completion nobody waited for is kept for a job that
	// registers just after (the run ended before the trigger's answer was handled).
	callbackRecentTTL = 10 * time.Minute
	callbackRecentMax = 10000
)

type recentRun struct {
	summary map[string]any
	at      time.Time
}

// New checks the key and returns the callbacks of a worker.
func New(publicURL, key string) (*Callbacks, error) {
	if n := utf8.RuneCountInString(strings.TrimRight(publicURL, "/")); n > MaxPublicURL {
		return nil, fmt.Errorf("the public URL is %d characters; at most %d leave its callback URLs room for a token", n, MaxPublicURL)
	}
	keys, err := newCallbackKeys(key)
	if err != nil {
		return nil, err
	}
	return &Callbacks{
		PublicURL:  strings.TrimRight(publicURL, "/"),
		SafetyPoll: 5 * time.Minute,
		keys:       keys,
		key:        []byte(key),
		waiters:    map[string][]chan map[string]any{},
		recent:     map[string]recentRun{},
	}, nil
}

// IsKey reports whether a resolved secret value is the callback key.
func (c *Callbacks) IsKey(v string) bool {
	return c != nil && subtle.ConstantTimeCompare([]byte(v), c.key) == 1
}

// MaxPublicURL is the longest public URL accepted: it leaves a callback URL room for a token
// that seals client credentials given as secret placeholders (docs/callbacks.md).
const MaxPublicURL = 256

// TooLongError is a callback URL that Dataverse could not store: longer than
// operations.MaxCallbackURL characters. It is never sent; Length says how long it would be.
type TooLongError struct{ Length int }

func (e *TooLongError) Error() string {
	return fmt.Sprintf("the callback URL would be %d characters; Dataverse's callbackurl column holds at most %d",
		e.Length, operations.MaxCallbackURL)
}

// URL returns a fresh callback URL for a run of workflow in org, and its token. mode is
// ModeMessage or ModeWait; auth is the authentication object the token seals. A URL longer
// than operations.MaxCallbackURL is not returned: the error is a *TooLongError.
func (c *Callbacks) URL(org, workflow, mode string, runTimeout time.Duration, auth any, now time.Time) (string, string, error) {
	ttl := c.TokenTTL
	if ttl <= 0 {
		ttl = runTimeout + TokenMargin
	}
	tok, err := c.keys.sign(Claims{Org: org, Workflow: workflow, Mode: mode, Expires: now.Add(ttl).Unix()}, auth)
	if err != nil {
		return "", "", fmt.Errorf("making the callback token: %w", err)
	}
	u := c.PublicURL + Path + tok
	if n := utf8.RuneCountInString(u); n > operations.MaxCallbackURL {
		return "", "", &TooLongError{Length: n}
	}
	return u, tok, nil
}

// Await registers a job waiting for run id on this replica. The channel receives the run's
// summary once; a completion that came just before is delivered at once. done unregisters.
func (c *Callbacks) Await(id string) (ch <-chan map[string]any, done func()) {
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
