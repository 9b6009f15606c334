package zeebe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/backoff"
	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/engine"
	"github.com/pa-connector/pa-connector/engine/gateway"
)

// Tests of the worker loop itself (poll, stream, slots, drain, shutdown) against pa-engine's
// engine and gateway started in process: the same gRPC protocol as a Zeebe cluster.

// startEngine starts an engine and its gateway on a free port and returns a client of it.
func startEngine(t *testing.T) zbc.Client { return startEngineWith(t, nil) }

// startEngineWith starts an engine that exports its records to exp (nil: none) behind a gRPC
// server with opts.
func startEngineWith(t *testing.T, exp engine.Exporter, opts ...grpc.ServerOption) zbc.Client {
	t.Helper()
	eng, err := engine.Open(engine.Options{DataDir: t.TempDir(), Exporter: exp, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	gw := gateway.New(eng, ln.Addr())
	pb.RegisterGatewayServer(srv, gw)
	go srv.Serve(ln)
	c, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: ln.Addr().String(), UsePlaintextConnection: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		gw.Shutdown()
		srv.Stop()
		eng.Close()
	})
	return c
}

// deployTask deploys a process with one service task of jobType and returns its id.
func deployTask(t *testing.T, c zbc.Client, jobType string) string {
	t.Helper()
	id := "p-" + strings.NewReplacer(":", "-", " ", "-").Replace(jobType)
	bpmn := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="%s" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task"><bpmn:extensionElements><zeebe:taskDefinition type="%s" retries="3" /></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`, id, jobType)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.NewDeployResourceCommand().AddResource([]byte(bpmn), id+".bpmn").Send(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func createN(t *testing.T, c zbc.Client, processID string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		if _, err := c.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().Send(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// probe activates up to max jobs of jobType for another worker, without long polling.
func probe(t *testing.T, c zbc.Client, jobType string, max int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background()) // no deadline: no long polling
	defer cancel()
	jobs, err := c.NewActivateJobsCommand().JobType(jobType).MaxJobsToActivate(int32(max)).Timeout(time.Minute).
		WorkerName("probe").Send(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}

// gate is a handler whose jobs run until released, counting how many run at once.
type gate struct {
	mu       sync.Mutex
	running  int
	peak     int
	started  chan int64
	release  chan struct{}
	finished int
}

func newGate() *gate { return &gate{started: make(chan int64, 1000), release: make(chan struct{})} }

func (g *gate) Handle(ctx context.Context, job connector.Job) (connector.Result, error) {
	g.mu.Lock()
	g.running++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.finished++
		g.mu.Unlock()
	}()
	g.started <- job.Key
	select {
	case <-g.release:
		return connector.Result{Variables: map[string]any{"done": true}}, nil
	case <-ctx.Done():
		return connector.Result{}, ctx.Err()
	}
}

func (g *gate) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-g.started:
		case <-timeout:
			t.Fatalf("%d of %d jobs started", i, n)
		}
	}
}

func runWorker(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// Polling: the worker takes its slots before asking, so it never activates more jobs than it
// can start; the others stay available to other workers.
func TestPollingReservesNoMoreThanItCanStart(t *testing.T) {
	c := startEngine(t)
	const jobType = "loop-poll"
	pid := deployTask(t, c, jobType)
	g := newGate()
	w := &Worker{Gateway: c, Handler: g, Types: []string{jobType}, Name: "w", MaxJobsActive: 3, JobTimeout: time.Minute,
		RequestTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond, Streaming: "false", Grace: time.Second, Log: zerolog.Nop()}
	runWorker(t, w)
	createN(t, c, pid, 10)
	g.wait(t, 3)
	if n := probe(t, c, jobType, 100); n != 7 {
		t.Fatalf("another worker could activate %d jobs, want the 7 this worker cannot start", n)
	}
	close(g.release)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peak > 3 {
		t.Fatalf("%d jobs ran at once with MaxJobsActive 3", g.peak)
	}
}

// jobRecords keeps the JOB records an engine exports.
type jobRecords struct {
	mu   sync.Mutex
	jobs []engine.Record
}

func (r *jobRecords) Export(records []engine.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range records {
		if rec.ValueType == "JOB" {
			r.jobs = append(r.jobs, rec)
		}
	}
	return nil
}

func (r *jobRecords) LastPosition() int64 { return -1 }

// failed returns the FAILED events of the jobs.
func (r *jobRecords) failed() []engine.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.Record
	for _, rec := range r.jobs {
		if rec.Intent == "FAILED" {
			out = append(out, rec)
		}
	}
	return out
}

// countStreams counts the StreamActivatedJobs calls a gateway receives.
func countStreams(n *atomic.Int32) grpc.ServerOption {
	return grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if strings.HasSuffix(info.FullMethod, "/StreamActivatedJobs") {
			n.Add(1)
		}
		return handler(srv, ss)
	})
}

// Streaming: the job stream stays open while every slot is taken (closing it would lose the
// jobs the gateway had already sent on it until their timeout); a job pushed to the full
// worker is handed back unstarted, with a short backoff, and comes back. When the slots free,
// every job runs, once, long before a lost one would have come back (the job timeout), and
// never more than MaxJobsActive at once.
func TestStreamStaysOpenWhileFullAndLosesNoJob(t *testing.T) {
	var streams atomic.Int32
	rec := &jobRecords{}
	c := startEngineWith(t, rec, countStreams(&streams))
	const jobType = "loop-stream"
	pid := deployTask(t, c, jobType)
	g := newGate()
	w := &Worker{Gateway: c, Handler: g, Types: []string{jobType}, Name: "w", MaxJobsActive: 2, JobTimeout: time.Minute,
		RequestTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond, Streaming: "true", Grace: time.Second, Log: zerolog.Nop()}
	runWorker(t, w)
	createN(t, c, pid, 2)
	g.wait(t, 2)
	createN(t, c, pid, 30)
	// Every job created while the worker is full is pushed to it and handed back at least once.
	for deadline := time.Now().Add(20 * time.Second); ; {
		keys := map[int64]bool{}
		for _, f := range rec.failed() {
			keys[f.Key] = true
		}
		if len(keys) == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the 30 jobs pushed to the full worker were handed back", len(keys))
		}
		time.Sleep(20 * time.Millisecond) // polling the exported records
	}
	for _, f := range rec.failed() {
		var v struct{ Retries, RetryBackoff int64 }
		if b, err := json.Marshal(f.Value); err != nil || json.Unmarshal(b, &v) != nil {
			t.Fatalf("record value %v", f.Value)
		}
		if v.Retries != 3 || v.RetryBackoff < 500 || v.RetryBackoff > 10000 {
			t.Fatalf("job %d handed back with retries %d, backoff %d ms; want 3 and 500-10,000 ms", f.Key, v.Retries, v.RetryBackoff)
		}
	}
	select {
	case k := <-g.started:
		t.Fatalf("job %d started while both slots were taken", k)
	default:
	}
	close(g.release)
	timeout := time.After(30 * time.Second) // half the job timeout: a lost job would come back later
	for seen := map[int64]bool{}; len(seen) < 30; {
		select {
		case k := <-g.started:
			if seen[k] {
				t.Fatalf("job %d started twice", k)
			}
			seen[k] = true
		case <-timeout:
			t.Fatalf("%d of the 30 jobs handed back ran within 30 s", len(seen))
		}
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("the worker opened %d job streams, want 1 kept open", n)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peak > 2 {
		t.Fatalf("%d jobs ran at once with MaxJobsActive 2", g.peak)
	}
}

// Shutdown: no new jobs; running jobs get the grace period; those that finish in it complete,
// the others are handed back with their retries unchanged; Run returns.
func TestDrainCompletesWhatFinishesAndHandsBackTheRest(t *testing.T) {
	c := startEngine(t)
	const jobType = "loop-drain"
	pid := deployTask(t, c, jobType)
	g := newGate()
	var log syncBuffer
	w := &Worker{Gateway: c, Handler: g, Types: []string{jobType}, Name: "w", MaxJobsActive: 2, JobTimeout: time.Minute,
		RequestTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond, Streaming: "false", Grace: 500 * time.Millisecond, Log: zerolog.New(&log)}
	stop := runWorker(t, w)
	createN(t, c, pid, 2)
	g.wait(t, 2)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	g.release <- struct{}{} // one job finishes within the grace period
	<-stopped
	out := log.String()
	if strings.Count(out, `"outcome":"completed"`) != 1 || strings.Count(out, `"outcome":"handed-back"`) != 1 {
		t.Fatalf("want one job completed and one handed back; log:\n%s", out)
	}
	if w.Ready() {
		t.Fatal("a stopped worker reports ready")
	}
	// The handed-back job is available again, its retries unchanged.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jobs, err := c.NewActivateJobsCommand().JobType(jobType).MaxJobsToActivate(10).Timeout(time.Minute).WorkerName("probe").Send(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].Retries != 3 {
		t.Fatalf("after the drain: %d jobs available (%v), want the handed-back one with 3 retries", len(jobs), err)
	}
}

// topologyGateway fails Topology a number of times before answering.
type topologyGateway struct {
	*fakeGateway
	mu       sync.Mutex
	failures int
}

func (g *topologyGateway) Topology(context.Context, *pb.TopologyRequest, ...grpc.CallOption) (*pb.TopologyResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failures > 0 {
		g.failures--
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	return &pb.TopologyResponse{GatewayVersion: "8.5.0"}, nil
}

func (g *topologyGateway) NewTopologyCommand() *commands.TopologyCommand {
	return commands.NewTopologyCommand(g, never)
}

// The gateway loops back off and log once per failure streak: a line when it starts, then one
// every tenth attempt.
func TestGatewayWaitLogsOncePerStreak(t *testing.T) {
	var log syncBuffer
	g := &topologyGateway{fakeGateway: &fakeGateway{}, failures: 25}
	w := &Worker{Gateway: g, Log: zerolog.New(&log), Streaming: "auto",
		newBackoff: func() *backoff.Backoff { return &backoff.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond} }}
	if !w.waitForGateway(context.Background()) {
		t.Fatal("8.5 should stream")
	}
	if n := strings.Count(log.String(), "Zeebe gateway not reachable"); n != 3 {
		t.Fatalf("%d log lines for 25 failures, want 3 (attempts 1, 11, 21):\n%s", n, log.String())
	}
	if !w.Ready() {
		t.Fatal("not ready after the gateway answered")
	}
}

// Polling several job types: each type's long poll takes only its share of the slots, so an
// idle type's poll, which holds its slots until it times out, never keeps another type's jobs
// waiting that long (the binary serves power-automate:1 and dataverse:1 side by side; before,
// an idle dataverse:1 poll could hold all 100 slots for its request timeout).
func TestPollingIdleTypeDoesNotStarveAnother(t *testing.T) {
	c := startEngine(t)
	const idle, busy = "loop-idle", "loop-busy"
	pid := deployTask(t, c, busy)
	g := newGate()
	close(g.release) // every job completes at once
	w := &Worker{Gateway: c, Handler: g, Types: []string{busy, idle}, Name: "w", MaxJobsActive: 100, JobTimeout: time.Minute,
		RequestTimeout: time.Minute, PollInterval: 50 * time.Millisecond, Streaming: "false", Grace: time.Second, Log: zerolog.Nop()}
	runWorker(t, w)
	// One at a time: after each job the two polls race for the freed slots again.
	for i := 0; i < 4; i++ {
		createN(t, c, pid, 1)
		select {
		case <-g.started:
		case <-time.After(15 * time.Second): // far under the idle poll's minute
			t.Fatalf("job %d of %s did not start while %s's poll was idle", i, busy, idle)
		}
	}
}
