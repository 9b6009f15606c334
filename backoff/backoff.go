// Package backoff is the one backoff of the worker: exponential with full jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential with full jitter. The n-th pause (n from 0) is drawn uniformly from
// [Min, min(Cap, Base·Factorⁿ)], so that many workers (or many jobs) that failed together do
// not retry together. The gateway loops, the resending of refused commands and the status
// polling of runFlowAndWait all use it.
type Backoff struct {
	Base   time.Duration // ceiling of the first pause
	Cap    time.Duration // largest ceiling
	Min    time.Duration // shortest pause (0: full jitter from zero)
	Factor float64       // growth of the ceiling per pause (0: 2)

	ceiling time.Duration
}

// Next returns the next pause.
func (b *Backoff) Next() time.Duration {
	if b.ceiling == 0 {
		b.ceiling = b.Base
	} else {
		f := b.Factor
		if f == 0 {
			f = 2
		}
		b.ceiling = time.Duration(float64(b.ceiling) * f)
	}
	b.ceiling = max(min(b.ceiling, b.Cap), b.Min)
	if b.ceiling <= b.Min {
		return b.Min
	}
	return b.Min + rand.N(b.ceiling-b.Min+1)
}

// Reset starts a new streak: the next pause is drawn under Base again.
func (b *Backoff) Reset() { b.ceiling = 0 }
