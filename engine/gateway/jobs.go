package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/engine"
)

func toPB(j *engine.ActivatedJob) *pb.ActivatedJob {
	return &pb.ActivatedJob{Key: j.Key, Type: j.Type, ProcessInstanceKey: j.ProcessInstanceKey, BpmnProcessId: j.ProcessID,
		ProcessDefinitionVersion: j.Version, ProcessDefinitionKey: j.DefinitionKey, ElementId: j.ElementID,
		ElementInstanceKey: j.ElementInstanceKey, CustomHeaders: j.CustomHeaders, Worker: j.Worker, Retries: j.Retries,
		Deadline: j.Deadline, Variables: j.Variables, TenantId: engine.DefaultTenant}
}

// ActivateJobs activates jobs, holding the call (long polling) until a job of the type becomes
// activatable or the request timeout passes; then it ends with no jobs and status OK.
func (s *Server) ActivateJobs(req *pb.ActivateJobsRequest, stream pb.Gateway_ActivateJobsServer) error {
	ctx := stream.Context()
	wait := time.Duration(req.RequestTimeout) * time.Millisecond
	if req.RequestTimeout == 0 {
		wait = defaultLongPoll
	}
	deadline := time.Now().Add(wait)
	c := &engine.Cmd{Op: engine.OpActivate, Type: req.Type, Worker: req.Worker, Timeout: req.Timeout,
		MaxJobs: req.MaxJobsToActivate, Fetch: req.FetchVariable}
	for {
		w := s.register(req.Type)
		res, err := s.e.Do(ctx, c, nil)
		if err := toStatus(res, err, fmt.Sprintf("Expected to activate jobs of type '%s', but no jobs available and at least one broker returned 'RESOURCE_EXHAUSTED'. Please try again later.", req.Type)); err != nil {
			s.unregister(req.Type, w)
			if status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(res.Jobs) > 0 {
			s.unregister(req.Type, w)
			return s.send(ctx, stream, res.Jobs)
		}
		left := time.Until(deadline)
		if req.RequestTimeout < 0 || left <= 0 {
			s.unregister(req.Type, w)
			return nil
		}
		if left > pollProbe {
			left = pollProbe
		}
		t := time.NewTimer(left)
		select {
		case <-w:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.unregister(req.Type, w)
			return nil
		case <-s.closing:
			t.Stop()
			s.unregister(req.Type, w)
			return nil
		}
		t.Stop()
		s.unregister(req.Type, w)
		if time.Now().After(deadline) {
			return nil
		}
	}
}

// send writes activated jobs; jobs that cannot be written are failed back with their retries,
// as Zeebe's gateway does, so they are not stuck until their deadline.
func (s *Server) send(ctx context.Context, stream pb.Gateway_ActivateJobsServer, jobs []*engine.ActivatedJob) error {
	out := make([]*pb.ActivatedJob, len(jobs))
	for i, j := range jobs {
		out[i] = toPB(j)
	}
	err := stream.Send(&pb.ActivateJobsResponse{Jobs: out})
	if err != nil {
		for _, j := range jobs {
			_, _ = s.e.Do(context.Background(), &engine.Cmd{Op: engine.OpFail, Key: j.Key, Retries: j.Retries,
				Message: "Failed to send activated jobs to client, failed with: " + err.Error()}, nil)
		}
	}
	return err
}

func (s *Server) register(typ string) chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	set := s.polls[typ]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		s.polls[typ] = set
	}
	set[ch] = struct{}{}
	s.mu.Unlock()
	return ch
}

func (s *Server) unregister(typ string, ch chan struct{}) {
	s.mu.Lock()
	if set := s.polls[typ]; set != nil {
		delete(set, ch)
		if len(set) == 0 {
			delete(s.polls, typ)
		}
	}
	s.mu.Unlock()
}

// wake tells held polls of these types that jobs became activatable.
func (s *Server) wake(types []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range types {
		for ch := range s.polls[t] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// StreamActivatedJobs keeps a stream open; jobs of its type that become activatable are
// activated for it and pushed. A job that cannot be sent is yielded back to polls.
func (s *Server) StreamActivatedJobs(req *pb.StreamActivatedJobsRequest, stream pb.Gateway_StreamActivatedJobsServer) error {
	if strings.TrimSpace(req.Type) == "" {
		return status.Error(codes.InvalidArgument, "Expected to stream activated jobs with type to be present, but it was blank")
	}
	if req.Timeout < 1 {
		return status.Error(codes.InvalidArgument, fmt.Sprintf("Expected to stream activated jobs with timeout to be greater than zero, but it was %d", req.Timeout))
	}
	for _, t := range req.TenantIds {
		if err := checkTenant(t); err != nil {
			return err
		}
	}
	st := &engine.Stream{Type: req.Type, Worker: req.Worker, Timeout: req.Timeout, Fetch: req.FetchVariable}
	s.e.AddStream(st)
	defer func() {
		for _, j := range s.e.RemoveStream(st) {
			s.e.Yield(j.Key)
		}
	}()
	ctx := stream.Context()
	for {
		select {
		case j := <-st.C:
			if err := stream.Send(toPB(j)); err != nil {
				s.e.Yield(j.Key)
				return nil
			}
		case <-ctx.Done():
			// The call's own end: its deadline (DEADLINE_EXCEEDED) or the client's cancel.
			// Returning nil would send OK, and a client whose deadline fires at the same moment
			// would see the stream end normally instead of at its deadline.
			return status.FromContextError(ctx.Err()).Err()
		case <-s.closing:
			return status.Error(codes.Unavailable, "the engine is shutting down")
		}
	}
}
