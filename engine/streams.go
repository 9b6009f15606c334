package engine

import (
	"math/rand/v2"
	"sort"
)

// Stream is an open StreamActivatedJobs call: jobs of its type that become activatable are
// activated for it and sent on C. The gateway reads C and answers Yield for a job it could
// not deliver.
type Stream struct {
	ID      int64
	Type    string
	Worker  string
	Timeout int64
	Fetch   []string
	C       chan *ActivatedJob
}

// AddStream registers a stream; jobs that become activatable from now on may be pushed to it.
func (e *Engine) AddStream(s *Stream) {
	e.streamsMu.Lock()
	e.nextID++
	s.ID = e.nextID
	if s.C == nil {
		s.C = make(chan *ActivatedJob, 64)
	}
	e.streams[s.ID] = s
	e.streamsMu.Unlock()
}

// RemoveStream unregisters a stream and returns the jobs pushed to it that it did not take,
// for the caller to yield.
func (e *Engine) RemoveStream(s *Stream) []*ActivatedJob {
	e.streamsMu.Lock()
	defer e.streamsMu.Unlock()
	delete(e.streams, s.ID)
	var left []*ActivatedJob
	for {
		select {
		case j := <-s.C:
			left = append(left, j)
		default:
			return left
		}
	}
}

// streamPushes turns the jobs that just became activatable into push commands for open
// streams of their type, one chosen at random as Zeebe does (a job handed back by a full
// worker is not pushed to the same stream again and again); the others wake long polls.
func (e *Engine) streamPushes() []*request {
	if len(e.ready) == 0 {
		return nil
	}
	var out []*request
	e.streamsMu.Lock()
	byType := map[string][]*Stream{}
	for _, s := range e.streams {
		byType[s.Type] = append(byType[s.Type], s)
	}
	e.streamsMu.Unlock()
	for _, list := range byType {
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	}
	for _, k := range e.ready {
		j := e.st.Jobs[k]
		if j == nil || j.State != JobActivatable {
			continue
		}
		list := byType[j.Type]
		if len(list) == 0 {
			e.woken[j.Type] = true
			continue
		}
		s := list[rand.N(len(list))]
		out = append(out, &request{cmd: &Cmd{Op: OpPush, Key: k, Worker: s.Worker, Timeout: s.Timeout, Fetch: s.Fetch, StreamID: s.ID}})
	}
	e.ready = e.ready[:0]
	return out
}

func (e *Engine) queuePush(streamID int64, j *ActivatedJob) {
	e.streamsMu.Lock()
	s := e.streams[streamID]
	e.streamsMu.Unlock()
	e.pushes = append(e.pushes, push{stream: s, job: j})
}

// deliverPushes hands pushed jobs to their streams once durable; a stream that is gone or
// full yields the job back.
func (e *Engine) deliverPushes(pushes []push) {
	if len(pushes) == 0 {
		return
	}
	e.streamsMu.Lock()
	defer e.streamsMu.Unlock()
	for _, p := range pushes {
		delivered := false
		if p.stream != nil && e.streams[p.stream.ID] == p.stream {
			select {
			case p.stream.C <- p.job:
				delivered = true
			default:
			}
		}
		if !delivered {
			e.Yield(p.job.Key)
		}
	}
}

// Yield gives back a pushed job the gateway could not send.
func (e *Engine) Yield(key int64) {
	go func() { _, _ = e.Do(contextBackground(), &Cmd{Op: OpYield, Key: key}, nil) }()
}
