// Package fakegateway is an in-process Zeebe gateway for load tests: a real gRPC server on
// loopback implementing the job part of gateway_protocol.Gateway (Topology, ActivateJobs,
// StreamActivatedJobs, CompleteJob, FailJob, ThrowError, and SetVariables and UpdateJobTimeout,
// which the worker uses for triggers and long jobs; UNIMPLEMENTED for the rest). It hands
// out a batch of identical jobs as fast as a worker takes them, so what a load test measures is
// the worker alone: the ceiling a real gateway (pa-engine or a Zeebe cluster) can only lower.
//
// A batch is released with Release. At most Outstanding jobs are activated and not yet answered
// at any time (a worker's max-jobs-active is the natural value): more would only queue in gRPC
// buffers and count as latency that no worker could avoid. Latency is measured per job from the
// moment the gateway sends it (in an ActivateJobs answer or on a stream) to the moment the
// complete, fail or throw-error command arrives.
package fakegateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// DefaultVersion is the gateway version Topology reports: the Zeebe version of the Go client
// the project pins.
const DefaultVersion = "8.5.8"

// keyBase is the key of job 0: Zeebe keys carry the partition id in their top bits (partition 1).
const keyBase = int64(1) << 51

// Server is the fake gateway.
type Server struct {
	pb.UnimplementedGatewayServer

	version  string
	ln       net.Listener
	grpc     *grpc.Server
	released chan struct{} // closed by Release
	batch    atomic.Pointer[Batch]
	once     sync.Once
	served   chan struct{}
}

// Options configure New.
type Options struct {
	Addr    string // listen address, default 127.0.0.1:0
	Version string // gatewayVersion in Topology, default DefaultVersion
}

// New starts a gateway listening on loopback.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("fake gateway: %w", err)
	}
	s := &Server{
		version:  opts.Version,
		ln:       ln,
		released: make(chan struct{}),
		served:   make(chan struct{}),
		// The Zeebe client pings every 45 s; gRPC's default policy (5 min) would answer with
		// GOAWAY on a long run.
		grpc: grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: 5 * time.Second, PermitWithoutStream: true,
		})),
	}
	pb.RegisterGatewayServer(s.grpc, s)
	go func() { defer close(s.served); _ = s.grpc.Serve(ln) }()
	return s, nil
}

// Addr is the host:port to give a worker as ZEEBE_ADDRESS.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server at once: open streams and polls end.
func (s *Server) Close() {
	s.grpc.Stop()
	<-s.served
}

// Job is the template of every job in a batch.
type Job struct {
	Type      string // job type; ActivateJobs and streams of other types get nothing
	Variables string // JSON object
	// Variants, when set, replace Variables: job i gets Variants[i % len(Variants)] (to spread
	// jobs over callers and connections, as a worker serving many processes sees them).
	Variants      []string
	CustomHeaders string // JSON object of task headers
	Retries       int32  // default 3
}

// Release starts handing out n copies of job, at most outstanding unanswered at a time. A
// server serves one batch; a second Release panics.
func (s *Server) Release(job Job, n, outstanding int) *Batch {
	if job.Retries == 0 {
		job.Retries = 3
	}
	if outstanding < 1 {
		outstanding = 1
	}
	b := &Batch{
		job:         job,
		n:           n,
		credits:     make(chan struct{}, outstanding),
		requeue:     make(chan int, n),
		state:       make([]atomic.Int32, n),
		activatedAt: make([]atomic.Int64, n),
		latency:     make([]time.Duration, n),
		done:        make(chan struct{}),
		start:       time.Now(),
	}
	for i := 0; i < outstanding; i++ {
		b.credits <- struct{}{}
	}
	if n == 0 {
		close(b.done)
	}
	if !s.batch.CompareAndSwap(nil, b) {
		panic("fakegateway: Release called twice")
	}
	s.once.Do(func() { close(s.released) })
	return b
}

// Topology reports one healthy broker leading one partition, and the gateway version.
func (s *Server) Topology(context.Context, *pb.TopologyRequest) (*pb.TopologyResponse, error) {
	host, port := "127.0.0.1", int32(0)
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		port = int32(a.Port)
	}
	return &pb.TopologyResponse{
		ClusterSize: 1, PartitionsCount: 1, ReplicationFactor: 1, GatewayVersion: s.version,
		Brokers: []*pb.BrokerInfo{{
			NodeId: 0, Host: host, Port: port, Version: s.version,
			Partitions: []*pb.Partition{{
				PartitionId: 1, Role: pb.Partition_LEADER, Health: pb.Partition_HEALTHY,
			}},
		}},
	}, nil
}

// ActivateJobs answers with up to MaxJobsToActivate jobs; with none to give it long-polls until
// jobs free up or the request timeout (default 10 s) passes, as the real gateway does.
func (s *Server) ActivateJobs(req *pb.ActivateJobsRequest, stream pb.Gateway_ActivateJobsServer) error {
	if req.GetType() == "" || req.GetMaxJobsToActivate() < 1 || req.GetTimeout() < 1 {
		return status.Error(codes.InvalidArgument, "type, timeout and maxJobsToActivate are required")
	}
	// Request timeout: 0 is the gateway's default long poll (10 s), negative is none.
	wait := time.Duration(req.GetRequestTimeout()) * time.Millisecond
	switch {
	case req.GetRequestTimeout() == 0:
		wait = 10 * time.Second
	case wait <= 0:
		wait = time.Millisecond
	}
	ctx, cancel := context.WithTimeout(stream.Context(), wait)
	defer cancel()
	b := s.waitBatch(ctx, req.GetType())
	if b == nil {
		return nil // long poll over, nothing to give
	}
	b.polls.Add(1)
	idx := b.take(ctx, int(req.GetMaxJobsToActivate()))
	if len(idx) == 0 {
		return nil
	}
	deadline := time.Now().Add(time.Duration(req.GetTimeout()) * time.Millisecond).UnixMilli()
	jobs := make([]*pb.ActivatedJob, len(idx))
	for i, j := range idx {
		jobs[i] = b.activated(j, req.GetWorker(), deadline)
	}
	now := time.Now().UnixNano()
	for _, j := range idx {
		b.activatedAt[j].Store(now)
	}
	if err := stream.Send(&pb.ActivateJobsResponse{Jobs: jobs}); err != nil {
		for _, j := range idx {
			b.giveBack(j)
		}
		return err
	}
	b.viaPoll.Add(int64(len(idx)))
	return nil
}

// StreamActivatedJobs pushes jobs as long as the stream is open and jobs are free.
func (s *Server) StreamActivatedJobs(req *pb.StreamActivatedJobsRequest, stream pb.Gateway_StreamActivatedJobsServer) error {
	if req.GetType() == "" || req.GetTimeout() < 1 {
		return status.Error(codes.InvalidArgument, "type and timeout are required")
	}
	ctx := stream.Context()
	b := s.waitBatch(ctx, req.GetType())
	if b == nil {
		return nil
	}
	b.streams.Add(1)
	for {
		idx := b.take(ctx, 1)
		if len(idx) == 0 {
			<-ctx.Done() // all handed out: stay open like the real gateway, until the client goes
			return nil
		}
		j := idx[0]
		deadline := time.Now().Add(time.Duration(req.GetTimeout()) * time.Millisecond).UnixMilli()
		job := b.activated(j, req.GetWorker(), deadline)
		b.activatedAt[j].Store(time.Now().UnixNano())
		if err := stream.Send(job); err != nil {
			b.giveBack(j)
			return err
		}
		b.viaStream.Add(1)
	}
}

// CompleteJob answers a job.
func (s *Server) CompleteJob(_ context.Context, req *pb.CompleteJobRequest) (*pb.CompleteJobResponse, error) {
	if err := s.answer(req.GetJobKey(), stateCompleted, req.GetVariables()); err != nil {
		return nil, err
	}
	return &pb.CompleteJobResponse{}, nil
}

// SetVariables accepts variables for an element instance (the worker records a started run on
// the trigger task's element instance this way) and only counts the call.
func (s *Server) SetVariables(_ context.Context, req *pb.SetVariablesRequest) (*pb.SetVariablesResponse, error) {
	if b := s.batch.Load(); b != nil {
		b.setVariables.Add(1)
	}
	return &pb.SetVariablesResponse{Key: req.GetElementInstanceKey() + 1<<42}, nil
}

// UpdateJobTimeout extends an activated job's lease; only counted.
func (s *Server) UpdateJobTimeout(_ context.Context, req *pb.UpdateJobTimeoutRequest) (*pb.UpdateJobTimeoutResponse, error) {
	b := s.batch.Load()
	key := req.GetJobKey()
	if b == nil || key < keyBase || key >= keyBase+int64(b.n) || b.state[key-keyBase].Load() != stateActivated {
		return nil, status.Errorf(codes.NotFound, "Expected to find an activated job with key '%d'", key)
	}
	b.updateTimeouts.Add(1)
	return &pb.UpdateJobTimeoutResponse{}, nil
}

// FailJob answers a job; for the benchmark every failure is a functional error.
func (s *Server) FailJob(_ context.Context, req *pb.FailJobRequest) (*pb.FailJobResponse, error) {
	if err := s.answer(req.GetJobKey(), stateFailed, req.GetErrorMessage()); err != nil {
		return nil, err
	}
	return &pb.FailJobResponse{}, nil
}

// ThrowError answers a job with a BPMN error; for the benchmark a functional error too.
func (s *Server) ThrowError(_ context.Context, req *pb.ThrowErrorRequest) (*pb.ThrowErrorResponse, error) {
	if err := s.answer(req.GetJobKey(), stateThrown, req.GetErrorCode()+": "+req.GetErrorMessage()); err != nil {
		return nil, err
	}
	return &pb.ThrowErrorResponse{}, nil
}

func (s *Server) answer(key int64, to int32, msg string) error {
	b := s.batch.Load()
	if b == nil || key < keyBase || key >= keyBase+int64(b.n) {
		return status.Errorf(codes.NotFound, "Expected to find a job with key '%d', but none was found", key)
	}
	if err := b.answer(int(key-keyBase), to, msg); err != nil {
		return err
	}
	return nil
}

// waitBatch waits for the released batch; nil when ctx ends first or the type is not served.
func (s *Server) waitBatch(ctx context.Context, jobType string) *Batch {
	select {
	case <-s.released:
	case <-ctx.Done():
		return nil
	}
	b := s.batch.Load()
	if b.job.Type != jobType {
		<-ctx.Done()
		return nil
	}
	return b
}

const (
	statePending int32 = iota
	stateActivated
	stateCompleted
	stateFailed
	stateThrown
)

// Batch is one released set of jobs and what happened to them.
type Batch struct {
	job     Job
	n       int
	next    atomic.Int64  // jobs handed out for the first time
	credits chan struct{} // free outstanding slots
	requeue chan int      // jobs whose delivery failed

	state       []atomic.Int32
	activatedAt []atomic.Int64 // unix ns of the (last) activation
	latency     []time.Duration

	completed, failed, thrown atomic.Int64
	viaPoll, viaStream        atomic.Int64
	polls, streams            atomic.Int64
	setVariables              atomic.Int64
	updateTimeouts            atomic.Int64
	finished                  atomic.Int64
	start                     time.Time
	end                       atomic.Int64
	done                      chan struct{}

	mu       sync.Mutex
	messages []string // first failure messages
	sample   string   // variables of the first completion
	sampled  bool
}

// take returns up to max job indexes, waiting for the first until ctx ends.
func (b *Batch) take(ctx context.Context, max int) []int {
	var idx []int
	for len(idx) < max {
		if len(idx) == 0 {
			select {
			case <-b.credits:
			case <-ctx.Done():
				return nil
			}
		} else {
			select {
			case <-b.credits:
			default:
				return idx
			}
		}
		j, ok := b.nextJob()
		if !ok {
			b.credits <- struct{}{}
			if len(idx) == 0 {
				// Nothing left now: wait for a redelivery or the end of the poll.
				select {
				case j := <-b.requeue:
					<-b.credits // may wait: the requeued job gave its credit back
					return []int{j}
				case <-ctx.Done():
					return nil
				}
			}
			return idx
		}
		idx = append(idx, j)
	}
	return idx
}

func (b *Batch) nextJob() (int, bool) {
	select {
	case j := <-b.requeue:
		return j, true
	default:
	}
	for {
		n := b.next.Load()
		if n >= int64(b.n) {
			return 0, false
		}
		if b.next.CompareAndSwap(n, n+1) {
			return int(n), true
		}
	}
}

// activated marks job j activated and builds it.
func (b *Batch) activated(j int, worker string, deadline int64) *pb.ActivatedJob {
	b.state[j].Store(stateActivated)
	key := keyBase + int64(j)
	return &pb.ActivatedJob{
		Key:                      key,
		Type:                     b.job.Type,
		ProcessInstanceKey:       key + 1<<40,
		BpmnProcessId:            "pa-bench",
		ProcessDefinitionVersion: 1,
		ProcessDefinitionKey:     keyBase - 1,
		ElementId:                "run-desktop-flow",
		ElementInstanceKey:       key + 1<<41,
		CustomHeaders:            b.job.CustomHeaders,
		Worker:                   worker,
		Retries:                  b.job.Retries,
		Deadline:                 deadline,
		Variables:                b.variables(j),
		TenantId:                 "<default>",
	}
}

func (b *Batch) variables(j int) string {
	if len(b.job.Variants) > 0 {
		return b.job.Variants[j%len(b.job.Variants)]
	}
	return b.job.Variables
}

// giveBack makes a job that could not be delivered available again.
func (b *Batch) giveBack(j int) {
	b.state[j].Store(statePending)
	b.requeue <- j
	b.credits <- struct{}{}
}

func (b *Batch) answer(j int, to int32, msg string) error {
	if !b.state[j].CompareAndSwap(stateActivated, to) {
		return status.Errorf(codes.NotFound, "Expected to find an activated job with key '%d', but it is not activated", keyBase+int64(j))
	}
	now := time.Now()
	b.latency[j] = now.Sub(time.Unix(0, b.activatedAt[j].Load()))
	switch to {
	case stateCompleted:
		b.completed.Add(1)
	case stateFailed:
		b.failed.Add(1)
	case stateThrown:
		b.thrown.Add(1)
	}
	b.mu.Lock()
	if to != stateCompleted && len(b.messages) < 5 {
		b.messages = append(b.messages, msg)
	}
	if to == stateCompleted && !b.sampled {
		b.sample, b.sampled = msg, true
	}
	b.mu.Unlock()
	b.credits <- struct{}{}
	if b.finished.Add(1) == int64(b.n) {
		b.end.Store(now.UnixNano())
		close(b.done)
	}
	return nil
}

// Wait returns when every job has been answered, or with ctx's error.
func (b *Batch) Wait(ctx context.Context) error {
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d jobs answered: %w", b.finished.Load(), b.n, ctx.Err())
	}
}

// Done is closed when every job has been answered.
func (b *Batch) Done() <-chan struct{} { return b.done }

// Stats is what happened to a batch.
type Stats struct {
	Jobs                      int
	Completed, Failed, Thrown int
	ViaPoll, ViaStream        int // deliveries by path (a redelivered job counts twice)
	Polls, Streams            int // ActivateJobs calls that got the batch; streams opened
	SetVariables              int // SetVariables calls
	UpdateTimeouts            int // UpdateJobTimeout calls
	Elapsed                   time.Duration
	Latencies                 []time.Duration // activation → answer, of answered jobs
	Messages                  []string        // first failure or BPMN error messages
	Sample                    string          // variables of the first completed job (JSON)
}

// Stats reports the batch; Elapsed runs from Release to the last answer (or now).
func (b *Batch) Stats() Stats {
	st := Stats{
		Jobs: b.n, Completed: int(b.completed.Load()), Failed: int(b.failed.Load()), Thrown: int(b.thrown.Load()),
		ViaPoll: int(b.viaPoll.Load()), ViaStream: int(b.viaStream.Load()),
		Polls: int(b.polls.Load()), Streams: int(b.streams.Load()),
		SetVariables: int(b.setVariables.Load()), UpdateTimeouts: int(b.updateTimeouts.Load()),
	}
	end := time.Now()
	if e := b.end.Load(); e != 0 {
		end = time.Unix(0, e)
	}
	st.Elapsed = end.Sub(b.start)
	select {
	case <-b.done:
		// All latencies are written before done closes.
		for j := range b.latency {
			if s := b.state[j].Load(); s >= stateCompleted {
				st.Latencies = append(st.Latencies, b.latency[j])
			}
		}
	default:
	}
	b.mu.Lock()
	st.Messages = append(st.Messages, b.messages...)
	st.Sample = b.sample
	b.mu.Unlock()
	return st
}

// Err is nil when every job completed; otherwise it says how many failed and why.
func (st Stats) Err() error {
	if st.Completed == st.Jobs {
		return nil
	}
	msg := fmt.Sprintf("%d of %d jobs completed (%d failed, %d BPMN errors, %d unanswered)",
		st.Completed, st.Jobs, st.Failed, st.Thrown, st.Jobs-st.Completed-st.Failed-st.Thrown)
	for _, m := range st.Messages {
		msg += "\n  " + m
	}
	return errors.New(msg)
}
