package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// loadOptions configure one throughput run: N one-task instances created by concurrent
// creators while a job worker (raw pb.ActivateJobs, or StreamActivatedJobs with a poller
// alongside, as Zeebe's clients do) completes them.
type loadOptions struct {
	Addr       string
	ProcessID  string
	JobType    string
	N          int
	Sample     int // instances created WithResult after the N, their result checked
	Creators   int // CreateProcessInstance calls in flight
	Mode       string
	Pollers    int // ActivateJobs calls in flight (long polls)
	Batch      int // maxJobsToActivate
	MaxActive  int // jobs activated and not yet completed, at most (polls ask for what is free)
	Completers int // CompleteJob calls in flight
	Streams    int // StreamActivatedJobs streams (mode stream)
	Conns      int // gRPC connections, shared round robin by all of the above

	// OnStart runs just before the first create, OnDone just after the N-th completion: the
	// caller samples the engine's CPU and counters there.
	OnStart, OnDone func()
}

const (
	modePoll   = "poll"
	modeStream = "stream"
	jobTimeout = 5 * time.Minute // long enough that no job times out during a run
)

// loadResult is what a throughput run measured on the client side.
type loadResult struct {
	Elapsed     time.Duration   // first create → N-th completion
	ToActivate  []time.Duration // per instance: create sent → job received
	ToComplete  []time.Duration // per instance: create sent → CompleteJob OK
	SelfCPU     time.Duration   // the benchmark process's own CPU in that window
	ViaStream   int64
	ViaPoll     int64
	Polls       int64 // ActivateJobs calls made
	Refused     int64 // creates refused with RESOURCE_EXHAUSTED (and resent)
	Duplicates  int64 // jobs received a second time (must be 0)
	SampleOK    int   // WithResult instances whose result came back with their variables
	SampleAfter time.Duration
}

type instanceTimes struct {
	created, activated, completed atomic.Int64 // ns since the run's start; 0 = not yet
}

// runLoad runs one throughput run; any lost or failed job is an error.
func runLoad(ctx context.Context, o loadOptions) (*loadResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) { cancel(err) }

	conns := make([]pb.GatewayClient, o.Conns)
	for i := range conns {
		c, err := dial(o.Addr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		conns[i] = pb.NewGatewayClient(c)
	}
	client := func(i int) pb.GatewayClient { return conns[i%len(conns)] }

	total := o.N + o.Sample
	times := make([]instanceTimes, total)
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) + 1 }
	res := &loadResult{}

	var (
		inflight   atomic.Int64 // activated, not completed
		freed      = make(chan struct{}, 1)
		jobs       = make(chan *pb.ActivatedJob, total+1024)
		mainDone   atomic.Int64
		allDone    atomic.Int64
		mainClosed = make(chan struct{})
		allClosed  = make(chan struct{})
		lastEnd    atomic.Int64
	)
	received := func(j *pb.ActivatedJob, viaStream bool) {
		i, ok := variableI(j.Variables)
		if !ok || i < 0 || i >= total {
			fail(fmt.Errorf("job %d has unexpected variables %q", j.Key, j.Variables))
			return
		}
		if !times[i].activated.CompareAndSwap(0, now()) {
			atomic.AddInt64(&res.Duplicates, 1)
		}
		if viaStream {
			atomic.AddInt64(&res.ViaStream, 1)
		} else {
			atomic.AddInt64(&res.ViaPoll, 1)
		}
		inflight.Add(1)
		jobs <- j
	}

	var workers sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()

	// Completers.
	for g := 0; g < o.Completers; g++ {
		workers.Add(1)
		go func(cl pb.GatewayClient) {
			defer workers.Done()
			for {
				var j *pb.ActivatedJob
				select {
				case j = <-jobs:
				case <-wctx.Done():
					return
				}
				_, err := cl.CompleteJob(wctx, &pb.CompleteJobRequest{JobKey: j.Key})
				if err != nil {
					if wctx.Err() == nil {
						fail(fmt.Errorf("CompleteJob %d: %w", j.Key, err))
					}
					return
				}
				i, _ := variableI(j.Variables)
				t := now()
				times[i].completed.Store(t)
				inflight.Add(-1)
				select {
				case freed <- struct{}{}:
				default:
				}
				if i < o.N {
					if mainDone.Add(1) == int64(o.N) {
						lastEnd.Store(t)
						close(mainClosed)
					}
				}
				if allDone.Add(1) == int64(total) {
					close(allClosed)
				}
			}
		}(client(g))
	}

	// Pollers: ask for what is free of MaxActive (at most Batch), long polling 1 s.
	pollers := o.Pollers
	for g := 0; g < pollers; g++ {
		workers.Add(1)
		go func(cl pb.GatewayClient) {
			defer workers.Done()
			for wctx.Err() == nil {
				want := int64(o.MaxActive) - inflight.Load()
				if want < int64(o.Batch)/4 && want < int64(o.MaxActive)/4 {
					select {
					case <-freed:
					case <-time.After(5 * time.Millisecond):
					case <-wctx.Done():
						return
					}
					continue
				}
				if want > int64(o.Batch) {
					want = int64(o.Batch)
				}
				atomic.AddInt64(&res.Polls, 1)
				st, err := cl.ActivateJobs(wctx, &pb.ActivateJobsRequest{Type: o.JobType, Worker: "engine-bench",
					Timeout: jobTimeout.Milliseconds(), MaxJobsToActivate: int32(want), RequestTimeout: 1000,
					FetchVariable: []string{"i"}})
				if err != nil {
					if wctx.Err() == nil {
						fail(fmt.Errorf("ActivateJobs: %w", err))
					}
					return
				}
				for {
					r, err := st.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						if wctx.Err() == nil {
							fail(fmt.Errorf("ActivateJobs: %w", err))
						}
						return
					}
					for _, j := range r.Jobs {
						received(j, false)
					}
				}
			}
		}(client(g + 1))
	}

	// Job streams.
	if o.Mode == modeStream {
		opened := make(chan struct{}, o.Streams)
		for g := 0; g < o.Streams; g++ {
			workers.Add(1)
			go func(cl pb.GatewayClient) {
				defer workers.Done()
				st, err := cl.StreamActivatedJobs(wctx, &pb.StreamActivatedJobsRequest{Type: o.JobType, Worker: "engine-bench",
					Timeout: jobTimeout.Milliseconds(), FetchVariable: []string{"i"}}, grpc.WaitForReady(true))
				opened <- struct{}{}
				if err != nil {
					if wctx.Err() == nil {
						fail(fmt.Errorf("StreamActivatedJobs: %w", err))
					}
					return
				}
				for {
					j, err := st.Recv()
					if err != nil {
						if wctx.Err() == nil {
							fail(fmt.Errorf("StreamActivatedJobs: %w", err))
						}
						return
					}
					received(j, true)
				}
			}(client(g + 2))
		}
		for g := 0; g < o.Streams; g++ {
			<-opened
		}
		// The gateway registers a stream when its handler runs; give it that moment, outside
		// the measured window.
		time.Sleep(200 * time.Millisecond)
	}

	// Creators.
	if o.OnStart != nil {
		o.OnStart()
	}
	cpu0 := selfCPU()
	first := now()
	var next atomic.Int64
	var creators sync.WaitGroup
	for g := 0; g < o.Creators; g++ {
		creators.Add(1)
		go func(cl pb.GatewayClient) {
			defer creators.Done()
			buf := make([]byte, 0, 32)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.N {
					return
				}
				buf = strconv.AppendInt(append(buf[:0], `{"i":`...), int64(i), 10)
				buf = append(buf, '}')
				req := &pb.CreateProcessInstanceRequest{BpmnProcessId: o.ProcessID, Version: -1, Variables: string(buf)}
				times[i].created.Store(now())
				for {
					_, err := cl.CreateProcessInstance(ctx, req)
					if err == nil {
						break
					}
					if status.Code(err) == codes.ResourceExhausted {
						atomic.AddInt64(&res.Refused, 1)
						time.Sleep(time.Millisecond)
						continue
					}
					if ctx.Err() == nil {
						fail(fmt.Errorf("CreateProcessInstance: %w", err))
					}
					return
				}
			}
		}(client(g))
	}

	// Wait for the N completions; a stall of 60 s without progress fails the run.
	if err := waitProgress(ctx, mainClosed, &mainDone, 60*time.Second); err != nil {
		creators.Wait()
		return nil, fmt.Errorf("%w (created %d of %d, completed %d, activated and open %d)",
			err, min(next.Load(), int64(o.N)), o.N, mainDone.Load(), inflight.Load())
	}
	res.SelfCPU = selfCPU() - cpu0
	if o.OnDone != nil {
		o.OnDone()
	}
	res.Elapsed = time.Duration(lastEnd.Load() - first)
	creators.Wait()

	// Sample: instances created WithResult; they end only when the worker completed their job.
	if o.Sample > 0 {
		t0 := time.Now()
		ok, err := sampleWithResult(ctx, o, o.N)
		res.SampleOK = ok
		res.SampleAfter = time.Since(t0)
		if err != nil {
			return nil, err
		}
		if err := waitProgress(ctx, allClosed, &allDone, 30*time.Second); err != nil {
			return nil, fmt.Errorf("sample instances: %w", err)
		}
	}
	stopWorkers()
	workers.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if res.Duplicates > 0 {
		return nil, fmt.Errorf("%d jobs were received twice", res.Duplicates)
	}
	res.ToActivate = make([]time.Duration, o.N)
	res.ToComplete = make([]time.Duration, o.N)
	for i := 0; i < o.N; i++ {
		c, a, d := times[i].created.Load(), times[i].activated.Load(), times[i].completed.Load()
		if c == 0 || a == 0 || d == 0 {
			return nil, fmt.Errorf("instance %d: created %d, activated %d, completed %d (ns): lost", i, c, a, d)
		}
		res.ToActivate[i] = time.Duration(a - c)
		res.ToComplete[i] = time.Duration(d - c)
	}
	return res, nil
}

// waitProgress waits for done, failing when the counter stops moving for stall.
func waitProgress(ctx context.Context, done <-chan struct{}, counter *atomic.Int64, stall time.Duration) error {
	last, lastAt := counter.Load(), time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
			if n := counter.Load(); n != last {
				last, lastAt = n, time.Now()
			} else if time.Since(lastAt) > stall {
				return fmt.Errorf("no progress for %v", stall)
			}
		}
	}
}

// sampleWithResult creates o.Sample instances WithResult (official client) with i = from,
// from+1, ... and checks each result names its own i: the process completed.
func sampleWithResult(ctx context.Context, o loadOptions, from int) (int, error) {
	zc, err := newZB(o.Addr)
	if err != nil {
		return 0, err
	}
	defer zc.Close()
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, o.Sample)
	for k := 0; k < o.Sample; k++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd, err := zc.NewCreateInstanceCommand().BPMNProcessId(o.ProcessID).LatestVersion().
				VariablesFromString(fmt.Sprintf(`{"i":%d}`, i))
			if err != nil {
				errs <- err
				return
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			r, err := cmd.WithResult().FetchVariables("i").Send(sctx)
			if err != nil {
				errs <- fmt.Errorf("CreateProcessInstanceWithResult (i=%d): %w", i, err)
				return
			}
			if got, found := variableI(r.GetVariables()); !found || got != i {
				errs <- fmt.Errorf("CreateProcessInstanceWithResult (i=%d): result variables %q", i, r.GetVariables())
				return
			}
			ok.Add(1)
		}(from + k)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return int(ok.Load()), err
	}
	return int(ok.Load()), nil
}

// variableI reads i from a variables document {"i":123} (any position, no spaces needed).
func variableI(doc string) (int, bool) {
	k := strings.Index(doc, `"i":`)
	if k < 0 {
		return 0, false
	}
	s := strings.TrimLeft(doc[k+4:], " ")
	end := 0
	for end < len(s) && (s[end] == '-' || (s[end] >= '0' && s[end] <= '9')) {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	return n, err == nil
}
