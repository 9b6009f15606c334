// Package secrets resolves {{secrets.NAME}} placeholders and keeps every secret value the
// worker holds out of what leaves it.
//
// A Registry knows the secret values live in the process: the values placeholders resolved
// to, the credentials a job carries, the access tokens obtained for it, callback tokens, and
// the worker's own credentials. A job holds its values in a Set from the moment they are
// known until it has been answered and logged. Strings are scrubbed once, where they leave
// the worker: every log line (Writer), the FailJob and ThrowError messages and variables, the
// completion variables, and the messages the callback receiver publishes. Each value is
// matched in every spelling the worker can produce (see forms), overlapping values as one.
//
// Values shorter than MinLength characters are not held: scrubbing them would mangle
// unrelated text. Placeholders resolving to such values are refused (ShortError).
package secrets

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// MinLength is the fewest characters a secret value must have to be held and scrubbed; a
// {{secrets.NAME}} placeholder resolving to a shorter value is refused.
const MinLength = 8

// Redacted replaces a secret in any text that leaves the worker.
const Redacted = "***"

// Linger is how long a value stays held after the last set holding it was released: a line
// logged just after a job was answered is still scrubbed, and a value that jobs keep using
// (a shared secret, a cached access token) does not make the matcher be rebuilt per job.
const Linger = time.Minute

// Registry holds the secret values live in the process. Its methods are safe for concurrent
// use; a nil *Registry holds nothing.
type Registry struct {
	mu        sync.Mutex
	values    map[string]*held
	lastSweep time.Time
	now       func() time.Time

	text atomic.Pointer[matcher] // every form
	json atomic.Pointer[matcher] // the forms that can occur inside a JSON string (Writer)
}

type held struct {
	refs   int // sets holding the value; -1: pinned for the life of the process
	forms  []string
	idleAt time.Time // when refs last dropped to 0
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{values: map[string]*held{}, now: time.Now}
}

// Pin holds values for the life of the process: the worker's own credentials.
func (r *Registry) Pin(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, v := range values {
		if !holdable(v) {
			continue
		}
		h := r.values[v]
		if h == nil {
			h = &held{forms: forms(v)}
			r.values[v] = h
			changed = true
		}
		h.refs = -1
	}
	if changed {
		r.rebuild()
	}
}

// NewSet returns an empty set of values held for one job (or one callback); release it with
// Release once everything the job sends and logs has left.
func (r *Registry) NewSet() *Set {
	if r == nil {
		return nil
	}
	return &Set{r: r}
}

func holdable(v string) bool { return utf8.RuneCountInString(v) >= MinLength }

// acquire holds v once more; it reports whether v is holdable.
func (r *Registry) acquire(v string) bool {
	if !holdable(v) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.values[v]
	changed := h == nil
	if changed {
		h = &held{forms: forms(v)}
		r.values[v] = h
	}
	if h.refs >= 0 {
		h.refs++
	}
	if changed { // a new value: the matcher is rebuilt anyway, drop the idle ones first
		r.sweep()
		r.rebuild()
	}
	return true
}

func (r *Registry) release(values []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	idle := false
	for _, v := range values {
		if h := r.values[v]; h != nil && h.refs > 0 {
			if h.refs--; h.refs == 0 {
				h.idleAt, idle = r.now(), true
			}
		}
	}
	if idle && r.sweep() {
		r.rebuild()
	}
}

// sweep drops values no set has held for Linger; it reports whether it dropped any. It looks
// at most twice per Linger.
func (r *Registry) sweep() bool {
	now := r.now()
	if now.Sub(r.lastSweep) < Linger/2 {
		return false
	}
	r.lastSweep = now
	dropped := false
	for v, h := range r.values {
		if h.refs == 0 && now.Sub(h.idleAt) >= Linger {
			delete(r.values, v)
			dropped = true
		}
	}
	return dropped
}

func (r *Registry) rebuild() {
	var all, inJSON []string
	for _, h := range r.values {
		all = append(all, h.forms...)
		for _, f := range h.forms {
			if jsonStringSafe(f) {
				inJSON = append(inJSON, f)
			}
		}
	}
	r.text.Store(newMatcher(all))
	r.json.Store(newMatcher(inJSON))
}

// jsonStringSafe reports whether f can occur inside an encoded JSON string, where quotes and
// control characters are always escaped. Other forms are not looked for in log lines: there
// they could only match across the line's structure (the escaped spelling of the same value
// is among the forms).
func jsonStringSafe(f string) bool {
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\\':
			i++ // an escaped character
		case f[i] == '"' || f[i] < 0x20:
			return false
		}
	}
	return true
}

// Set is the values one job holds. A nil *Set holds nothing.
type Set struct {
	r        *Registry
	mu       sync.Mutex
	values   []string
	released bool
}

// Add holds values until Release; values shorter than MinLength are ignored. Values added
// after Release are not held.
func (s *Set) Add(values ...string) {
	if s == nil || len(values) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	for _, v := range values {
		if holdable(v) && !slices.Contains(s.values, v) && s.r.acquire(v) {
			s.values = append(s.values, v)
		}
	}
}

// Release lets the set's values go (after Linger, unless another set holds them).
func (s *Set) Release() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	s.r.release(s.values)
	s.values = nil
}
