package backoff

import (
	"testing"
	"time"
)

func TestBackoffIsExponentialWithFullJitter(t *testing.T) {
	b := &Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for round := 0; round < 200; round++ {
		b.Reset()
		for i, c := range ceilings {
			if d := b.Next(); d < 0 || d > c*time.Millisecond {
				t.Fatalf("pause %d = %s, want within [0, %dms]", i, d, c)
			}
		}
	}
	// Full jitter: pauses spread over the whole range, not bunched at the ceiling.
	low := 0
	for i := 0; i < 1000; i++ {
		b.Reset()
		if b.Next() < 50*time.Millisecond {
			low++
		}
	}
	if low < 350 || low > 650 {
		t.Fatalf("%d of 1000 first pauses under half the ceiling, want about 500", low)
	}
	m := &Backoff{Min: time.Second, Base: 2 * time.Second, Factor: 1.5, Cap: 3 * time.Second}
	for i := 0; i < 100; i++ {
		if d := m.Next(); d < time.Second || d > 3*time.Second {
			t.Fatalf("pause %s outside [1s, 3s]", d)
		}
	}
}
