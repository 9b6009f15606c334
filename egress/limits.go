package egress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pa-connector/pa-connector/auth"
)

// Limits keeps the worker under Dataverse's service-protection limits instead of provoking
// them: per Dataverse identity (organization + caller), at most Concurrent requests in flight,
// Requests requests and ExecutionTime of combined request time in any sliding Window; per
// connection, at most TriggersPerMinute
// RunDesktopFlow calls in any sliding minute. A request that would exceed a limit waits (within
// its job's context) rather than earning a 429. The zero value applies Dataverse's documented
// limits with a safety margin.
type Limits struct {
	Concurrent        int           // default 48 (Dataverse: 52)
	Requests          int           // default 5800 per Window (Dataverse: 6000 per 5 minutes)
	Window            time.Duration // default 5 minutes
	ExecutionTime     time.Duration // default 19 minutes per Window (Dataverse: 20 minutes per 5 minutes)
	TriggersPerMinute int           // default 66 (Dataverse: about 70 per connection)

	mu    sync.Mutex
	users map[string]*userLimit
	conns map[string]*slidingWindow
}

type userLimit struct {
	mu          sync.Mutex
	pausedUntil time.Time // after a 429: every request of this identity waits for Retry-After
	sem         chan struct{}
	window      *slidingWindow // requests
	exec        *slidingWindow // milliseconds of request time
	running     int64          // requests sent and not yet answered
	startsMs    int64          // the sum of their start times (Unix ms): running time = running×now − startsMs
}

// slidingWindow admits at most max events in any period of length per, counted in one-second
// buckets (conservative: an event counts for up to a second longer than the period).
type slidingWindow struct {
	mu      sync.Mutex
	max     int64
	counts  []int64 // one bucket per second of the period, a ring
	head    int64   // the second (Unix) the newest bucket stands for
	sum     int64
	lastUse time.Time
}

func newWindow(n int, per time.Duration) *slidingWindow {
	secs := int(per / time.Second)
	if secs < 1 {
		secs = 1
	}
	// One bucket more than the period has seconds: an event in second s is forgotten only when
	// second s+secs+1 starts, never before it is a full period old.
	return &slidingWindow{max: int64(n), counts: make([]int64, secs+1)}
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
		w.sum -= w.counts[i]
		w.counts[i] = 0
	}
}

// wait blocks until one more event fits, then records it.
func (w *slidingWindow) wait(ctx context.Context) error { return w.waitBelow(ctx, 1) }

// waitBelow blocks while the period's sum is at its maximum, then adds units (0: only waits).
func (w *slidingWindow) waitBelow(ctx context.Context, units int64) error {
	_, err := w.reserve(ctx, units)
	return err
}

// reserve waits while the period's sum is at its maximum, then adds units now and returns the
// second they were added in, for unreserve.
func (w *slidingWindow) reserve(ctx context.Context, units int64) (int64, error) {
	for {
		w.mu.Lock()
		now := time.Now()
		w.lastUse = now
		w.advance(now.Unix())
		if w.sum < w.max {
			w.counts[int(w.head%int64(len(w.counts)))] += units
			w.sum += units
			at := w.head
			w.mu.Unlock()
			return at, nil
		}
		w.mu.Unlock()
		// Wait for the next second's bucket to expire.
		t := time.NewTimer(time.Until(now.Truncate(time.Second).Add(time.Second)))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// add records units now without waiting.
func (w *slidingWindow) add(units int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.advance(now.Unix())
	w.counts[int(w.head%int64(len(w.counts)))] += units
	w.sum += units
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
	if l.ExecutionTime <= 0 {
		l.ExecutionTime = 19 * time.Minute
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
		u = &userLimit{sem: make(chan struct{}, l.Concurrent), window: newWindow(l.Requests, l.Window),
			exec: newWindow(int(l.ExecutionTime.Milliseconds()), l.Window)}
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
	// The concurrency slot first: the checks after it hold for the moment the request is sent,
	// not for when it started queueing.
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	err := u.waitPause(ctx)
	var started int64
	if err == nil {
		started, err = u.admitExec(ctx)
	}
	if err == nil {
		if err = u.window.wait(ctx); err != nil {
			u.finishExec(started, 0)
		}
	}
	if err != nil {
		<-u.sem
		return nil, err
	}
	return func() {
		<-u.sem
		u.finishExec(started, time.Now().UnixMilli()-started)
	}, nil
}

// admitExec waits until the execution time of this caller's requests, finished ones in the
// window plus the time running ones have taken so far, is under the limit, then counts one more
// running request and returns its start (Unix ms). Counting running requests keeps the total
// at or above what Dataverse has seen finish: when the first of many slow requests ends, the
// others have run as long and are about to be counted there too.
func (u *userLimit) admitExec(ctx context.Context) (int64, error) {
	for {
		now := time.Now()
		ms := now.UnixMilli()
		u.mu.Lock()
		running := u.running*ms - u.startsMs
		u.exec.mu.Lock()
		u.exec.lastUse = now
		u.exec.advance(now.Unix())
		done := u.exec.sum
		u.exec.mu.Unlock()
		if done+running < u.exec.max {
			u.running++
			u.startsMs += ms
			u.mu.Unlock()
			return ms, nil
		}
		u.mu.Unlock()
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// finishExec ends a running request that started at started (Unix ms) and took ms.
func (u *userLimit) finishExec(started, ms int64) {
	u.mu.Lock()
	u.running--
	u.startsMs -= started
	u.mu.Unlock()
	if ms > 0 {
		u.exec.add(ms)
	}
}

// Identity names the Dataverse caller of a call to org with creds (nil: none) without keeping
// a secret: the organization plus the client id, or a hash of a bearer token.
func Identity(org string, creds *auth.Credentials) string {
	if creds == nil {
		return org
	}
	if creds.ClientID != "" {
		return org + "|" + creds.ClientID
	}
	sum := sha256.Sum256([]byte(creds.Token))
	return org + "|" + hex.EncodeToString(sum[:8])
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

func (u *userLimit) waitPause(ctx context.Context) error {
	u.mu.Lock()
	d := time.Until(u.pausedUntil)
	u.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pause holds every request of identity for d: Dataverse answered 429 with Retry-After d, and
// the other jobs of the same caller would only earn 429s of their own meanwhile.
func (l *Limits) Pause(identity string, d time.Duration) {
	if l == nil || d <= 0 {
		return
	}
	l.mu.Lock()
	u, ok := l.users[identity]
	l.mu.Unlock()
	if !ok {
		return
	}
	u.mu.Lock()
	if until := time.Now().Add(d); until.After(u.pausedUntil) {
		u.pausedUntil = until
	}
	u.mu.Unlock()
}

// ParseLimits reads "concurrent=48,requests=5800,executionTime=19m,window=5m,triggersPerMinute=66";
// names left out keep their defaults.
func ParseLimits(s string) (*Limits, error) {
	l := &Limits{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not name=value", kv)
		}
		var err error
		switch strings.TrimSpace(k) {
		case "concurrent":
			l.Concurrent, err = strconv.Atoi(v)
		case "requests":
			l.Requests, err = strconv.Atoi(v)
		case "triggersPerMinute":
			l.TriggersPerMinute, err = strconv.Atoi(v)
		case "window":
			l.Window, err = time.ParseDuration(v)
		case "executionTime":
			l.ExecutionTime, err = time.ParseDuration(v)
		default:
			return nil, fmt.Errorf("unknown limit %q (want concurrent, requests, executionTime, window, triggersPerMinute)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
	}
	if l.Window > 0 && l.Window < time.Second {
		return nil, fmt.Errorf("window must be at least 1s")
	}
	return l, nil
}

// Use is what the limits have counted for one caller in its current window.
type Use struct {
	Requests      int64
	ExecutionTime time.Duration
}

// Usage returns what the limits have counted, by caller (Identity).
func (l *Limits) Usage() map[string]Use {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Use, len(l.users))
	for id, u := range l.users {
		u.window.mu.Lock()
		requests := u.window.sum
		u.window.mu.Unlock()
		u.exec.mu.Lock()
		ms := u.exec.sum
		u.exec.mu.Unlock()
		out[id] = Use{Requests: requests, ExecutionTime: time.Duration(ms) * time.Millisecond}
	}
	return out
}
