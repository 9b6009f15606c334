package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Limits keeps the worker under Dataverse's service-protection limits instead of provoking
// them: per Dataverse identity (organization + caller), at most Concurrent requests in flight
// and Requests requests in any sliding Window; per connection, at most TriggersPerMinute
// RunDesktopFlow calls in any sliding minute. A request that would exceed a limit waits (within
// its job's context) rather than earning a 429. The zero value applies Dataverse's documented
// limits with a safety margin.
type Limits struct {
	Concurrent        int           // default 48 (Dataverse: 52)
	Requests          int           // default 5800 per Window (Dataverse: 6000 per 5 minutes)
	Window            time.Duration // default 5 minutes
	TriggersPerMinute int           // default 66 (Dataverse: about 70 per connection)

	mu    sync.Mutex
	users map[string]*userLimit
	conns map[string]*slidingWindow
}

type userLimit struct {
	sem    chan struct{}
	window *slidingWindow
}

// slidingWindow admits at most max events in any period of length per, counted in one-second
// buckets (conservative: an event counts for up to a second longer than it must).
type slidingWindow struct {
	mu      sync.Mutex
	max     int
	counts  []int32 // one bucket per second of the period, a ring
	head    int64   // the second (Unix) the newest bucket stands for
	sum     int
	lastUse time.Time
}

func newWindow(n int, per time.Duration) *slidingWindow {
	secs := int(per / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &slidingWindow{max: n, counts: make([]int32, secs)}
}

// advance drops the buckets that fell out of the period by now.
func (w *slidingWindow) advance(now int64) {
	if w.head == 0 || now-w.head >= int64(len(w.counts)) {
		for i := range w.counts {
			w.counts[i] = 0
		}
		w.sum, w.head = 0, now
		return
	}
	for w.head < now {
		w.head++
		i := int(w.head % int64(len(w.counts)))
		w.sum -= int(w.counts[i])
		w.counts[i] = 0
	}
}

// wait blocks until one more event fits, then records it.
func (w *slidingWindow) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := time.Now()
		w.lastUse = now
		w.advance(now.Unix())
		if w.sum < w.max {
			w.counts[int(w.head%int64(len(w.counts)))]++
			w.sum++
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		// Wait for the next second's bucket to expire.
		t := time.NewTimer(time.Until(now.Truncate(time.Second).Add(time.Second)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (w *slidingWindow) idleSince() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastUse
}

func (l *Limits) defaults() {
	if l.Concurrent <= 0 {
		l.Concurrent = 48
	}
	if l.Requests <= 0 {
		l.Requests = 5800
	}
	if l.Window <= 0 {
		l.Window = 5 * time.Minute
	}
	if l.TriggersPerMinute <= 0 {
		l.TriggersPerMinute = 66
	}
}

// Acquire waits for room for one request of identity (and, for a trigger, of connection) and
// returns the function that frees its concurrency slot.
func (l *Limits) Acquire(ctx context.Context, identity, connection string) (func(), error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	if l.users == nil {
		l.defaults()
		l.users = map[string]*userLimit{}
		l.conns = map[string]*slidingWindow{}
	}
	if len(l.users) > 1000 {
		l.sweep()
	}
	u, ok := l.users[identity]
	if !ok {
		u = &userLimit{sem: make(chan struct{}, l.Concurrent), window: newWindow(l.Requests, l.Window)}
		l.users[identity] = u
	}
	var c *slidingWindow
	if connection != "" {
		key := identity + "\x00" + connection
		if c, ok = l.conns[key]; !ok {
			c = newWindow(l.TriggersPerMinute, time.Minute)
			l.conns[key] = c
		}
	}
	l.mu.Unlock()

	if c != nil {
		if err := c.wait(ctx); err != nil {
			return nil, err
		}
	}
	if err := u.window.wait(ctx); err != nil {
		return nil, err
	}
	select {
	case u.sem <- struct{}{}:
		return func() { <-u.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// identityOf names the Dataverse caller of a bound call without keeping a secret: the
// organization plus the client id, or a hash of a bearer token.
func identityOf(b *bound) string {
	if b.creds == nil {
		return b.org
	}
	if b.creds.ClientID != "" {
		return b.org + "|" + b.creds.ClientID
	}
	sum := sha256.Sum256([]byte(b.creds.Token))
	return b.org + "|" + hex.EncodeToString(sum[:8])
}

// sweep forgets identities and connections idle for longer than their window; called with l.mu held.
func (l *Limits) sweep() {
	now := time.Now()
	for k, u := range l.users {
		if len(u.sem) == 0 && now.Sub(u.window.idleSince()) > l.Window {
			delete(l.users, k)
		}
	}
	for k, c := range l.conns {
		if now.Sub(c.idleSince()) > time.Minute {
			delete(l.conns, k)
		}
	}
}
