package zeebe

import (
	"sync"
	"time"

	"github.com/pa-connector/pa-connector/backoff"
)

// A job pushed to a worker whose slots are all taken is handed back with a retry backoff that
// grows each time the same job is handed back: from [0.5 s, 1 s] to [0.5 s, 10 s], jittered, so
// that a full worker with a long backlog does not have the gateway push every waiting job to
// it again twice a second, and a burst of hand-backs does not come back as one burst.
const (
	busyBackoffMin  = 500 * time.Millisecond
	busyBackoffBase = time.Second
	busyBackoffCap  = 10 * time.Second
	// bounces tracks at most this many jobs; past it, it starts again from nothing (a job the
	// worker never sees again, taken by another worker, would otherwise stay in it for good).
	maxBouncingJobs = 10000
)

// bounces keeps the busy backoff of each job handed back for want of a free slot.
type bounces struct {
	mu   sync.Mutex
	jobs map[int64]*backoff.Backoff
}

// next returns the retry backoff for handing job key back once more.
func (b *bounces) next(key int64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.jobs == nil || len(b.jobs) >= maxBouncingJobs {
		b.jobs = map[int64]*backoff.Backoff{}
	}
	bo := b.jobs[key]
	if bo == nil {
		bo = &backoff.Backoff{Min: busyBackoffMin, Base: busyBackoffBase, Cap: busyBackoffCap}
		b.jobs[key] = bo
	}
	return bo.Next()
}

// forget drops a job that started.
func (b *bounces) forget(key int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.jobs, key)
}
