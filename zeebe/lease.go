package zeebe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pa-connector/pa-connector/connector"
)

// Why a job's context ends. The adapter reads the cause back with context.Cause and answers by
// it; nothing guesses from clocks.
var (
	// ErrLeaseExpired: the job's timeout passed before it finished; the broker hands it out
	// again on its own, so the adapter sends nothing.
	ErrLeaseExpired = errors.New("the job's timeout passed before it finished")
	// ErrShutdown: the worker stopped (SIGTERM, grace period over) before the job finished; the
	// job is handed back with its retries unchanged.
	ErrShutdown = errors.New("pa-connector shut down before the job finished")
)

// OutcomeUnknown is the cause of a job interrupted inside a hold once its request was on its
// way: the request (a trigger, a cloud flow, a create, an action, an ETag-conditional write)
// may have been done, so the job is not handed back for a blind retry; the adapter raises an
// incident (retries 0) that says what may have happened (What, from the handler's Sending).
type OutcomeUnknown struct {
	Cause error
	What  string
}

func (e *OutcomeUnknown) Error() string {
	return fmt.Sprintf("%v while a request that cannot be repeated was in flight: %s", e.Cause, e.What)
}
func (e *OutcomeUnknown) Unwrap() error { return e.Cause }

// holdMargin is how long before its deadline a held lease is extended: the time to ask for an
// extension and, if it is refused, to raise the incident while the job is still this worker's.
const holdMargin = 2 * time.Second

// Lease is a job's reservation on this worker: its deadline, which a handler may push out with
// UpdateJobTimeout (a runFlowAndWait job waiting for its run, a jobTimeout header). When the
// deadline passes, the job's context is cancelled with ErrLeaseExpired.
//
// A hold marks the critical section of a request that cannot be repeated, from before it is
// sent until its outcome is safe (a desktop-flow run recorded; the others until the job is
// answered): a held lease never lapses. Hold extends it to cover the call before anything is
// sent, and the lease's timer extends it again holdMargin before its deadline while the hold
// lasts. Once the request is on its way (Sending), an interruption (an extension refused, the
// worker shutting down) cancels the job's context with *OutcomeUnknown, which the adapter
// answers with an incident instead of handing the job back.
type Lease struct {
	mu       sync.Mutex
	deadline time.Time
	timer    *time.Timer
	cancel   context.CancelCauseFunc
	update   func(ctx context.Context, timeout time.Duration) error
	held     bool
	sent     bool          // the held request may have reached its server
	what     string        // what it may have done (OutcomeUnknown.What)
	bound    time.Duration // how long the held call may last
	ended    bool          // the job's context was cancelled
	stopped  bool
}

// NewLease returns a lease that ends the job's context with cancel at deadline; update asks the
// gateway for a new timeout (nil: the lease cannot be extended).
func NewLease(deadline time.Time, cancel context.CancelCauseFunc, update func(context.Context, time.Duration) error) *Lease {
	l := &Lease{deadline: deadline, cancel: cancel, update: update}
	l.mu.Lock()
	l.timer = time.AfterFunc(l.untilCheck(), l.check)
	l.mu.Unlock()
	return l
}

// The handler sees a job's lease through connector.Lease.
var _ connector.Lease = (*Lease)(nil)

// Deadline is when the job's reservation ends.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Extend sets the job's timeout to d from now.
func (l *Lease) Extend(ctx context.Context, d time.Duration) error {
	if l.update == nil {
		return connector.ErrNoExtension
	}
	if err := l.update(ctx, d); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline = time.Now().Add(d)
	if !l.stopped && !l.ended {
		l.timer.Reset(l.untilCheck())
	}
	return nil
}

// Hold starts the critical section of a request whose call lasts at most bound. It first makes
// sure the lease outlasts the call, extending it if needed; when that fails, or the job's
// context has ended already, it returns an error and the request must not be sent.
func (l *Lease) Hold(ctx context.Context, bound time.Duration) error {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return context.Cause(ctx)
	}
	short := time.Until(l.deadline) < bound+holdMargin
	l.held, l.sent, l.bound = true, false, bound
	l.mu.Unlock()
	if short {
		if err := l.Extend(ctx, bound+2*holdMargin); err != nil {
			l.Release()
			return fmt.Errorf("extending the job's timeout before a request that cannot be repeated: %w", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended { // interrupted meanwhile, before anything was sent
		l.held = false
		return context.Cause(ctx)
	}
	return nil
}

// Sending marks the held request as on its way: from now on it may reach its server, and what
// says what it may have done.
func (l *Lease) Sending(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		l.sent, l.what = true, what
	}
}

// Release ends the critical section: the run is recorded where a redelivered job finds it.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held, l.sent, l.bound, l.what = false, false, 0, ""
}

// Interrupt ends the job's context with cause, or with *OutcomeUnknown{cause} when its held
// request may have reached its server.
func (l *Lease) Interrupt(cause error) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.ended = true
	if l.held && l.sent {
		cause = &OutcomeUnknown{Cause: cause, What: l.what}
	}
	l.mu.Unlock()
	l.cancel(cause)
}

// Stop releases the lease's timer.
func (l *Lease) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	l.timer.Stop()
}

// untilCheck is when the timer should look at the lease next: holdMargin before the deadline
// (a held lease is extended then), else at the deadline. Called with mu held.
func (l *Lease) untilCheck() time.Duration {
	left := time.Until(l.deadline)
	if l.held || left > holdMargin {
		return left - holdMargin
	}
	return left
}

// check runs on the lease's timer.
func (l *Lease) check() {
	l.mu.Lock()
	if l.stopped || l.ended {
		l.mu.Unlock()
		return
	}
	left := time.Until(l.deadline)
	if !l.held {
		if left > 0 {
			l.timer.Reset(left)
			l.mu.Unlock()
			return
		}
		l.ended = true
		l.mu.Unlock()
		l.cancel(ErrLeaseExpired)
		return
	}
	bound, deadline := l.bound, l.deadline
	l.mu.Unlock()
	// Leave half the margin to raise the incident if the extension is refused.
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-holdMargin/2))
	err := l.Extend(ctx, bound+2*holdMargin)
	cancel()
	if err == nil {
		return
	}
	l.mu.Lock()
	switch {
	case l.stopped || l.ended:
		l.mu.Unlock()
		return
	case !l.held: // released meanwhile: an ordinary lease again
		l.timer.Reset(time.Until(l.deadline))
		l.mu.Unlock()
		return
	}
	l.ended = true
	var cause error = fmt.Errorf("%w: it could not be extended (%v)", ErrLeaseExpired, gatewayError(err))
	if l.sent {
		cause = &OutcomeUnknown{Cause: fmt.Errorf("the job's timeout could not be extended (%v)", gatewayError(err)), What: l.what}
	}
	l.mu.Unlock()
	l.cancel(cause)
}
