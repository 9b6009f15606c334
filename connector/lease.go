package connector

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Lease is a job's reservation on this worker: its deadline, which a long-running handler
// (waiting for a desktop flow to finish) may push out with UpdateJobTimeout. When the deadline
// passes, the job's context is cancelled.
type Lease struct {
	mu       sync.Mutex
	deadline time.Time
	timer    *time.Timer
	update   func(ctx context.Context, timeout time.Duration) error
}

// NewLease returns a lease that cancels with cancel at deadline; update asks the gateway for a
// new timeout (nil: the lease cannot be extended).
func NewLease(deadline time.Time, cancel func(), update func(context.Context, time.Duration) error) *Lease {
	return &Lease{deadline: deadline, timer: time.AfterFunc(time.Until(deadline), cancel), update: update}
}

// ErrNoExtension means the lease cannot be extended.
var ErrNoExtension = errors.New("the job's timeout cannot be extended")

// Deadline is when the job's reservation ends.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Extend sets the job's timeout to d from now.
func (l *Lease) Extend(ctx context.Context, d time.Duration) error {
	if l.update == nil {
		return ErrNoExtension
	}
	if err := l.update(ctx, d); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline = time.Now().Add(d)
	l.timer.Reset(d)
	return nil
}

// Stop releases the lease's timer.
func (l *Lease) Stop() { l.timer.Stop() }
