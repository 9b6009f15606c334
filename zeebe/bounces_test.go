package zeebe

import (
	"testing"
	"time"
)

// The busy backoff of one job grows with each hand-back, from at most 1 s to at most 10 s, never
// under 0.5 s, and is jittered: a burst of hand-backs does not come back as one burst.
func TestBusyBackoffGrowsPerJobAndIsJittered(t *testing.T) {
	var b bounces
	ceilings := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, ceiling := range ceilings {
		if d := b.next(1); d < busyBackoffMin || d > ceiling {
			t.Fatalf("hand-back %d of one job: backoff %s, want within [500ms, %s]", i+1, d, ceiling)
		}
	}
	// A job that started starts again from the shortest backoff.
	b.forget(1)
	if d := b.next(1); d > time.Second {
		t.Fatalf("after forget: backoff %s, want at most 1s", d)
	}
	// First hand-backs of many jobs spread over [0.5 s, 1 s].
	seen := map[time.Duration]bool{}
	lo, hi := time.Hour, time.Duration(0)
	for k := int64(100); k < 1100; k++ {
		d := b.next(k)
		seen[d.Round(10*time.Millisecond)] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	if len(seen) < 20 || hi-lo < 300*time.Millisecond {
		t.Fatalf("1,000 first hand-backs took %d distinct values between %s and %s: not jittered", len(seen), lo, hi)
	}
}

// The map is bounded: past maxBouncingJobs it starts again instead of growing for good.
func TestBusyBackoffForgetsPastItsBound(t *testing.T) {
	var b bounces
	for k := int64(0); k < maxBouncingJobs+10; k++ {
		b.next(k)
	}
	if n := len(b.jobs); n > maxBouncingJobs {
		t.Fatalf("bounces tracks %d jobs, bound %d", n, maxBouncingJobs)
	}
}
