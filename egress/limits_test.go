package egress

import (
	"context"
	"testing"
	"time"
)

func TestSlidingWindowAdmitsAtMostMaxPerPeriod(t *testing.T) {
	w := newWindow(3, 2*time.Second)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 3; i++ {
		if err := w.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("the first three events should pass at once")
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := w.wait(short); err == nil && time.Since(start) < time.Second {
		t.Fatal("a fourth event within the period was admitted at once")
	}
}
