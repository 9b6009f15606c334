package zeebe

import (
	"context"
	"sync"
)

// slots counts the jobs the worker holds against a bound (PA_CONNECTOR_MAX_JOBS_ACTIVE for jobs
// at work, PA_CONNECTOR_MAX_JOBS_WAITING for runFlowAndWait jobs waiting for their run). Unlike a
// buffered channel it can wait for a slot to free without taking it: a poll beside the job
// stream asks for jobs only when one could start.
type slots struct {
	mu    sync.Mutex
	max   int
	used  int
	freed chan struct{} // closed (and dropped) when a slot frees
}

func newSlots(max int) *slots { return &slots{max: max} }

// tryTake takes up to n free slots without waiting and returns how many it took.
func (s *slots) tryTake(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(min(n, s.max-s.used), 0)
	s.used += n
	return n
}

// take waits for one free slot and takes it; false when ctx ends first.
func (s *slots) take(ctx context.Context) bool {
	for s.tryTake(1) == 0 {
		if !s.waitFree(ctx) {
			return false
		}
	}
	return true
}

// waitFree waits until a slot is free, without taking it; false when ctx ends first.
func (s *slots) waitFree(ctx context.Context) bool {
	for {
		s.mu.Lock()
		if s.used < s.max {
			s.mu.Unlock()
			return true
		}
		if s.freed == nil {
			s.freed = make(chan struct{})
		}
		ch := s.freed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// release gives n slots back.
func (s *slots) release(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used -= n
	if s.freed != nil {
		close(s.freed)
		s.freed = nil
	}
}

// free is the number of free slots.
func (s *slots) free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max - s.used
}
